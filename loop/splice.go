package loop

// A spliced relay: two connections of one loop whose bytes the loop moves
// from one socket to the other itself, with splice(2) where the OS has it
// (splice_linux.go), so that they never cross user space.

// Splice makes c and peer a relay the loop runs: each is the other's
// source, as with SetSource both ways (so back-pressure and MaxQueued
// bound it as any relay), and where it can the loop moves what one
// receives to the other itself, socket to pipe to socket with splice(2),
// the bytes never copied into the process. What it moves is as if OnData
// had written it to the other end with Write: in order, after anything
// queued there before (what a socket does not take is queued, and
// meanwhile the other end is not read: the queue of a spliced relay's
// end holds one read at most, past HighWater only if a single read is); counted in Stats; as activity for both ends'
// timeouts; a peer's EOF still runs OnEOF and a reset still closes the
// connection with ErrReset, so half-closes and resets are passed on by the
// handler as in any relay. OnData still runs for the input the loop does
// not move (what was buffered before, and what comes while the other end
// has output queued, or can no longer be written to), so the handler
// keeps relaying in OnData.
//
// It reports whether the loop splices: on Linux, for two open connections
// of one loop with no Transport, on a Server without Options.Observe
// (which sees every byte). Otherwise it changes nothing and returns false:
// set the sources with SetSource and relay in OnData. SetSource on either
// end undoes it. Call it on c's loop.
func (c *Conn) Splice(peer *Conn) bool {
	if !spliceSupported || peer == nil || peer == c || peer.loop != c.loop || c.loop.observe != nil ||
		c.state != stateOpen || peer.state != stateOpen || c.transport() != nil || peer.transport() != nil {
		return false
	}
	c.SetSource(peer)
	peer.SetSource(c)
	c.extra.spliced, peer.extra.spliced = true, true
	return true
}

// spliceQueued runs when c's output queue starts or empties (or c
// closes): if c is a spliced relay's sink, its source is read only while
// the queue is empty, so that its input is spliced behind it rather than
// copied into it.
func (c *Conn) spliceQueued() {
	if x := c.extra; x != nil && x.spliced {
		x.source.updateInterest()
		if c.Outbound() == 0 {
			x.source.readResumed()
		}
	}
}
