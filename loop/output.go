package loop

import (
	"log/slog"

	"github.com/iomux/iomux"
	"github.com/iomux/iomux/internal/sock"
)

// Outbound returns how many bytes are queued for sending (wire bytes, with
// a Transport).
func (c *Conn) Outbound() int { return len(c.out) - c.head }

// Write sends p: straight to the socket when nothing is queued (the steady
// state, with no Selector call), the rest queued with write interest until
// it drains. It never blocks and keeps no reference to p: p may be reused
// or changed once it returns. With a Transport, p goes through its Encode.
// On a closed connection (or after Close or CloseWrite) it returns
// ErrClosed; a write that fails (a reset) closes the connection and
// returns the error, and OnClose runs after the callback that wrote. Past
// HighWater the connection is Congested (at once; OnPause after the
// callback); the bytes are queued all the same.
func (c *Conn) Write(p []byte) (int, error) {
	one := [1][]byte{p} // on the stack: no allocation per Write
	return c.Writev(one[:])
}

// Writev sends several buffers, with one writev(2) when nothing is queued
// and there are several, queuing what the socket does not take. With a
// Transport, each goes through its Encode, in order.
func (c *Conn) Writev(bufs [][]byte) (int, error) {
	if !c.writable() {
		return 0, ErrClosed
	}
	if t := c.transport(); t != nil {
		total := 0
		for _, b := range bufs {
			if err := t.Encode(b); err != nil {
				c.closeWith(err)
				return total, err
			}
			if c.Closed() { // the wire write failed, and the Transport did not say
				return total, ErrClosed
			}
			total += len(b)
		}
		return total, nil
	}
	return c.writeSocketOrQueue(bufs)
}

// writeSocketOrQueue is Writev without a Transport, and a Transport's
// Wire: the bytes go to the socket at once (one write(2), or writev(2) for
// several buffers) while nothing is queued, and what it does not take is
// queued.
func (c *Conn) writeSocketOrQueue(bufs [][]byte) (int, error) {
	if c.Closed() || c.flags&flagFINSent != 0 {
		return 0, ErrClosed
	}
	total := 0
	for _, b := range bufs {
		total += len(b)
	}
	sent := 0
	if c.Outbound() == 0 && c.state != stateConnecting && total > 0 && !c.sendingFile() {
		var n int
		var err error
		if len(bufs) == 1 {
			n, err = sock.Write(int(c.fd), bufs[0]) // no iovec for the common case
		} else {
			n, err = c.loop.iov.Writev(int(c.fd), bufs)
		}
		if n, err = ignoreWouldBlock(n, err); err != nil {
			err = ioError(err)
			c.closeWith(err)
			return 0, err
		}
		c.wrote(n, bufs...)
		sent = n
	}
	for _, b := range bufs {
		if sent >= len(b) {
			sent -= len(b)
			continue
		}
		c.queue(b[sent:])
		sent = 0
	}
	if c.Outbound() == 0 && total > 0 {
		c.emptied()
	}
	return total, nil
}

// ignoreWouldBlock filters the result of a write(2) or writev(2): EAGAIN
// is not an error, just nothing written.
func ignoreWouldBlock(n int, err error) (int, error) {
	if err != nil {
		if sock.WouldBlock(err) {
			return 0, nil
		}
		return 0, err
	}
	return n, nil
}

// wrote accounts for n bytes of bufs sent: they count as output and as
// write activity for timeouts, and are reported to Options.Observe.
func (c *Conn) wrote(n int, bufs ...[]byte) {
	if n == 0 {
		return
	}
	l := c.loop
	l.stats.BytesOut.Add(int64(n))
	if l.observe != nil {
		for rest, i := n, 0; rest > 0 && i < len(bufs); i++ {
			if k := min(rest, len(bufs[i])); k > 0 { // an empty buffer sends nothing
				l.observe(Event{Kind: EventWrite, Loop: l, Conn: c, Data: bufs[i][:k]})
				rest -= k
			}
		}
	}
	if t := c.limitsIfSet(); t != nil {
		t.wrote(l.now())
	}
}

// emptied reports that nothing is left to send.
func (c *Conn) emptied() {
	if l := c.loop; l.observe != nil {
		l.observe(Event{Kind: EventDrain, Loop: l, Conn: c})
	}
}

// queue copies p into the output queue, asks for writability when the
// queue was empty, and pauses reading above the high-water mark.
func (c *Conn) queue(p []byte) {
	if len(p) == 0 {
		return
	}
	if c.head > 0 && c.head == len(c.out) {
		c.out, c.head = c.out[:0], 0
	}
	l := c.loop
	started := c.Outbound() == 0
	if started {
		c.startWriteClock()
	}
	if len(c.out)+len(p) > cap(c.out) {
		c.grow(len(p))
	}
	c.out = append(c.out, p...)
	if started {
		c.spliceQueued()
	}
	l.stats.Queued.Add(int64(len(p)))
	c.backlog.Add(int64(len(p)))
	hw := l.srv.opts.HighWater
	if (hw > 0 && c.Outbound() > hw || l.overBudget()) && c.flags&flagCongested == 0 {
		c.flags |= flagCongested
		c.loop.stats.Congested.Add(1)
		c.Source().hold(l, 1) // a relay's sink: its source waits, not c
		if c.loop.srv.debugOn() {
			c.loop.debug("loop: connection paused", slog.Any("addr", c.RemoteAddr()), slog.Int("queued", c.Outbound()))
		}
		l.hold(heldPause, c, nil, nil) // after the callback that wrote
	}
	c.updateInterest()
}

// grow makes room for n more queued bytes, dropping the part already sent:
// in place when that is enough, else in a buffer of twice the size, where
// append would grow a large one by a quarter: a queue filling towards
// HighWater (a slow reader) then leaves half the garbage behind and needs
// half the copies. It stops doubling at HighWater plus one read buffer,
// what an echoing connection holds when it pauses, so the buffer a paused
// connection keeps is not larger either.
func (c *Conn) grow(n int) {
	opts := &c.loop.srv.opts
	need := c.Outbound() + n
	if need <= cap(c.out) { // the part already sent makes room: no new buffer
		rest := copy(c.out[:cap(c.out)], c.out[c.head:])
		c.out, c.head = c.out[:rest], 0
		return
	}
	size := max(2*cap(c.out), need)
	if limit := opts.HighWater + opts.ReadBufferSize; opts.HighWater > 0 && need <= limit {
		size = min(size, limit)
	}
	out := make([]byte, c.Outbound(), size)
	copy(out, c.out[c.head:])
	c.out, c.head = out, 0
}

// flush sends queued output after the Selector reported writability.
func (c *Conn) flush() {
	if c.sendingFile() {
		c.sendFileNow() // and the queue after it
		return
	}
	if c.Outbound() == 0 {
		c.updateInterest()
		return
	}
	pending := c.out[c.head:]
	n, err := ignoreWouldBlock(sock.Write(int(c.fd), pending))
	if err != nil {
		c.closeWith(ioError(err))
		return
	}
	c.wrote(n, pending)
	c.head += n
	c.loop.stats.Queued.Add(-int64(n))
	c.backlog.Add(-int64(n))
	if x := c.rareIfSet(); x != nil && len(x.written) > 0 {
		c.sentQueued(n)
	}
	if c.head > 0 && c.head >= len(c.out)/2 { // reclaim the sent half
		rest := copy(c.out, c.out[c.head:])
		c.out, c.head = c.out[:rest], 0
	}
	left := c.Outbound()
	if left == 0 {
		if cap(c.out) > 64<<10 {
			c.out = nil // a burst's buffer is not kept for an idle connection
		} else {
			c.out = c.out[:0]
		}
		c.head = 0
		c.emptied()
	}
	// Congested by the loop's budget, a connection resumes once its own queue
	// is sent: a client that reads is served however full the loop is.
	if c.flags&flagCongested != 0 && left <= c.loop.srv.opts.LowWater && (left == 0 || !c.loop.overBudget()) {
		c.flags &^= flagCongested
		c.loop.stats.Congested.Add(-1)
		c.Source().hold(c.loop, -1)
		if c.loop.srv.debugOn() {
			c.loop.debug("loop: connection resumed", slog.Any("addr", c.RemoteAddr()), slog.Int("queued", left))
		}
		c.loop.hold(heldResume, c, nil, nil)
		c.readResumed() // its OnData runs after this callback, once interest is updated below
	}
	if left == 0 {
		c.spliceQueued()
		c.finishClose()
	}
	c.updateInterest()
}

// finishClose completes a Close or CloseWrite that waited for the queue.
func (c *Conn) finishClose() {
	switch {
	case c.state == stateClosing:
		c.closeAfterSend()
	case c.flags&flagFINPending != 0:
		c.flags = c.flags&^flagFINPending | flagFINSent
		if err := sock.CloseWrite(int(c.fd)); err != nil {
			c.closeWith(err)
		}
	}
}

// updateInterest tells the Selector what the connection waits for now; it
// makes a system call only when that changes, never per message.
func (c *Conn) updateInterest() {
	if c.Closed() {
		return
	}
	var want iomux.Events
	if c.wantsInput() {
		want |= iomux.Readable
	}
	if c.Outbound() > 0 || c.state == stateConnecting || c.sendingFile() {
		want |= iomux.Writable
	}
	if want == c.watching() {
		return
	}
	var err error
	switch {
	case want == 0:
		err = c.loop.unregister(int(c.fd))
	case c.watching() == 0:
		err = c.loop.register(int(c.fd), want, c)
	default:
		err = c.loop.modify(int(c.fd), want, c)
	}
	if err != nil {
		c.setWatching(0)
		c.closeWith(err)
		return
	}
	c.setWatching(want)
}

// wantsInput reports whether the loop reads the connection now: it is
// accepted, open or handshaking (with room for more), and nothing stopped
// reading it (see connFlags; and a source is not read while a sink of its
// is congested).
func (c *Conn) wantsInput() bool {
	stopped := c.flags & readStopped
	if x := c.extra; x != nil {
		if x.source != nil {
			stopped &^= flagCongested // a relay's sink: its source waits instead
		}
		if x.holds > 0 {
			return false // a source whose sink is congested
		}
		if x.spliced && x.source.Outbound() > 0 {
			return false // a spliced source waits for its sink's queue (see Splice)
		}
	}
	if stopped != 0 {
		return false
	}
	switch c.state {
	case stateNew, stateOpen:
		return true
	case stateHandshaking:
		return c.extra.rare.transport.(Handshaker).HandshakeRoom() > 0
	}
	return false
}

// overBudget reports whether the loop's connections have more output
// queued than its share of Options.MaxQueued: a connection that queues
// more is then paused until its own queue is sent.
func (l *Loop) overBudget() bool { return l.budget > 0 && l.stats.Queued.Load() > l.budget }

// startWriteClock runs when output starts queuing: a write timeout counts
// from now, and Options.WriteTimeout becomes the connection's own unless
// it set one (SetWriteTimeout). An idle connection so costs no timer.
func (c *Conn) startWriteClock() {
	t := c.limitsIfSet()
	d := c.loop.srv.opts.WriteTimeout
	if t == nil && d <= 0 {
		return
	}
	if t == nil {
		t = c.limits()
	}
	t.wrote(c.loop.now())
	if !t.writeSet && d > 0 {
		t.write, t.writeSet = d, true
		if t.timer == nil {
			t.timer = c.loop.AfterFunc(d, c.armTimeouts)
		} else if t.timer.index < 0 || t.timer.when > c.loop.now().add(d) {
			t.timer.Reset(d)
		}
	}
}
