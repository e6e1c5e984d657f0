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
	// Decode is given bytes read from the socket. It appends the
	// plaintext they complete to plain and returns the result; what it
	// cannot decode yet (half a record) it keeps for the next call. It may
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

// decode runs the connection's Transport on bytes read from the socket and
// leaves the plaintext they complete after the unconsumed input. It reports
// whether there is new plaintext and whether the peer ended the stream.
func (c *Conn) decode(data []byte) (more, eof bool) {
	t := c.extra.transport
	// The unconsumed input moves to the front of c.in (it is a suffix of
	// c.in), so the plaintext is appended after it without a copy.
	held := copy(c.in[:cap(c.in)], c.view)
	plain, err := t.Decode((*wire)(c), data, c.in[:held])
	if c.Closed() { // a handshake reply's write failed
		return false, false
	}
	c.in = plain
	c.view = plain
	switch {
	case err == nil:
	case isEOF(err):
		eof = true
	default:
		c.closeWith(err)
		return false, false
	}
	return len(plain) > held, eof
}
