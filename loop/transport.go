package loop

// Transport transforms a connection's byte stream between its socket and
// its Handler, which reads and writes plaintext through the same Peek,
// Next, Write and Close as on a plain connection while the socket carries
// the transport's wire form. TLS is the transport this seam is for; set
// one with Options.Transport.
//
// The loop calls a Transport on the connection's loop only, one call at a
// time. Back-pressure, timeouts and Outbound count the wire bytes queued
// for the socket. Close and CloseWrite call Shutdown first, then send what
// is queued before closing or half-closing the socket; CloseNow does not.
type Transport interface {
	// Decode is given bytes read from the socket (valid only during the
	// call). It appends the plaintext they complete to plain and returns
	// the result, keeping no reference to plain (it may be the loop's
	// buffer); what it cannot decode yet (half a record) it keeps for the
	// next call. It may
	// send wire bytes of its own through w (a handshake's reply). io.EOF
	// says the peer ended the stream (TLS's close_notify): the loop then
	// delivers the plaintext returned with it and treats the connection
	// as at EOF. Any other error closes the connection with that error.
	Decode(w Wire, wire, plain []byte) ([]byte, error)
	// Encode sends the wire form of the plaintext p through w. An error
	// closes the connection with it.
	Encode(w Wire, p []byte) error
	// Shutdown sends what ends the stream (TLS's close_notify) through w.
	Shutdown(w Wire) error
}

// Wire is how a Transport sends wire bytes: Write sends p on the socket,
// straight away or queued, as Conn.Write does on a plain connection.
type Wire interface {
	Write(p []byte) (int, error)
}

// wire is a Conn seen by its Transport: its Write goes to the socket.
type wire Conn

func (w *wire) Write(p []byte) (int, error) { return (*Conn)(w).writeSocketOrQueue(p) }

// Transport returns the connection's Transport, nil on a plain connection.
func (c *Conn) Transport() Transport {
	if c.flags&flagTransport == 0 {
		return nil
	}
	return c.extra.transport
}

// decode runs the connection's Transport on bytes read from the socket
// (nil: on what it holds already), calls OnData when they complete
// plaintext, and OnEOF when the Transport says the peer ended the stream.
// As on a plain connection, OnData reads the loop's own buffer when
// nothing was left unconsumed before (the plaintext is decoded into it),
// and what OnData leaves is kept in the connection's buffer.
func (c *Conn) decode(data []byte) {
	l := c.loop
	borrowed := len(c.view) == 0
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
	plain, err := c.extra.transport.Decode((*wire)(c), data, base)
	if c.Closed() { // a handshake reply's write failed
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
	if len(plain) > held {
		l.srv.handler.OnData(c)
		c.keepUnread(borrowed)
	} else if borrowed {
		c.view = nil // nothing new: hold no view of the loop's buffer
	}
	if eof && !c.Closed() {
		c.peerEOF()
	}
}
