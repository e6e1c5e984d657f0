package loop

import "github.com/iomux/iomux/internal/sock"

// Inbound returns how many received bytes are not yet consumed, also
// outside OnData (in a timer or a Post'ed function); Outbound is its
// counterpart for output.
func (c *Conn) Inbound() int { return len(c.view) }

// Peek returns the first n unconsumed bytes (all of them if n < 0 or fewer
// are buffered) without consuming them. The slice is valid until the
// handler returns; copy what you keep.
func (c *Conn) Peek(n int) []byte {
	if n < 0 || n > len(c.view) {
		n = len(c.view)
	}
	return c.view[:n:n]
}

// Next returns and consumes the first n unconsumed bytes (all if n < 0).
// Like Peek, the slice is valid until the handler returns.
func (c *Conn) Next(n int) []byte {
	p := c.Peek(n)
	c.view = c.view[len(p):]
	if c.flags&flagInputFull != 0 { // consumed outside OnData: read again
		c.checkInput()
	}
	return p
}

// checkInput stops reading while Options.MaxInput bytes of input wait
// unconsumed, and reads again once some are consumed.
func (c *Conn) checkInput() {
	limit := c.loop.srv.opts.MaxInput
	full := limit > 0 && len(c.view) >= limit
	if full == (c.flags&flagInputFull != 0) {
		return
	}
	c.flags ^= flagInputFull
	c.updateInterest()
	if !full {
		c.readResumed()
	}
}

// Discard consumes n bytes (all if n < 0) and returns how many it consumed.
func (c *Conn) Discard(n int) int {
	return len(c.Next(n))
}

// read makes one read(2) per readiness report: level-triggered Selectors
// report again if more is waiting, so draining to EAGAIN would only add a
// system call per message.
func (c *Conn) read() {
	if c.extra != nil && c.extra.spliced && c.spliceRead() {
		return
	}
	l := c.loop
	buf := l.buf
	if c.state == stateHandshaking {
		// A handshake holds what comes until it is done (a TLS 1.3 client
		// may send data the moment its own side is done): read no more
		// than it can take.
		room := c.extra.rare.transport.(Handshaker).HandshakeRoom()
		if room <= 0 {
			c.updateInterest()
			return
		}
		buf = buf[:min(len(buf), room)]
	}
	if limit := l.srv.opts.MaxInput; limit > 0 && limit-len(c.view) < len(buf) {
		buf = buf[:max(limit-len(c.view), 1)] // read no more than MaxInput holds
	}
	n, err := sock.Read(int(c.fd), buf)
	switch {
	case sock.WouldBlock(err):
		return
	case err != nil:
		c.closeWith(ioError(err))
		return
	case n == 0 && c.state == stateHandshaking:
		// The handshake, not the Handler, is told: it fails, or ends with
		// what came before the EOF, and OnEOF runs after OnOpen.
		c.flags |= flagEOF
		c.updateInterest()
		c.extra.rare.transport.(Handshaker).HandshakeEOF()
		return
	case n == 0:
		c.peerEOF()
		return
	}
	l.stats.BytesIn.Add(int64(n))
	if t := c.limitsIfSet(); t != nil {
		t.lastRead = l.now()
	}
	data := l.buf[:n]
	if l.observe != nil {
		l.observe(Event{Kind: EventRead, Loop: l, Conn: c, Data: data})
	}
	if c.transport() != nil {
		c.decode(data, false)
		if c.state == stateHandshaking {
			c.updateInterest() // no room left now?
		}
		return
	}
	borrowed := len(c.view) == 0
	if borrowed {
		c.view = data // zero-copy: the handler reads the loop's buffer
	} else {
		// Earlier input is waiting: move it to the front of c.in (it is a
		// suffix of c.in) and append the new bytes after it.
		c.in = append(c.in[:copy(c.in[:cap(c.in)], c.view)], data...)
		c.view = c.in
	}
	l.srv.handler.OnData(c)
	c.keepUnread(borrowed)
}

// peerEOF handles the end of the peer's stream: no more reading, and
// OnEOF (queued output is still sent).
func (c *Conn) peerEOF() {
	c.flags |= flagEOF
	c.toldEOF()
}

// toldEOF tells the Handler (and Observe) of the EOF flagEOF records.
func (c *Conn) toldEOF() {
	l := c.loop
	if l.observe != nil {
		l.observe(Event{Kind: EventEOF, Loop: l, Conn: c})
	}
	c.updateInterest()
	l.srv.onEOF(c)
}

// keepUnread runs after OnData. Outside OnData, c.view is the unconsumed
// input and always a suffix of c.in, so OnEOF, timers and AsyncOnData see
// it too. borrowed says c.view points into the loop's read buffer, which
// the next read reuses: leftovers are then copied into the connection's
// own buffer.
func (c *Conn) keepUnread(borrowed bool) {
	switch {
	case c.Closed():
		c.view = nil
		return
	case len(c.view) == 0:
		// All consumed: a burst's buffer is not kept for an idle conn.
		c.view = nil
		if cap(c.in) > 4<<10 {
			c.in = nil
		} else {
			c.in = c.in[:0]
		}
		if c.flags&flagInputFull == 0 {
			return
		}
	case borrowed:
		c.in = append(c.in[:0], c.view...)
		c.view = c.in
	}
	c.checkInput()
}
