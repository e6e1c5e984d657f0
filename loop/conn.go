package loop

import (
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"

	"github.com/iomux/iomux"
	"github.com/iomux/iomux/internal/sock"
)

// Errors a Conn's methods return or OnClose reports.
var (
	ErrClosed  = errors.New("loop: connection closed")
	ErrTimeout = errors.New("loop: timeout")
	// ErrQueueFull: AsyncWrite or Post found the queue at its bound
	// (Options.HighWater, Options.MaxPosts); nothing was queued.
	ErrQueueFull = errors.New("loop: queue full")
	// ErrReset is what the error of a connection the peer reset matches
	// (errors.Is; OnClose's, a Write's): ECONNRESET, or EPIPE for a write
	// after the reset. A proxy passes it on to the other end with Abort.
	ErrReset = errors.New("loop: connection reset by peer")
)

// resetError is the OS's error for a reset, matching ErrReset.
type resetError struct{ err error }

func (e resetError) Error() string        { return e.err.Error() }
func (e resetError) Unwrap() error        { return e.err }
func (e resetError) Is(target error) bool { return target == ErrReset }

// ioError is the error a failed read or write closes a connection with:
// err, matching ErrReset if it is a reset.
func ioError(err error) error {
	if sock.Reset(err) {
		return resetError{err}
	}
	return err
}

// connFlags are what a connection's state does not say: why the loop does
// not read it, whether its writing half is shut, and a mirror of what the
// Selector watches it for.
type connFlags uint8

const (
	// Why reading stopped; the connection is read while none is set.
	flagEOF        connFlags = 1 << iota // the peer shut down its writing half
	flagCongested                        // output past HighWater or the loop's MaxQueued share (OnPause)
	flagReadPaused                       // PauseRead, until ResumeRead
	flagInputFull                        // MaxInput unconsumed, until the handler consumes

	// The writing half: CloseWrite queues the FIN behind the output.
	flagFINPending // CloseWrite: no more writes; the FIN goes once the queue is sent
	flagFINSent    // the writing half is shut down

	// What the Selector watches the connection for now.
	flagWatchRead
	flagWatchWrite
)

// readStopped are the flags that each stop reading.
const readStopped = flagEOF | flagCongested | flagReadPaused | flagInputFull

// watching is what the Selector watches the connection for now (kept in
// flags, so that Conn stays in its size class).
func (c *Conn) watching() iomux.Events {
	var ev iomux.Events
	if c.flags&flagWatchRead != 0 {
		ev |= iomux.Readable
	}
	if c.flags&flagWatchWrite != 0 {
		ev |= iomux.Writable
	}
	return ev
}

func (c *Conn) setWatching(ev iomux.Events) {
	c.flags &^= flagWatchRead | flagWatchWrite
	if ev&iomux.Readable != 0 {
		c.flags |= flagWatchRead
	}
	if ev&iomux.Writable != 0 {
		c.flags |= flagWatchWrite
	}
}

// Conn is one TCP or Unix-domain connection owned by a Loop. Its methods
// must be called from that loop (inside Handler methods, timers and
// Post'ed functions), except AsyncWrite, AsyncWriteFunc, AsyncClose and
// AsyncOnData, which are safe from any goroutine.
//
// Its fields are ordered to fit the 144-byte size class on 64-bit systems
// (TestConnSize checks): an idle connection's memory is a headline figure
// (see README, Performance).
type Conn struct {
	loop *Loop
	// backlog is what AsyncWrite checks, from any goroutine: the bytes
	// queued for sending plus those of AsyncWrites not yet run on the
	// loop; closedBacklog (negative) once the connection is closed.
	backlog atomic.Int64

	view []byte // the unconsumed input: during OnData maybe the loop's buffer, else a suffix of in
	in   []byte // the connection's own input buffer
	out  []byte // queued output; out[head:] is still to send
	head int

	ctx   any
	extra *connExtra // what few connections need, allocated on first use

	fd    int32 // -1 once closed
	state connState
	flags connFlags
	peer  sock.Peer // the remote IP and port (zero for Unix sockets)
}

// closedBacklog marks a closed connection's backlog: negative, however
// many AsyncWrites still add to it.
const closedBacklog = -1 << 62

// connExtra holds what some connections need, allocated on first use,
// so an idle connection costs one 144-byte Conn: timeouts, a relay's
// link, and (behind rare, allocated apart) what fewer still need.
type connExtra struct {
	limits *limits // nil until a timeout or deadline is set
	// source is what SetSource set; holds counts the congested sinks whose
	// source this connection is (while above 0 it is not read).
	source  *Conn
	holds   int32
	dialed  bool      // for Dialed
	spliced bool      // Splice: the loop may splice its input to source, whose source it is
	rare    *connRare // nil until needed
}

// connRare is what few connections need: cached addresses, a Dial in
// progress, a Transport, AsyncWriteFunc's waiters.
type connRare struct {
	local, remote net.Addr
	transport     Transport
	// A Dial in progress: its callback (until OnOpen), the Transport to
	// make once connected, the stop of its context's watch, and the
	// timer of its DialOptions.Timeout.
	dialDone      func(*Conn, error)
	dialTransport func(Wire) Transport
	dialStop      func() bool
	dialTimer     *Timer
	// handshakeTimer is Options.HandshakeTimeout's, while a handshake runs.
	handshakeTimer *Timer
	// Wire.Send from other goroutines writes to the socket under sendMu,
	// which closeWith takes before the socket closes (sendGone).
	sendMu     sync.Mutex
	sendGone   bool // under sendMu: the socket is closed, fd may be another's
	sendPosted bool // under sendMu: a Send went through the loop, or the connection opened: the rest do too
	// written are AsyncWriteFunc's callbacks, each waiting until
	// sentFromQueue (bytes sent from the output queue, counted while
	// there are waiters) reaches its mark.
	written       []sentWaiter
	sentFromQueue int64
	// file is an AsyncSendFile's, until all of it is sent.
	file *fileSend
}

type sentWaiter struct {
	mark int64
	done func(*Conn, error)
}

// extraState returns the connection's connExtra, allocating it on first use.
func (c *Conn) extraState() *connExtra {
	if c.extra == nil {
		c.extra = &connExtra{}
	}
	return c.extra
}

// rareState returns the connection's connRare, allocating it (and its
// connExtra) on first use.
func (c *Conn) rareState() *connRare {
	x := c.extraState()
	if x.rare == nil {
		x.rare = &connRare{}
	}
	return x.rare
}

// rareIfSet returns the connection's connRare, nil if none was made.
func (c *Conn) rareIfSet() *connRare {
	if c.extra == nil {
		return nil
	}
	return c.extra.rare
}

// limitsIfSet returns the connection's limits, nil if none was ever set.
func (c *Conn) limitsIfSet() *limits {
	if c.extra == nil {
		return nil
	}
	return c.extra.limits
}

// Loop returns the loop that owns the connection.
func (c *Conn) Loop() *Loop { return c.loop }

// Fd returns the connection's file descriptor (-1 once closed).
func (c *Conn) Fd() int { return int(c.fd) }

// Context returns the value stored with SetContext.
func (c *Conn) Context() any { return c.ctx }

// SetContext stores a value with the connection (per-connection state).
func (c *Conn) SetContext(v any) { c.ctx = v }

// Closed reports whether the connection is closed.
func (c *Conn) Closed() bool { return c.state == stateClosed }

// EOF reports whether the peer has shut down its writing half.
func (c *Conn) EOF() bool { return c.flags&flagEOF != 0 }

// Congested reports whether the connection's queued output passed
// Options.HighWater (or its loop's share of Options.MaxQueued) and has not
// yet drained below LowWater: the loop does not read it meanwhile (see
// PauseHandler).
func (c *Conn) Congested() bool { return c.flags&flagCongested != 0 }

// PauseRead stops reading the connection until ResumeRead (input already
// buffered stays, for Peek and Next). It composes with the other reasons
// the loop stops reading (Congested, Options.MaxInput): the connection is
// read again only when none holds it. Writes, timeouts and Close go on as
// usual.
func (c *Conn) PauseRead() {
	c.flags |= flagReadPaused
	c.updateInterest()
}

// ResumeRead undoes PauseRead. Input buffered meanwhile is delivered: OnData runs for it after the
// running callback.
func (c *Conn) ResumeRead() {
	if c.flags&flagReadPaused == 0 {
		return
	}
	c.flags &^= flagReadPaused
	c.updateInterest()
	c.readResumed()
}

// ReadPaused reports whether PauseRead holds the connection.
func (c *Conn) ReadPaused() bool { return c.flags&flagReadPaused != 0 }

// LocalAddr returns the local address (nil if it cannot be known). It is
// looked up (getsockname) on first use, so in OnClose, after the socket is
// closed, it is nil unless it was asked for before: ask in OnOpen to keep it.
func (c *Conn) LocalAddr() net.Addr {
	x := c.rareState()
	if x.local == nil && c.fd >= 0 {
		x.local = sock.LocalAddr(int(c.fd), false)
	}
	return x.local
}

// RemoteAddr returns the peer's address, also in OnClose.
func (c *Conn) RemoteAddr() net.Addr {
	if a := c.peer.Addr(); a != nil {
		return a
	}
	x := c.rareState()
	if x.remote == nil && c.fd >= 0 {
		x.remote = sock.RemoteAddr(int(c.fd))
	}
	return x.remote
}

// Close sends what is queued (after the Transport's Shutdown, if there is
// one), then closes the connection; OnClose runs then. Further input is
// ignored. If the peer has not ended its side, the socket lingers after
// that, out of the Handler's sight: the FIN follows the data, and what the
// peer still sends is read and dropped until its EOF or
// Options.LingerTimeout, because closing a socket with unread input makes
// the kernel send a reset, which can destroy what is still on its way to
// the peer (a reply to a request it pipelined, an error before the rest of
// its input). A connection not yet open (a Dial's, or one whose handshake
// runs) closes at once. Safe to call more than once.
func (c *Conn) Close() error {
	switch c.state {
	case stateClosing, stateClosed:
		return nil
	case stateOpen:
	default:
		c.closeWith(nil)
		return nil
	}
	c.shutdownTransport()
	if c.Closed() {
		return nil
	}
	if c.Outbound() == 0 && !c.sendingFile() {
		c.closeAfterSend()
		return nil
	}
	c.state = stateClosing
	c.updateInterest()
	return nil
}

// CloseNow closes the connection at once, dropping queued output, with no
// lingering (see Close).
func (c *Conn) CloseNow() error {
	c.closeWith(nil)
	return nil
}

// Abort closes the connection at once with a reset (RST), not a FIN:
// queued output is dropped, and the peer's next read or write fails
// (ECONNRESET). It is for passing on a reset (a proxy whose other end was
// reset) or dropping a peer that misbehaves; Close is the orderly end,
// CloseNow the abrupt one that still ends with a FIN when nothing is left
// unread. OnClose runs with nil.
func (c *Conn) Abort() error {
	if c.Closed() {
		return nil
	}
	_ = sock.SetResetOnClose(int(c.fd)) // if it fails, the close is CloseNow's
	c.closeWith(nil)
	return nil
}

// Dialed reports whether the connection was dialed (Dial, DialAsync), not
// accepted.
func (c *Conn) Dialed() bool { return c.extra != nil && c.extra.dialed }

// CloseWrite half-closes: once queued output is sent (after the
// Transport's Shutdown, if there is one), the peer reads EOF, while the
// connection stays open for reading.
func (c *Conn) CloseWrite() error {
	if !c.writable() {
		return nil
	}
	c.shutdownTransport()
	if c.Closed() {
		return nil
	}
	c.flags |= flagFINPending
	if c.Outbound() == 0 && !c.sendingFile() {
		c.finishClose()
	}
	return nil
}

// shutdownTransport lets the Transport send the end of its stream, once,
// before the first of Close and CloseWrite takes effect.
func (c *Conn) shutdownTransport() {
	t := c.transport()
	if t == nil || c.flags&(flagFINPending|flagFINSent) != 0 {
		return
	}
	if err := t.Shutdown(); err != nil {
		c.closeWith(err)
	}
}

// writable reports whether the handler may still write: the connection is
// open, and neither Close nor CloseWrite was called.
func (c *Conn) writable() bool {
	return c.state == stateOpen && c.flags&(flagFINPending|flagFINSent) == 0
}

// AsyncWrite queues p for sending, from any goroutine; the loop writes it
// in order with the connection's other AsyncWrites. The Conn takes p and
// reads it later, so p must not change until it is written (see
// AsyncWriteFunc), but it may be shared: the same p given to many
// connections is not copied until a Write queues it. It fails, and p is
// not queued, with:
//   - ErrClosed once the connection is closed (one that closes before the
//     loop gets to p drops it);
//   - ErrQueueFull while the connection's backlog (output queued plus
//     AsyncWrites not yet written) is at Options.HighWater or above, or
//     while Options.MaxPosts functions wait for the loop (the loop is
//     behind). Slow down: AsyncWriteFunc says when the backlog is sent.
//
// One AsyncWrite may take the backlog past HighWater; so the bound is
// HighWater plus one buffer per writing goroutine (with no HighWater,
// only MaxPosts bounds it).
func (c *Conn) AsyncWrite(p []byte) error { return c.AsyncWriteFunc(p, nil) }

// AsyncWriteFunc is AsyncWrite with a callback: when it returned nil,
// done runs on the loop once p is written to the socket (err nil; p may be
// reused then), or with the reason the connection closed first (ErrClosed
// if none). An empty p is never refused for its size: done then says
// when everything queued before it is sent (the queue drained). done may
// be nil.
func (c *Conn) AsyncWriteFunc(p []byte, done func(c *Conn, err error)) error {
	n := int64(len(p))
	backlog := c.backlog.Add(n)
	if backlog < 0 {
		return ErrClosed
	}
	if hw := c.loop.srv.opts.HighWater; hw > 0 && n > 0 && backlog-n >= int64(hw) {
		c.backlog.Add(-n)
		c.loop.stats.Refused.Add(1)
		return ErrQueueFull
	}
	err := c.postForConn(func() {
		c.backlog.Add(-n)
		if c.Closed() {
			if done != nil {
				done(c, ErrClosed)
			}
			return
		}
		if _, err := c.Write(p); err != nil {
			if done != nil {
				done(c, err)
			}
			return
		}
		if done != nil {
			c.whenSent(done)
		}
	})
	if err != nil {
		c.backlog.Add(-n)
	}
	return err
}

// postForConn is Post for the connection's Async methods: a loop that has
// ended has closed the connection, which is what they report.
func (c *Conn) postForConn(fn func()) error {
	err := c.loop.Post(fn)
	if errors.Is(err, ErrServerClosed) {
		err = ErrClosed
	}
	return err
}

// AsyncClose closes the connection from any goroutine (after flushing);
// ErrClosed if it is closed already. It is not refused when the loop is
// behind.
func (c *Conn) AsyncClose() error {
	if c.backlog.Load() < 0 {
		return ErrClosed
	}
	if err := c.loop.post(func() { c.Close() }, false); err != nil {
		return ErrClosed
	}
	return nil
}

// AsyncOnData makes the loop call OnData for this connection, from any
// goroutine, with whatever input is buffered (possibly none): for a
// handler that left input unconsumed until something else happened. Like
// Post, it fails with ErrQueueFull when the loop is behind.
func (c *Conn) AsyncOnData() error {
	if c.backlog.Load() < 0 {
		return ErrClosed
	}
	return c.postForConn(func() {
		if c.state == stateOpen || c.state == stateClosing {
			c.loop.srv.handler.OnData(c)
			c.keepUnread(false)
		}
	})
}

// whenSent calls done (held: after the running callback) once everything
// queued now is sent, or with the error if the connection closes first.
func (c *Conn) whenSent(done func(*Conn, error)) {
	if c.Outbound() == 0 && !c.sendingFile() {
		c.loop.hold(heldDone, c, nil, done)
		return
	}
	x := c.rareState()
	x.written = append(x.written, sentWaiter{mark: x.sentFromQueue + int64(c.Outbound()), done: done})
}

// sentQueued is called when n queued bytes were sent: it runs the
// waiters whose bytes are all out.
func (c *Conn) sentQueued(n int) {
	x := c.extra.rare
	x.sentFromQueue += int64(n)
	i := 0
	for i < len(x.written) && x.written[i].mark <= x.sentFromQueue {
		c.loop.hold(heldDone, c, nil, x.written[i].done)
		i++
	}
	if i > 0 {
		x.written = x.written[:copy(x.written, x.written[i:])]
		clear(x.written[len(x.written) : len(x.written)+i])
		if len(x.written) == 0 && c.state == stateOpen && x.unused() {
			c.extra.rare = nil // an idle connection keeps none
		}
	}
}

// unused reports whether the record holds nothing but spent waiters (a
// connection's AsyncWriteFunc was its only use).
func (x *connRare) unused() bool {
	return x.local == nil && x.remote == nil && x.transport == nil && x.dialDone == nil && x.file == nil &&
		x.dialTransport == nil && x.dialStop == nil && x.dialTimer == nil && x.handshakeTimer == nil
}

func isEOF(err error) bool { return errors.Is(err, io.EOF) }
