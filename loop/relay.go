package loop

// What a relay needs from the loop: a connection's source, so that
// back-pressure pauses the producer rather than the congested consumer,
// and writes from another loop's handler.

// SetSource says that what is written to c comes from src: c is a relay's
// sink, src its source (a proxy's client and its upstream are each
// other's). While c is Congested the loop stops reading src instead of c,
// which is read on: so the two directions of a full-duplex relay never
// hold each other up, and what is queued for a peer that reads slowly, or
// not at all, stays bounded by HighWater and the Server's MaxQueued, the
// source waiting for it. src may be on another loop (see WriteFrom); a
// source may feed several sinks, and is read again once none of them is
// Congested, OnData running then for what it had buffered. SetSource(nil)
// ends it. Call it on c's loop.
func (c *Conn) SetSource(src *Conn) {
	x := c.extraState()
	if x.source == src {
		return
	}
	if c.flags&flagCongested != 0 {
		x.source.hold(c.loop, -1)
		src.hold(c.loop, 1)
	}
	if x.spliced { // a Splice's relay is undone, both ways
		x.spliced = false
		if old := x.source; old != nil && old.extra.spliced {
			old.extra.spliced = false
			old.updateInterest()
		}
	}
	x.source = src
	c.updateInterest() // its own congestion now stops reading it, or no longer does
}

// Source returns the connection set with SetSource, nil if none.
func (c *Conn) Source() *Conn {
	if c.extra == nil {
		return nil
	}
	return c.extra.source
}

// hold changes, by delta, how many congested sinks hold src (nil: none),
// on src's loop: from is the loop that asks, and the change is posted to
// src's loop if that is another. A source no longer held is read again.
func (src *Conn) hold(from *Loop, delta int32) {
	if src == nil {
		return
	}
	apply := func() {
		if src.Closed() {
			return
		}
		x := src.extraState()
		x.holds += delta
		if x.holds == 0 || x.holds == delta { // released, or newly held
			src.updateInterest()
			src.readResumed()
		}
	}
	if src.loop == from {
		apply()
		return
	}
	_ = src.loop.post(apply, false) // an ended loop has closed src
}

// WriteFrom writes p, which src's handler read, to c: a relay's write. On
// c's own loop it is Write; from another loop's handler it copies p and
// writes it on c's loop, and it is never refused for a queue's size: what
// bounds it is src, which becomes c's source (as with SetSource) and is
// not read while c is Congested, nor, across loops, while what was written
// to c and not yet sent is past HighWater (or c's loop past its share of
// MaxQueued). It returns len(p), or ErrClosed once c is
// closed; a write that fails on c's loop closes c, as a Write does, and
// its OnClose says why. Call it on src's loop.
func (c *Conn) WriteFrom(src *Conn, p []byte) (int, error) {
	if c.loop == src.loop {
		if c.Source() != src {
			c.SetSource(src)
		}
		return c.Write(p)
	}
	l := c.loop
	n := int64(len(p))
	backlog := c.backlog.Add(n)
	if backlog < 0 {
		return 0, ErrClosed
	}
	q := append([]byte(nil), p...)
	err := l.post(func() {
		c.backlog.Add(-n)
		if c.Closed() {
			return
		}
		if c.Source() != src {
			c.SetSource(src)
		}
		c.Write(q)
	}, false)
	if err != nil {
		c.backlog.Add(-n)
		return 0, ErrClosed
	}
	if hw := l.srv.opts.HighWater; hw > 0 && backlog >= int64(hw) || l.budget > 0 && l.stats.Queued.Load()+backlog > l.budget {
		// What src reads before c's loop finds c congested would cross
		// unbounded: src holds itself now, until c has sent what it has
		// by then (or closed).
		src.hold(src.loop, 1)
		if l.post(func() { c.whenSent(func(*Conn, error) { src.hold(l, -1) }) }, false) != nil {
			src.hold(src.loop, -1)
		}
	}
	return len(p), nil
}

// readResumed runs OnData, after the running callback, for input a
// connection had buffered when the loop stopped reading it, now that it
// reads it again (ResumeRead, the end of back-pressure or of a source's
// hold, input consumed below MaxInput outside OnData): what came before
// the pause is not left waiting for more input.
func (c *Conn) readResumed() {
	if c.state == stateOpen && len(c.view) > 0 && c.wantsInput() {
		c.loop.hold(heldData, c, nil, nil)
	}
}
