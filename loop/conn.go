package loop

import (
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
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
)

type connFlags uint16

const (
	flagClosed      connFlags = 1 << iota // fd closed, OnClose ran
	flagEOF                               // peer shut down its writing half
	flagPaused                            // reading stopped by back-pressure
	flagClosing                           // Close: close once output drains
	flagShutWrite                         // CloseWrite: shut down once output drains
	flagWriteShut                         // our writing half is shut down
	flagConnecting                        // Dial in progress
	flagOpened                            // OnOpen ran: OnClose will too
	flagTransport                         // extra.transport is set
	flagHandshaking                       // a TLS handshake is running: OnOpen comes after it
	flagReadHeld                          // PauseRead: not read until ResumeRead
	flagInputFull                         // Options.MaxInput unconsumed: not read until consumed
	flagWatchRead                         // the Selector watches for readability
	flagWatchWrite                        // the Selector watches for writability
)

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
	flags connFlags
	peer  sock.Peer // the remote IP and port (zero for Unix sockets)
}

// closedBacklog marks a closed connection's backlog: negative, however
// many AsyncWrites still add to it.
const closedBacklog = -1 << 62

// connExtra holds a connection's rarely used state, so an idle connection
// costs one 144-byte Conn.
type connExtra struct {
	local, remote net.Addr
	limits        *limits            // nil until a timeout or deadline is set
	dialDone      func(*Conn, error) // set while a Dial is in progress
	transport     Transport          // set with flagTransport
	dialTLS       *tls.Config        // a DialTLS in progress: the handshake to run once connected
	// written are AsyncWriteFunc's callbacks, each waiting until
	// sentFromQueue (bytes sent from the output queue, counted while
	// there are waiters) reaches its mark.
	written       []sentWaiter
	sentFromQueue int64
}

type sentWaiter struct {
	mark int64
	done func(*Conn, error)
}

func (c *Conn) more() *connExtra {
	if c.extra == nil {
		c.extra = &connExtra{}
	}
	return c.extra
}

// limitsIfSet returns the connection's limits, nil if none was ever set.
func (c *Conn) limitsIfSet() *limits {
	if c.extra == nil {
		return nil
	}
	return c.extra.limits
}

func (c *Conn) dialing() func(*Conn, error) {
	if c.extra == nil {
		return nil
	}
	return c.extra.dialDone
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
func (c *Conn) Closed() bool { return c.flags&flagClosed != 0 }

// EOF reports whether the peer has shut down its writing half.
func (c *Conn) EOF() bool { return c.flags&flagEOF != 0 }

// Paused reports whether back-pressure stopped reading the connection.
func (c *Conn) Paused() bool { return c.flags&flagPaused != 0 }

// PauseRead stops reading the connection until ResumeRead (input already
// buffered stays, for Peek and Next). It composes with back-pressure's own
// pause: the connection is read again only when neither holds it. Writes,
// timeouts and Close go on as usual.
func (c *Conn) PauseRead() {
	c.flags |= flagReadHeld
	c.updateInterest()
}

// ResumeRead undoes PauseRead.
func (c *Conn) ResumeRead() {
	c.flags &^= flagReadHeld
	c.updateInterest()
}

// ReadPaused reports whether PauseRead holds the connection.
func (c *Conn) ReadPaused() bool { return c.flags&flagReadHeld != 0 }

// LocalAddr returns the local address (nil if it cannot be known). It is
// looked up (getsockname) on first use, so in OnClose, after the socket is
// closed, it is nil unless it was asked for before: ask in OnOpen to keep it.
func (c *Conn) LocalAddr() net.Addr {
	x := c.more()
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
	x := c.more()
	if x.remote == nil && c.fd >= 0 {
		x.remote = sock.RemoteAddr(int(c.fd))
	}
	return x.remote
}

// Close sends what is queued (after the Transport's Shutdown, if there is
// one), then closes the connection. Further input is ignored. Safe to call
// more than once.
func (c *Conn) Close() error {
	if c.flags&(flagClosed|flagClosing) != 0 {
		return nil
	}
	if c.flags&flagConnecting != 0 {
		c.closeWith(nil)
		return nil
	}
	c.shutdownTransport()
	if c.Closed() {
		return nil
	}
	if c.Outbound() == 0 {
		c.closeWith(nil)
		return nil
	}
	c.flags |= flagClosing
	c.updateInterest()
	return nil
}

// CloseNow closes the connection at once, dropping queued output.
func (c *Conn) CloseNow() error {
	c.closeWith(nil)
	return nil
}

// CloseWrite half-closes: once queued output is sent (after the
// Transport's Shutdown, if there is one), the peer reads EOF, while the
// connection stays open for reading.
func (c *Conn) CloseWrite() error {
	if c.flags&(flagClosed|flagClosing|flagWriteShut|flagShutWrite) != 0 {
		return nil
	}
	c.shutdownTransport()
	if c.Closed() {
		return nil
	}
	c.flags |= flagShutWrite
	if c.Outbound() == 0 {
		c.finishClose()
	}
	return nil
}

// shutdownTransport lets the Transport send the end of its stream, once,
// before the first of Close and CloseWrite takes effect.
func (c *Conn) shutdownTransport() {
	if c.flags&flagTransport == 0 || c.flags&(flagShutWrite|flagWriteShut) != 0 {
		return
	}
	if err := c.extra.transport.Shutdown((*wire)(c)); err != nil {
		c.closeWith(err)
	}
}

// closeWith closes the connection and reports err to OnClose, once.
func (c *Conn) closeWith(err error) {
	if c.flags&flagClosed != 0 {
		return
	}
	l := c.loop
	if c.flags&flagHandshaking != 0 {
		c.extra.transport.(*tlsTransport).abort(err)
	}
	var addr net.Addr // for the Debug event: asked before the socket goes
	debug := l.srv.debugOn()
	if debug {
		addr = c.RemoteAddr()
	}
	c.flags |= flagClosed
	c.backlog.Store(closedBacklog)
	if c.watching() != 0 {
		_ = l.unregister(int(c.fd))
		c.setWatching(0)
	}
	if c.flags&flagPaused != 0 {
		l.stats.paused.Add(-1)
	}
	l.stats.queued.Add(-int64(c.Outbound()))
	if t := c.limitsIfSet(); t != nil && t.timer != nil {
		t.timer.Stop()
	}
	l.forget(c)
	sock.Close(int(c.fd))
	c.fd = -1
	c.view, c.in, c.out, c.head = nil, nil, nil, 0
	if done := c.dialing(); done != nil { // a Dial that never connected: no OnOpen, no OnClose
		c.extra.dialDone = nil
		l.hold(heldDone, nil, errOrClosed(err), done)
		return
	}
	if c.extra != nil && len(c.extra.written) > 0 { // AsyncWriteFuncs whose bytes were not all sent
		for _, w := range c.extra.written {
			l.hold(heldDone, c, errOrClosed(err), w.done)
		}
		c.extra.written = nil
	}
	if c.flags&flagOpened == 0 {
		if c.flags&flagHandshaking != 0 {
			return // a TLS handshake that failed: counted in Stats.HandshakeErrors
		}
		// The Selector refused a connection just accepted (select past
		// FD_SETSIZE): the handler never had it, so it gets no OnClose
		// either, and the loop says why.
		l.stats.acceptErrors.Add(1)
		l.srv.warn(l, "register", "loop: connection dropped: the Selector cannot watch it",
			"addr", c.RemoteAddr(), "err", err)
		return
	}
	if debug {
		l.debug("loop: connection closed", slog.Any("addr", addr), slog.Any("err", err))
	}
	if l.observe != nil {
		l.observe(Event{Kind: EventClose, Loop: l, Conn: c, Err: err})
	}
	l.hold(heldClose, c, err, nil)
}

func errOrClosed(err error) error {
	if err == nil {
		return ErrClosed
	}
	return err
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
// HighWater plus one buffer per writing goroutine (with a negative
// HighWater, only MaxPosts bounds it).
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
		c.loop.stats.refused.Add(1)
		return ErrQueueFull
	}
	err := c.loop.Post(func() {
		c.backlog.Add(-n)
		if c.flags&flagClosed != 0 {
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
		if errors.Is(err, ErrServerClosed) {
			err = ErrClosed
		}
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
	err := c.loop.Post(func() {
		if c.flags&flagClosed == 0 {
			c.loop.srv.handler.OnData(c)
			c.keepUnread(false)
		}
	})
	if errors.Is(err, ErrServerClosed) {
		err = ErrClosed
	}
	return err
}

// whenSent calls done (held: after the running callback) once everything
// queued now is sent, or with the error if the connection closes first.
func (c *Conn) whenSent(done func(*Conn, error)) {
	if c.Outbound() == 0 {
		c.loop.hold(heldDone, c, nil, done)
		return
	}
	x := c.more()
	x.written = append(x.written, sentWaiter{mark: x.sentFromQueue + int64(c.Outbound()), done: done})
}

// sentQueued is called when n queued bytes were sent: it runs the
// waiters whose bytes are all out.
func (c *Conn) sentQueued(n int) {
	x := c.extra
	x.sentFromQueue += int64(n)
	i := 0
	for i < len(x.written) && x.written[i].mark <= x.sentFromQueue {
		c.loop.hold(heldDone, c, nil, x.written[i].done)
		i++
	}
	if i > 0 {
		x.written = x.written[:copy(x.written, x.written[i:])]
		clear(x.written[len(x.written) : len(x.written)+i])
	}
}

func isEOF(err error) bool { return errors.Is(err, io.EOF) }
