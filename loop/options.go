package loop

import (
	"log/slog"
	"runtime"
	"time"
)

// Balance says how a shared acceptor hands new connections to loops.
type Balance int

const (
	// RoundRobin hands connections to loops in turn.
	RoundRobin Balance = iota
	// LeastConnections hands each connection to the loop with the fewest.
	LeastConnections
)

// Options configure a Server. The zero value is a sane default for every
// field: one loop per CPU on the best backend, SO_REUSEPORT listeners on
// Linux, TCP_NODELAY on, back-pressure at 1 MiB.
type Options struct {
	// Loops is the number of event loops, each one goroutine locked to an
	// OS thread with its own Selector. Default: runtime.GOMAXPROCS(0).
	Loops int
	// Backend names the Selector backend: "auto" (default), "epoll",
	// "kqueue", "poll" or "select" (descriptors below 1024 only).
	Backend string
	// SharedAcceptor makes one loop accept every connection and hand it to
	// the others by Balance, instead of one SO_REUSEPORT listener per loop
	// (the default where the OS has SO_REUSEPORT; Unix sockets always share).
	SharedAcceptor bool
	// Balance picks the loop for each connection a shared acceptor accepts.
	Balance Balance
	// ReadBufferSize is the size of each loop's read buffer. Default 64 KiB.
	ReadBufferSize int
	// Name tells this Server's Stats (and its expvar entry) from other
	// Servers' in the process. Default: its first Listen address as bound
	// ("tcp 127.0.0.1:8000"), else "loop".
	Name string
	// HighWater and LowWater are a connection's back-pressure marks: once
	// its queued output passes HighWater the loop stops reading that
	// connection (OnPause), so a client that sends requests faster than it
	// reads the replies is slowed; below LowWater it reads again
	// (OnResume). HighWater does not bound the queue: what other
	// connections or goroutines write to it (a broadcast) is still queued,
	// so for a Write from elsewhere check Outbound or Paused first.
	// AsyncWrite refuses at HighWater (ErrQueueFull). Defaults 1 MiB and
	// 256 KiB; a negative HighWater disables back-pressure.
	HighWater, LowWater int
	// MaxInput bounds a connection's unconsumed input: once that much is
	// buffered (left by OnData), the loop stops reading the connection
	// until the handler consumes some (Next, Discard), so the peer is
	// slowed by TCP, not dropped. A handler that waits for a frame larger
	// than MaxInput waits until a timeout: raise it, or close when
	// Buffered() reaches it. Over TLS it may be passed by one record (16
	// KiB) the session held undecoded. Default 1 MiB; negative: no bound.
	MaxInput int
	// MaxPosts bounds the functions waiting to run on each loop (Post,
	// AsyncWrite, AsyncOnData): past it they fail with ErrQueueFull.
	// Default 65536.
	MaxPosts int
	// MaxQueued bounds the output queued across the Server's connections
	// (each loop takes an equal share): past it, a connection that queues
	// more stops being read (OnPause) until its own queue is sent. So
	// clients that never read hold about this much, plus a read buffer
	// each, however many they are, while clients that read are served.
	// Default 64 MiB; negative: no bound.
	MaxQueued int
	// WriteTimeout closes a connection whose queued output makes no
	// progress for this long (a peer that stopped reading): the default of
	// Conn.SetWriteTimeout, counted only while output is queued. Default
	// 2 minutes; negative: none.
	WriteTimeout time.Duration
	// TCPDelay leaves Nagle's algorithm on (TCP_NODELAY is set by default).
	TCPDelay bool
	// KeepAlive enables TCP keep-alive probes at this period (0: off): the
	// idle time before the first probe and the interval between probes,
	// in whole seconds. OpenBSD has no per-socket setting for them: there
	// the probes are on, at the system's period.
	KeepAlive time.Duration
	// SocketReadBuffer and SocketWriteBuffer set SO_RCVBUF and SO_SNDBUF
	// (0: the OS default) on listening sockets before listen (accepted
	// connections inherit them, and the window scale is chosen from them),
	// on UDP sockets, and on Dial'ed sockets before connect.
	SocketReadBuffer, SocketWriteBuffer int
	// IdleTimeout closes a connection with no reads or writes for this long
	// (0: never). Per-connection timeouts are set on Conn.
	IdleTimeout time.Duration
	// WaitTimeout bounds each Wait; when a Wait of that length finds
	// nothing, the handler's OnWaitTimeout runs (a select loop with a timeout,
	// as in the Python select tutorials). Unlike a timer (Loop.Every), it
	// runs only when the loop was idle that long. 0: Waits last until the
	// next event or timer; below 1 ms it is 1 ms (a shorter one would keep
	// the loop busy doing nothing).
	WaitTimeout time.Duration
	// AcceptBatch bounds accepts per listener wake-up, so a storm of
	// connections cannot starve established ones. Default 64.
	AcceptBatch int
	// OnLoopStart, when set, runs on each loop as it starts, before it
	// serves anything: where per-loop state is made (Loop.SetContext).
	OnLoopStart func(l *Loop)
	// Logger receives the loop's events as structured records: errors at
	// Warn (accept and wait failures, at most one line a second of each),
	// and at Debug "loop: connection opened" and "closed" (attributes
	// "loop", "addr", and "err" for closed), "paused" and "resumed"
	// ("queued"), "loop: stop begun" and "ended". Debug events are built
	// only when the Logger takes them. Default slog.Default().
	Logger *slog.Logger
	// Observe, when set, is called on the loop for every Event: each Wait,
	// idle Wait, connection opened, read, write, drained, EOF and close.
	// It must not block; the events are for tracing and tests (the
	// programs' -v). Unset, an event costs one comparison.
	Observe func(Event)
	// Transport, when set, is asked for each connection's Transport
	// (accepted or dialed, TLS ones aside), before OnOpen; nil leaves it
	// plain.
	Transport func(c *Conn) Transport
	// HandshakeTimeout bounds a TLS handshake (ListenTLS, DialTLS), from
	// accept or connect to its end, waiting for a turn included: a peer
	// that stalls holds its connection, and at most this long a slot of
	// the pool. Default 10 s.
	HandshakeTimeout time.Duration
	// MaxHandshakes bounds the TLS handshakes running at once, each on a
	// goroutine of the Server's pool (there are none once a connection is
	// established); the others wait their turn. A server's handshake takes
	// a slot only once the client's first record is in: a client that
	// says nothing, or part of a record, holds none. Default 64.
	MaxHandshakes int
}

func (o Options) withDefaults() Options {
	if o.Loops <= 0 {
		o.Loops = runtime.GOMAXPROCS(0)
	}
	if o.Backend == "" {
		o.Backend = "auto"
	}
	if o.ReadBufferSize <= 0 {
		o.ReadBufferSize = 64 << 10
	}
	if o.HighWater == 0 {
		o.HighWater = 1 << 20
	}
	if o.LowWater <= 0 || o.LowWater > o.HighWater {
		o.LowWater = max(o.HighWater/4, 0)
	}
	if o.MaxInput == 0 {
		o.MaxInput = 1 << 20
	}
	if o.MaxPosts <= 0 {
		o.MaxPosts = 1 << 16
	}
	if o.MaxQueued == 0 {
		o.MaxQueued = 64 << 20
	}
	if o.WriteTimeout == 0 {
		o.WriteTimeout = 2 * time.Minute
	}
	if o.AcceptBatch <= 0 {
		o.AcceptBatch = 64
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.WaitTimeout > 0 && o.WaitTimeout < time.Millisecond {
		o.WaitTimeout = time.Millisecond
	}
	if o.HandshakeTimeout <= 0 {
		o.HandshakeTimeout = 10 * time.Second
	}
	if o.MaxHandshakes <= 0 {
		o.MaxHandshakes = 64
	}
	return o
}
