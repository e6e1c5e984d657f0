package loop

import "github.com/iomux/iomux/internal/sock"

// Transport transforms a connection's byte stream between its socket and
// its Handler, which reads and writes plaintext through the same Peek,
// Next, Write and Close as on a plain connection while the socket carries
// the transport's wire form. TLS is one (ListenTLS, TLSClient). A factory
// makes one per connection, with the Wire it sends through: the
// listener's (ListenTLS), the Dial's (DialOptions.Transport), else
// Options.Transport.
//
// The loop calls a Transport on the connection's loop only, one call at a
// time. Back-pressure, timeouts and Outbound count the wire bytes queued
// for the socket. Close and CloseWrite call Shutdown first, then send what
// is queued before closing or half-closing the socket; CloseNow does not.
type Transport interface {
	// Decode is given bytes read from the socket (valid only during the
	// call; nil when the loop asks for plaintext the Transport holds
	// already, once a handshake is done). It appends the plaintext they
	// complete to plain and returns the result, keeping no reference to
	// plain (it may be the loop's buffer); what it cannot decode yet
	// (half a record) it keeps for the next call. It may send wire bytes
	// of its own (a handshake's reply). io.EOF says the peer ended the
	// stream (TLS's close_notify): the loop then delivers the plaintext
	// returned with it and treats the connection as at EOF. Any other
	// error closes the connection with that error.
	Decode(wire, plain []byte) ([]byte, error)
	// Encode sends the wire form of the plaintext p. An error closes the
	// connection with it.
	Encode(p []byte) error
	// Shutdown sends what ends the stream (TLS's close_notify).
	Shutdown() error
}

// Handshaker is a Transport with a handshake to finish before the
// connection opens, as TLS has. Once the socket is connected the loop
// calls StartHandshake; input goes to Decode as ever, and the connection
// opens (OnOpen, then a Dial's callback, then OnData for plaintext that
// came with the handshake's end) once the Transport calls Wire.Open. Until
// then the Handler hears nothing of it: a handshake that fails (Wire.Fail,
// an error from Decode), outlasts Options.HandshakeTimeout, or is cut
// short (the peer's reset, CloseNow, Stop) closes the connection with no
// OnOpen and no OnClose, counted in Stats.HandshakeErrors and reported as
// EventHandshakeFailed.
type Handshaker interface {
	Transport
	// StartHandshake begins the handshake, on the loop (a client's speaks
	// first).
	StartHandshake()
	// HandshakeRoom is how many more wire bytes the handshake can take
	// now: the loop reads no more than that, and at 0 stops reading until
	// the connection opens.
	HandshakeRoom() int
	// HandshakeEOF says the peer closed its side during the handshake:
	// it should fail, or end with what came. The handler's OnEOF comes
	// after OnOpen.
	HandshakeEOF()
	// AbortHandshake says the connection closed before it opened (err
	// says why): stop. Wire.Send writes nothing to the socket any more.
	AbortHandshake(err error)
}

// Wire is a Transport's hold on its connection: where its wire bytes go,
// and how it tells the loop that its handshake is done or failed. Its
// methods are for the connection's loop, except Send and Post.
type Wire struct{ c *Conn }

// Conn returns the connection the Wire belongs to.
func (w Wire) Conn() *Conn { return w.c }

// Write sends p on the socket, straight away or queued, as Conn.Write
// does on a plain connection. During a handshake it comes after what Send
// wrote before it, and every later Send goes through the loop, after it.
func (w Wire) Write(p []byte) (int, error) {
	c := w.c
	one := [1][]byte{p}
	if c.state == stateHandshaking {
		// A Send may be writing from another goroutine: wait for it to
		// finish, and send the later ones through the loop.
		x := c.extra.rare
		x.sendMu.Lock()
		x.sendPosted = true
		x.sendMu.Unlock()
	}
	return c.writeSocketOrQueue(one[:])
}

// Open says a Handshaker's handshake is done: the connection opens once
// the running call returns. It does nothing on a connection that is not
// handshaking (closed meanwhile).
func (w Wire) Open() { w.c.loop.hold(heldOpen, w.c, nil, nil) }

// Fail closes the connection with err: a failed handshake, or an error
// the Transport met outside Decode and Encode.
func (w Wire) Fail(err error) { w.c.closeWith(err) }

// Post runs fn on the connection's loop, from any goroutine: for a
// Transport's work off the loop (a handshake) to report back. Unlike
// Loop.Post it is not refused past Options.MaxPosts; it fails with
// ErrServerClosed once the loop has ended, which has closed the
// connection.
func (w Wire) Post(fn func()) error { return w.c.loop.post(fn, false) }

// Send writes p from any goroutine, for a handshake running off the loop.
// Until the connection opens the loop writes nothing else to the socket,
// so Send writes p straight to it when nothing is queued: a handshake's
// flight leaves as soon as it is made rather than when the loop next
// runs. What the socket does not take goes through the loop, and so does
// every Send after it and every Send once the connection is open, in
// order. Once the connection is closed it fails with ErrClosed. p may be
// reused when Send returns.
func (w Wire) Send(p []byte) error {
	c := w.c
	x := c.extra.rare // set before the Wire was made, never replaced
	x.sendMu.Lock()
	if x.sendGone {
		x.sendMu.Unlock()
		return ErrClosed
	}
	if !x.sendPosted {
		n, err := sock.Write(int(c.fd), p)
		switch {
		case err != nil && !sock.WouldBlock(err):
			x.sendMu.Unlock()
			return err // the Transport fails with it, and the loop closes c
		case n > 0:
			c.loop.stats.BytesOut.Add(int64(n))
			if c.loop.observe != nil {
				c.reportSent(p[:n])
			}
			p = p[n:]
		}
		if len(p) == 0 {
			x.sendMu.Unlock()
			return nil
		}
		x.sendPosted = true
	}
	x.sendMu.Unlock()
	rest := append([]byte(nil), p...)
	return w.Post(func() {
		if !c.Closed() {
			one := [1][]byte{rest}
			c.writeSocketOrQueue(one[:])
		}
	})
}

// reportSent tells Options.Observe, on the loop, of bytes Send wrote from
// another goroutine: tracing sees them, and changes nothing of how they
// are written.
func (c *Conn) reportSent(p []byte) {
	sent := append([]byte(nil), p...)
	_ = c.loop.post(func() {
		l := c.loop
		l.observe(Event{Kind: EventWrite, Loop: l, Conn: c, Data: sent})
	}, false)
}

// Transport returns the connection's Transport, nil on a plain connection.
func (c *Conn) Transport() Transport { return c.transport() }

func (c *Conn) transport() Transport {
	if c.extra == nil || c.extra.rare == nil {
		return nil
	}
	return c.extra.rare.transport
}

// decode runs the connection's Transport on bytes read from the socket
// (nil: on what it holds already) and calls OnData when they complete
// plaintext (deliverHeld: also when plaintext was buffered before, as it
// is when a handshake ends), and OnEOF when the Transport says the peer
// ended the stream. As on a plain connection, OnData reads the loop's own
// buffer when nothing was left unconsumed before (the plaintext is
// decoded into it), and what OnData leaves is kept in the connection's
// buffer. Before the connection opens, plaintext and EOF are kept for it.
func (c *Conn) decode(data []byte, deliverHeld bool) {
	l := c.loop
	open := c.state == stateOpen || c.state == stateClosing
	borrowed := open && len(c.view) == 0
	held := 0
	var base []byte
	if borrowed {
		if l.plain == nil {
			l.plain = make([]byte, 0, l.srv.opts.ReadBufferSize+16<<10)
		}
		base = l.plain[:0]
	} else {
		// The unconsumed input moves to the front of c.in (it is a
		// suffix of c.in), so the plaintext is appended after it.
		held = copy(c.in[:cap(c.in)], c.view)
		base = c.in[:held]
	}
	plain, err := c.extra.rare.transport.Decode(data, base)
	if c.Closed() { // a reply's write failed, or the Transport failed the connection
		return
	}
	if borrowed && cap(plain) > cap(l.plain) {
		l.plain = plain[:0] // the Transport grew it: keep the larger one
	}
	if !borrowed {
		c.in = plain
	}
	c.view = plain
	eof := false
	switch {
	case err == nil:
	case isEOF(err):
		eof = true
	default:
		c.closeWith(err)
		return
	}
	switch {
	case !open:
		c.checkInput() // kept for OnOpen's first OnData
		if eof {
			c.flags |= flagEOF
			c.updateInterest()
		}
		return
	case len(plain) > held || deliverHeld && len(plain) > 0:
		l.srv.handler.OnData(c)
		c.keepUnread(borrowed)
	case borrowed:
		c.view = nil // nothing new: hold no view of the loop's buffer
	}
	if eof && !c.Closed() {
		c.peerEOF()
	}
}
