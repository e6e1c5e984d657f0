package loop

import (
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"time"
)

// Balance says how a Server spreads accepted connections over its loops.
type Balance int

const (
	// BalanceByKernel gives each loop a listening socket of its own, in one
	// SO_REUSEPORT group, and the kernel spreads connections over them, with
	// no thundering herd. Where the OS does not balance such a group
	// (macOS, the BSDs, Windows) and for Unix sockets, it is RoundRobin.
	BalanceByKernel Balance = iota
	// RoundRobin: one loop accepts every connection and hands them to the
	// loops in turn.
	RoundRobin
	// LeastConnections: one loop accepts every connection and hands each
	// to the loop with the fewest.
	LeastConnections
)

var balanceNames = [...]string{BalanceByKernel: "by kernel", RoundRobin: "round robin", LeastConnections: "least connections"}

// String names the Balance.
func (b Balance) String() string {
	if b >= 0 && int(b) < len(balanceNames) {
		return balanceNames[b]
	}
	return fmt.Sprintf("Balance(%d)", int(b))
}

// Options configure a Server. One rule holds for every field: its zero
// value is its default, given with it, and a negative value is none (no
// bound, no timeout, off), for the fields where none makes sense; the
// others (Loops, ReadBufferSize, LowWater, the socket buffer sizes) must
// not be negative, and Start fails if one is. So the zero Options are a
// sane server: one loop per CPU on the best backend, balanced by the
// kernel where it can, TCP_NODELAY on, every queue bounded.
type Options struct {
	// Loops is the number of event loops, each one goroutine locked to an
	// OS thread with its own Selector. Default: runtime.GOMAXPROCS(0).
	Loops int
	// Backend names the Selector backend: "auto" (the default), "epoll",
	// "kqueue", "poll" or "select" (descriptors below 1024 only).
	Backend string
	// Balance is how accepted connections are spread over the loops.
	// Default BalanceByKernel.
	Balance Balance
	// ReadBufferSize is the size of each loop's read buffer. Default 64 KiB.
	ReadBufferSize int
	// Name tells this Server's Stats from other Servers' in the process
	// (AllStats). Default: its first Listen address as bound ("tcp
	// 127.0.0.1:8000"), else "loop".
	Name string
	// HighWater and LowWater are a connection's back-pressure marks: once
	// its queued output passes HighWater the loop stops reading that
	// connection (Conn.Congested, OnPause), so a client that sends
	// requests faster than it reads the replies is slowed; below LowWater
	// it reads again (OnResume). HighWater does not bound the queue: what
	// other connections or goroutines write to it (a broadcast) is still
	// queued, so for a Write from elsewhere check Outbound or Congested
	// first. AsyncWrite refuses at HighWater (ErrQueueFull). Defaults 1 MiB
	// and a quarter of HighWater; LowWater must be below HighWater.
	// Negative HighWater: no back-pressure.
	HighWater, LowWater int
	// MaxInput bounds a connection's unconsumed input: once that much is
	// buffered (left by OnData), the loop stops reading the connection
	// until the handler consumes some (Next, Discard), so the peer is
	// slowed by TCP, not dropped. A handler that waits for a frame larger
	// than MaxInput waits until a timeout: raise it, or close when
	// Inbound() reaches it. Over TLS it may be passed by one record (16
	// KiB) the session held undecoded. Default 1 MiB; negative: no bound.
	MaxInput int
	// MaxPosts bounds the functions waiting to run on each loop (Post,
	// AsyncWrite, AsyncOnData): past it they fail with ErrQueueFull.
	// Default 65536; negative: no bound.
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
	// IdleTimeout closes a connection with no reads or writes for this
	// long. Default none. Per-connection timeouts are set on Conn.
	IdleTimeout time.Duration
	// LingerTimeout bounds how long a socket that Close ended waits for
	// the peer's EOF, reading and dropping what it still sends, so that
	// the kernel does not reset what was sent (see Conn.Close); the socket
	// keeps its descriptor meanwhile. Default 2 s; negative: none (Close
	// closes the socket at once).
	LingerTimeout time.Duration
	// TCPDelay leaves Nagle's algorithm on (TCP_NODELAY is set by default).
	TCPDelay bool
	// KeepAlive enables TCP keep-alive probes at this period: the idle
	// time before the first probe and the interval between probes, in
	// whole seconds. Default off. OpenBSD has no per-socket setting for
	// them: there the probes are on, at the system's period.
	KeepAlive time.Duration
	// SocketReadBuffer and SocketWriteBuffer set SO_RCVBUF and SO_SNDBUF
	// on listening sockets before listen (accepted connections inherit
	// them, and the window scale is chosen from them), on UDP sockets, and
	// on Dial'ed sockets before connect. Default: the OS's.
	SocketReadBuffer, SocketWriteBuffer int
	// WaitTimeout bounds each Wait; when a Wait of that length finds
	// nothing, the Handler's OnWaitTimeout runs, if it is a
	// WaitTimeoutHandler, and Observe sees an EventIdle (a select loop
	// with a timeout, as in the Python select tutorials). Unlike a timer (Loop.Every), it runs only when
	// the loop was idle that long. Default none: Waits last until the next
	// event or timer. Below 1 ms it is 1 ms (a shorter one would keep the
	// loop busy doing nothing).
	WaitTimeout time.Duration
	// AcceptBatch bounds accepts per listener wake-up, so a storm of
	// connections cannot starve established ones. Default 64; negative:
	// accept until none waits.
	AcceptBatch int
	// Logger receives the loop's events as structured records: errors at
	// Warn (accept and wait failures, at most one line a second of each),
	// and at Debug "loop: connection opened" and "closed" (attributes
	// "loop", "addr", and "err" for closed), "paused" and "resumed"
	// ("queued"), "handshake failed", "loop: stop begun" and "ended".
	// Debug events are built only when the Logger takes them. Default
	// slog.Default().
	Logger *slog.Logger
	// Observe, when set, is called on the loop for every Event: each Wait,
	// idle Wait, connection opened, read, write, drained, EOF and close.
	// It must not block; the events are for tracing and tests (the
	// programs' -v). It changes nothing of what the loop does. Default
	// none: an event then costs one comparison.
	Observe func(Event)
	// Transport, when set, makes the Transport of each connection whose
	// listener (ListenTLS) or Dial (DialOptions.Transport) gives none; a
	// nil result leaves it plain. Default none: plain connections.
	Transport func(w Wire) Transport
	// HandshakeTimeout bounds a Transport's handshake (TLS's), from accept
	// or connect to its end, waiting for a turn included: a peer that
	// stalls holds its connection, and at most this long a slot of the
	// pool. Default 10 s; negative: none.
	HandshakeTimeout time.Duration
	// MaxHandshakes bounds the TLS handshakes running at once, each on a
	// goroutine of the Server's pool (there are none once a connection is
	// established); the others wait their turn. A server's handshake takes
	// a slot only once the client's first record is in: a client that
	// says nothing, or part of a record, holds none. Default 64; negative:
	// no bound (a goroutine per handshake).
	MaxHandshakes int
}

// errOptions is what Start's error wraps for Options that break the rule.
var errOptions = errors.New("loop: invalid Options")

// check reports the first field that breaks the Options' rule.
func (o Options) check() error {
	for _, f := range []struct {
		name  string
		value int
	}{
		{"Loops", o.Loops}, {"ReadBufferSize", o.ReadBufferSize}, {"LowWater", o.LowWater},
		{"SocketReadBuffer", o.SocketReadBuffer}, {"SocketWriteBuffer", o.SocketWriteBuffer},
	} {
		if f.value < 0 {
			return fmt.Errorf("%s is %d, and must not be negative: %w", f.name, f.value, errOptions)
		}
	}
	if o.HighWater > 0 && o.LowWater >= o.HighWater {
		return fmt.Errorf("LowWater (%d) must be below HighWater (%d): %w", o.LowWater, o.HighWater, errOptions)
	}
	if o.Balance < BalanceByKernel || o.Balance > LeastConnections {
		return fmt.Errorf("unknown Balance %d: %w", int(o.Balance), errOptions)
	}
	return nil
}

// withDefaults fills in the zero fields' defaults; check has passed.
func (o Options) withDefaults() Options {
	orDefault := func(v *int, def int) {
		if *v == 0 {
			*v = def
		}
	}
	orDefaultTime := func(v *time.Duration, def time.Duration) {
		if *v == 0 {
			*v = def
		}
	}
	orDefault(&o.Loops, runtime.GOMAXPROCS(0))
	orDefault(&o.ReadBufferSize, 64<<10)
	orDefault(&o.HighWater, 1<<20)
	if o.LowWater == 0 {
		o.LowWater = max(o.HighWater/4, 0)
	}
	orDefault(&o.MaxInput, 1<<20)
	orDefault(&o.MaxPosts, 1<<16)
	orDefault(&o.MaxQueued, 64<<20)
	orDefault(&o.AcceptBatch, 64)
	orDefault(&o.MaxHandshakes, 64)
	orDefaultTime(&o.WriteTimeout, 2*time.Minute)
	orDefaultTime(&o.HandshakeTimeout, 10*time.Second)
	orDefaultTime(&o.LingerTimeout, 2*time.Second)
	if o.Backend == "" {
		o.Backend = "auto"
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.WaitTimeout > 0 && o.WaitTimeout < time.Millisecond {
		o.WaitTimeout = time.Millisecond
	}
	return o
}
