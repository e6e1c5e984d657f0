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
)

// Conn is one TCP or Unix-domain connection owned by a Loop. Its methods
// must be called from that loop (inside Handler methods, timers and
// Post'ed functions), except AsyncWrite, AsyncClose and AsyncOnData, which
// are safe from any goroutine.
//
// Its fields are ordered to fit the 144-byte size class on 64-bit systems
// (TestConnSize checks): an idle connection's memory is a headline figure
// (see README, Performance).
type Conn struct {
	loop *Loop
	fd   int32       // -1 once closed
	gone atomic.Bool // closed: what AsyncWrite, AsyncClose and AsyncOnData check

	view []byte // the unconsumed input: during OnData maybe the loop's buffer, else a suffix of in
	in   []byte // the connection's own input buffer
	out  []byte // queued output; out[head:] is still to send
	head int

	ctx   any
	extra *connExtra // what few connections need, allocated on first use

	peer     sock.Peer // the remote IP and port (zero for Unix sockets)
	flags    connFlags
	interest iomux.Events // what the Selector watches now
}

// connExtra holds a connection's rarely used state, so an idle connection
// costs one 144-byte Conn.
type connExtra struct {
	local, remote net.Addr
	limits        *limits            // nil until a timeout or deadline is set
	dialDone      func(*Conn, error) // set while a Dial is in progress
	transport     Transport          // set with flagTransport
	dialTLS       *tls.Config        // a DialTLS in progress: the handshake to run once connected
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
	c.gone.Store(true)
	if c.interest != 0 {
		_ = l.unregister(int(c.fd))
		c.interest = 0
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
		if err == nil {
			err = ErrClosed
		}
		done(nil, err)
		return
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
	l.srv.handler.OnClose(c, err)
}

// AsyncWrite queues p for sending from any goroutine; the loop writes it in
// order with other AsyncWrites. The Conn takes ownership of p. It fails
// with ErrClosed on a connection already closed (one that closes before
// the loop gets to p drops it).
func (c *Conn) AsyncWrite(p []byte) error {
	if c.gone.Load() {
		return ErrClosed
	}
	return c.loop.Post(func() {
		if c.flags&flagClosed == 0 {
			c.Write(p)
		}
	})
}

// AsyncClose closes the connection from any goroutine (after flushing);
// ErrClosed if it is closed already.
func (c *Conn) AsyncClose() error {
	if c.gone.Load() {
		return ErrClosed
	}
	return c.loop.Post(func() { c.Close() })
}

// AsyncOnData makes the loop call OnData for this connection, from any
// goroutine, with whatever input is buffered (possibly none): for a
// handler that left input unconsumed until something else happened.
func (c *Conn) AsyncOnData() error {
	if c.gone.Load() {
		return ErrClosed
	}
	return c.loop.Post(func() {
		if c.flags&flagClosed == 0 {
			c.loop.srv.handler.OnData(c)
			c.keepUnread(false)
		}
	})
}

func isEOF(err error) bool { return errors.Is(err, io.EOF) }
