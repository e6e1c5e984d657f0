package loop

import (
	"errors"
	"fmt"
	"log/slog"
	"net"

	"github.com/iomux/iomux/internal/sock"
)

// A connection's life, one transition per function: adopt (loop.go) makes
// it, connected gives it its Transport, open runs OnOpen, closeWith ends
// it. Accepted: new → (handshaking →) open → (closing →) closed; dialed:
// connecting → (handshaking →) open → … Any state may go straight to
// closed.

// connState is where a connection is in its life. It only moves forward,
// and OnOpen runs at exactly one transition, into stateOpen (Conn.open).
type connState uint8

const (
	stateNew         connState = iota // accepted, its Transport not yet made
	stateConnecting                   // a Dial waits for its connect
	stateHandshaking                  // its Transport's handshake runs (Handshaker): OnOpen comes after it
	stateOpen                         // OnOpen ran: OnClose will
	stateClosing                      // Close: it closes once its queue is sent
	stateClosed                       // the socket is closed
)

// ErrHandshakeTimeout is the error of a Transport's handshake (TLS's) that
// took longer than Options.HandshakeTimeout.
var ErrHandshakeTimeout = errors.New("loop: handshake timed out")

// connected runs once the socket is connected (accepted, or a Dial's
// connect done): the connection gets its Transport from newTransport (nil:
// Options.Transport), then opens, or starts the Transport's handshake if
// it is a Handshaker.
func (c *Conn) connected(newTransport func(Wire) Transport) {
	l := c.loop
	if newTransport == nil {
		newTransport = l.srv.opts.Transport
	}
	if newTransport != nil {
		x := c.rareState() // before the Wire is made: Wire.Send reads it from other goroutines
		x.transport = newTransport(Wire{c})
	}
	h, ok := c.transport().(Handshaker)
	if !ok {
		c.open()
		return
	}
	c.state = stateHandshaking
	l.stats.Handshaking.Add(1)
	if d := l.srv.opts.HandshakeTimeout; d > 0 {
		c.extra.rare.handshakeTimer = l.AfterFunc(d, func() {
			if c.state == stateHandshaking {
				c.closeWith(fmt.Errorf("after %v: %w", d, ErrHandshakeTimeout))
			}
		})
	}
	c.updateInterest()
	if !c.Closed() {
		h.StartHandshake()
	}
}

// open is the one transition into stateOpen, from connected (no
// handshake) or Wire.Open (the handshake is done): OnOpen, then a Dial's
// callback, then what came during the handshake (plaintext, the peer's
// EOF).
func (c *Conn) open() {
	l := c.loop
	handshook := c.state == stateHandshaking
	if handshook {
		c.endHandshake()
		l.stats.Handshakes.Add(1)
	}
	c.state = stateOpen
	var done func(*Conn, error)
	if x := c.rareIfSet(); x != nil {
		done, x.dialDone = x.dialDone, nil
		x.dialBounded()
		if x.transport != nil {
			x.sendMu.Lock()
			x.sendPosted = true // the loop writes now: Wire.Send goes through it
			x.sendMu.Unlock()
		} else if x.local == nil && x.remote == nil && len(x.written) == 0 {
			c.extra.rare = nil // a Dial's state, no longer needed: an idle connection keeps none
		}
	}
	c.updateInterest() // reading may have stopped while a handshake held input
	if c.limitsIfSet() != nil {
		c.armTimeouts()
	}
	if c.Closed() {
		if done != nil {
			done(nil, ErrClosed)
		}
		return
	}
	c.runOnOpen()
	if done != nil {
		if c.Closed() {
			done(nil, ErrClosed)
			return
		}
		done(c, nil)
	}
	if !handshook || c.Closed() {
		return
	}
	// Plaintext may have come with the end of the handshake: decoded
	// already, or still held by the Transport.
	c.decode(nil, true)
	if c.flags&flagEOF != 0 && !c.Closed() { // the peer closed during the handshake
		c.toldEOF()
	}
}

// runOnOpen announces the open connection to the handler.
func (c *Conn) runOnOpen() {
	l := c.loop
	defer l.recovered(c)
	if l.srv.debugOn() {
		l.debug("loop: connection opened", slog.Any("addr", c.RemoteAddr()))
	}
	if l.observe != nil {
		l.observe(Event{Kind: EventOpen, Loop: l, Conn: c})
	}
	l.srv.handler.OnOpen(c)
}

// endHandshake stops the handshake's timer and count, done or failed.
func (c *Conn) endHandshake() {
	l := c.loop
	l.stats.Handshaking.Add(-1)
	if t := c.extra.rare.handshakeTimer; t != nil {
		t.Stop()
		c.extra.rare.handshakeTimer = nil // an idle connection keeps no timer
	}
}

// handshakeFailed is closeWith's part for a connection whose handshake
// ran: the Handshaker stops, and the failure is counted and told.
func (c *Conn) handshakeFailed(err error) {
	l := c.loop
	c.endHandshake()
	l.stats.HandshakeErrors.Add(1)
	c.extra.rare.transport.(Handshaker).AbortHandshake(err)
	if l.srv.debugOn() {
		l.debug("loop: handshake failed", slog.Any("addr", c.RemoteAddr()), slog.Any("err", err))
	}
	if l.observe != nil {
		l.observe(Event{Kind: EventHandshakeFailed, Loop: l, Conn: c, Err: err})
	}
}

// closeWith closes the connection and reports err to OnClose, once; a
// connection that never opened gets no OnClose (see Handler.OnClose).
func (c *Conn) closeWith(err error) { c.end(err, false) }

// closeAfterSend ends a Close once everything queued is sent: the socket
// lingers if the peer may still send (see Close).
func (c *Conn) closeAfterSend() {
	c.end(nil, c.flags&flagEOF == 0 && c.loop.srv.opts.LingerTimeout > 0)
}

// end is closeWith; linger hands the socket to a lingerer instead of
// closing it.
func (c *Conn) end(err error, linger bool) {
	was := c.state
	if was == stateClosed {
		return
	}
	l := c.loop
	var addr net.Addr // for the Debug event: asked before the socket goes
	debug := l.srv.debugOn()
	if debug {
		addr = c.RemoteAddr()
	}
	x := c.rareIfSet()
	if x != nil && x.transport != nil {
		x.sendMu.Lock()
		x.sendGone = true // Wire.Send must not write to the socket closed next
		x.sendMu.Unlock()
	}
	c.state = stateClosed
	c.backlog.Store(closedBacklog)
	if c.watching() != 0 {
		_ = l.unregister(int(c.fd))
		c.setWatching(0)
	}
	if c.flags&flagCongested != 0 {
		l.stats.Congested.Add(-1)
		c.Source().hold(l, -1)
	}
	l.stats.Queued.Add(-int64(c.Outbound()))
	if t := c.limitsIfSet(); t != nil && t.timer != nil {
		t.timer.Stop()
	}
	if was == stateHandshaking {
		c.handshakeFailed(err)
	}
	l.forget(c)
	if linger {
		l.linger(int(c.fd))
	} else {
		sock.Close(int(c.fd))
	}
	c.fd = -1
	c.view, c.in, c.out, c.head = nil, nil, nil, 0
	c.spliceQueued()
	if x != nil {
		x.dialBounded()
	}
	if x != nil && x.dialDone != nil { // a Dial that never opened: no OnOpen, no OnClose
		done := x.dialDone
		x.dialDone = nil
		l.hold(heldDone, nil, errOrClosed(err), done)
		return
	}
	if x != nil {
		x.endFile(l, c, errOrClosed(err)) // an AsyncSendFile not all sent
	}
	if x != nil && len(x.written) > 0 { // AsyncWriteFuncs whose bytes were not all sent
		for _, w := range x.written {
			l.hold(heldDone, c, errOrClosed(err), w.done)
		}
		x.written = nil
	}
	switch was {
	case stateHandshaking:
		return // counted in Stats.HandshakeErrors
	case stateNew:
		// The Selector refused a connection just accepted (select past
		// FD_SETSIZE): the handler never had it, so it gets no OnClose
		// either, and the loop says why.
		l.stats.AcceptErrors.Add(1)
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
