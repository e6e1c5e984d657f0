package chat

// How the chat room's output flows: what a turn sends is gathered in
// pieces and written at its end, one write per member (flush); a sender
// whose lines find a member's queue full is held until the queues drain
// (hold, release).

// tell sends a notice to one member.
func (r *room) tell(m *member, notice string) { r.add(m, nil, []byte(notice+"\n")) }

// notice tells the members what happened to about, who is not told.
func (r *room) notice(about *member, notice string) {
	r.broadcast(about, []byte(notice+"\n"))
}

// broadcast sends msg to every member but from.
func (r *room) broadcast(from *member, msg []byte) { r.add(nil, from, msg) }

// add puts msg in the turn's output, after what came before it.
func (r *room) add(to, from *member, msg []byte) {
	p := r.pieceFor(to, from)
	p.text = append(p.text, msg...)
	r.turn += len(msg)
}

// pieceFor is the piece of the turn's output that what goes next to these
// members is appended to: the last one, when it goes to the same members.
func (r *room) pieceFor(to, from *member) *piece {
	if n := len(r.pending); n > 0 && r.pending[n-1].to == to && r.pending[n-1].from == from {
		return &r.pending[n-1]
	}
	r.pending = append(r.pending, piece{to: to, from: from})
	return &r.pending[len(r.pending)-1]
}

// flush writes the turn's output: to each member, the pieces for them,
// in one write(v), and in a cluster, what is for the whole room to the
// other nodes. A write that fails closes that connection; its OnClose,
// which the loop runs once the current callback returns, tells the others.
func (r *room) flush() {
	var bufs [][]byte
	pieces := r.pending
	r.pending = nil
	if r.cluster != nil && len(pieces) > 0 {
		r.sayToCluster(pieces)
	}
	for _, m := range r.members {
		bufs = bufs[:0]
		for _, p := range pieces {
			if p.to == m || p.to == nil && p.from != m {
				bufs = append(bufs, p.text)
			}
		}
		if len(bufs) > 0 && !m.c.Closed() {
			m.c.Writev(bufs)
		}
	}
	r.turn = 0
}

// sayToCluster sends the other nodes what pieces hold for the whole room
// (a member's lines, their notices; what goes to all but its sender),
// as one message.
func (r *room) sayToCluster(pieces []piece) {
	var text []byte
	for _, p := range pieces {
		if p.to == nil && p.from != nil {
			text = append(text, p.text...)
		}
	}
	if len(text) > 0 {
		r.cluster.say(text)
	}
}

// backlog reports whether some member's queue is past queueHigh, or
// (in a cluster) the other nodes cannot keep up.
func (r *room) backlog() bool {
	return r.queuesAbove(queueHigh) || r.cluster != nil && r.cluster.held(outHigh)
}

// queuesAbove reports whether some member's queue is past limit.
func (r *room) queuesAbove(limit int) bool {
	for _, m := range r.members {
		if m.c.Outbound() > limit {
			return true
		}
	}
	return false
}

// hold stops reading m, a sender whose lines found a queue past queueHigh,
// until every queue is below queueLow: the room then goes at the pace of
// its slowest reader, and a member who reads slowly is never dropped for
// it. Only a member who takes nothing for Config.WriteTimeout is (the
// loop's write timeout), which ends the wait.
func (r *room) hold(m *member) {
	if m.c.ReadPaused() {
		return
	}
	m.c.PauseRead()
	r.held = append(r.held, m)
	if r.cluster != nil {
		r.cluster.checkBusy()
	}
	if r.drain == nil {
		r.drain = m.c.Loop().Every(drainCheck, r.release)
	}
}

// release reads the held senders again, in the order they were held, once
// every queue is below queueLow; each handles what it has buffered first.
func (r *room) release() {
	if r.queuesAbove(queueLow) || r.cluster != nil && r.cluster.held(queueLow) {
		return
	}
	r.drain.Stop()
	r.drain = nil
	held := r.held
	r.held = nil
	for _, m := range held {
		if !m.c.Closed() {
			m.c.ResumeRead() // and OnData for the lines that came meanwhile
		}
	}
}
