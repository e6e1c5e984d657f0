package chat

// Who entered and who left, told in batches: a room of thousands stays
// responsive under a join storm.
//
// Told at once, each join cost one write to every member: 2,500
// connections joining at once made 3 million writes, and a member
// joining after them waited 17 s for its welcome (BenchmarkJoinStorm: 15 ms
// now). Instead a member's welcome is written at once, and the notices of
// joins and leaves are gathered into a batch, written with the room's
// next output (so every member sees them in order with the lines), or
// alone after a wait that grows with the room (noticePerMember a member,
// noticeMaxWait at most): one write per member per batch, whose cost (a
// microsecond or two a member) is then a small share of the wait, however
// fast members come and go. A batch of more than noticeBurst joins is
// told as one line, "* N members entered room (/who lists them)", and so
// are its leaves ("* N members left"), as IRC servers quiet the joins of
// large channels; a member who came and went within one batch is not told
// of at all. A member is told of the joins and leaves after its own, not
// of those before it (its welcome counted them).

import (
	"fmt"
	"time"
)

const (
	// noticeBurst is the most joins (or leaves) a batch tells one by one.
	noticeBurst = 8
	// noticePerMember is how long a batch of notices may wait per member
	// of the room, noticeMaxWait at most: the writes of a batch (one per
	// member, a microsecond or two each) then take a small share of the
	// loop however fast members come and go.
	noticePerMember = 10 * time.Microsecond
	noticeMaxWait   = 250 * time.Millisecond
)

// membership is a join or a leave not yet told.
type membership struct {
	who  *member
	join bool
	text string // "* [NAME] entered room"
	upTo uint64 // members who joined later are not told (r.joined then)
}

// announce adds m's join (or leave) to the batch, and starts the batch's
// wait if it is the first.
func (r *room) announce(m *member, join bool, text string) {
	if !join { // came and went within the batch: neither is told
		for i, x := range r.batch {
			if x.who == m && x.join {
				r.batch = append(r.batch[:i], r.batch[i+1:]...)
				return
			}
		}
	}
	r.batch = append(r.batch, membership{who: m, join: join, text: text, upTo: r.joined})
	if r.batchWait == nil && r.l != nil {
		wait := min(time.Duration(len(r.members))*noticePerMember, noticeMaxWait)
		r.batchWait = r.l.AfterFunc(wait, r.flushBatch)
	}
}

// takeBatch returns the batch as pieces of output, before the turn's: the
// notices one by one, or past noticeBurst joins (leaves), their count.
func (r *room) takeBatch() []piece {
	if r.batchWait != nil {
		r.batchWait.Stop()
		r.batchWait = nil
	}
	if len(r.batch) == 0 {
		return nil
	}
	joins, leaves := 0, 0
	for _, x := range r.batch {
		if x.join {
			joins++
		} else {
			leaves++
		}
	}
	var pieces []piece
	for _, x := range r.batch {
		if x.join && joins <= noticeBurst || !x.join && leaves <= noticeBurst {
			pieces = append(pieces, piece{from: x.who, text: []byte(x.text + "\n"), upTo: x.upTo, room: true})
		}
	}
	if joins > noticeBurst {
		pieces = append(pieces, piece{text: fmt.Appendf(nil, "* %d members entered room (/who lists them)\n", joins), room: true})
	}
	if leaves > noticeBurst {
		pieces = append(pieces, piece{text: fmt.Appendf(nil, "* %d members left\n", leaves), room: true})
	}
	clear(r.batch)
	r.batch = r.batch[:0]
	return pieces
}
