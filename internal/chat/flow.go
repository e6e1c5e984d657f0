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
	r.pending = append(r.pending, piece{to: to, from: from, room: to == nil && from != nil})
	return &r.pending[len(r.pending)-1]
}

// flush writes the turn's output, after the batch of joins and leaves
// when there is output (which keeps their order; alone, the batch waits:
// notices.go): to each member, the pieces for them, in one write(v), and in a
// cluster, what is for the whole room to the other nodes. A write that
// fails closes that connection; its OnClose, which the loop runs once the
// current callback returns, tells the others.
func (r *room) flush() {
	if len(r.pending) > 0 {
		r.write(append(r.takeBatch(), r.pending...))
	}
	r.pending = nil
	r.turn = 0
}

// flushBatch writes the batch of joins and leaves, and the turn's output
// if any.
func (r *room) flushBatch() {
	r.write(append(r.takeBatch(), r.pending...))
	r.pending = nil
	r.turn = 0
}

// write writes pieces to the members they are for, and to the other
// nodes.
func (r *room) write(pieces []piece) {
	if len(pieces) == 0 {
		return
	}
	if r.cluster != nil {
		r.sayToCluster(pieces)
	}
	var bufs [][]byte
	var web webOutput
	for _, m := range r.members {
		bufs = bufs[:0]
		for _, p := range pieces {
			if (p.to == m || p.to == nil && p.from != m) && (p.upTo == 0 || m.id <= p.upTo) {
				bufs = append(bufs, p.text)
			}
		}
		switch {
		case len(bufs) == 0 || m.gone():
		case m.web != nil:
			web.add(m.web, bufs)
		default:
			m.c.Writev(bufs)
		}
	}
	web.post()
}

// send writes text to m at once, ahead of the turn's output.
func (r *room) send(m *member, text []byte) {
	if m.web != nil {
		var web webOutput
		web.add(m.web, [][]byte{text})
		web.post()
		return
	}
	m.c.Write(text)
}

// sayToCluster sends the other nodes what pieces hold for the whole room
// (a member's lines, their notices; what goes to all but its sender),
// as one message.
func (r *room) sayToCluster(pieces []piece) {
	var text []byte
	for _, p := range pieces {
		if p.room {
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
		if m.outbound() > limit {
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
	switch {
	case m.web != nil && m.web.held, m.c != nil && m.c.ReadPaused():
		return
	case m.web != nil:
		m.web.held = true // its messages wait in its inbox (web.go)
	default:
		m.c.PauseRead()
	}
	r.held = append(r.held, m)
	if r.cluster != nil {
		r.cluster.checkBusy()
	}
	if r.drain == nil {
		r.drain = r.l.Every(drainCheck, r.release)
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
		switch {
		case m.gone():
		case m.web != nil:
			r.resumeWeb(m)
		default:
			m.c.ResumeRead() // and OnData for the lines that came meanwhile
		}
	}
}
