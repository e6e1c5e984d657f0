package websocket

import (
	"sync"
	"time"

	"github.com/iomux/iomux/loop"
)

// A connection waits for at most one timeout at a time: the handshake's,
// keepalive's (PingInterval, then PongTimeout after a Ping) or the
// close's. Rather than a loop.Timer each (with its callback and its place
// in the loop's heap: about 80 bytes an idle connection kept), a loop's
// connections that wait for the same duration are in one list, in the
// order they began to wait, which is their deadlines' order; one loop
// timer is set for the earliest deadline of the lists' heads. An idle
// connection keeps two pointers and its deadline.

// timeouts is one loop's lists of waiting connections.
type timeouts struct {
	loop     *loop.Loop
	lists    []*waitList // one per duration in use: a few
	timer    *loop.Timer
	at       int64 // the timer's deadline (clock), 0 when stopped
	sweeping bool  // sweep is running: lists are kept, the timer is set after
}

// waitList is a loop's connections that wait for d, a ring through their
// prev and next around head, which is not a connection: head.next is the
// earliest deadline, head.prev the latest.
type waitList struct {
	d    time.Duration
	head Conn
}

// loopTimeouts holds each loop's timeouts while connections wait on it;
// only the loop's own goroutine stores, loads or deletes its entry.
var loopTimeouts sync.Map // *loop.Loop → *timeouts

var epoch = time.Now()

// clock is the time of deadlines: nanoseconds since the package's epoch,
// on the monotonic clock.
func clock() int64 { return int64(time.Since(epoch)) }

func timeoutsOf(l *loop.Loop) *timeouts {
	if v, ok := loopTimeouts.Load(l); ok {
		return v.(*timeouts)
	}
	t := &timeouts{loop: l}
	loopTimeouts.Store(l, t)
	return t
}

// arm makes the connection wait d (from now) in place of what it waited
// for: tick runs then. (A list it leaves empty goes at the next sweep.)
func (ws *Conn) arm(d time.Duration) {
	ws.unlink()
	t := timeoutsOf(ws.c.Loop())
	var l *waitList
	for _, w := range t.lists {
		if w.d == d {
			l = w
			break
		}
	}
	if l == nil {
		l = &waitList{d: d}
		l.head.prev, l.head.next = &l.head, &l.head
		t.lists = append(t.lists, l)
	}
	now := clock()
	ws.due = now + int64(d)
	last := l.head.prev
	ws.prev, ws.next = last, &l.head
	last.next, l.head.prev = ws, ws
	if !t.sweeping && (t.at == 0 || ws.due < t.at) {
		t.set(ws.due, now)
	}
}

// disarm takes the connection off its list, if it waits. The loop's
// timeouts go once no list is left, so a loop that ends keeps nothing
// here.
func (ws *Conn) disarm() {
	if ws.unlink() {
		if t := timeoutsOf(ws.c.Loop()); !t.sweeping {
			t.prune()
		}
	}
}

// unlink takes the connection off its list, if it waits, and reports
// whether that left the list empty.
func (ws *Conn) unlink() (emptied bool) {
	prev, next := ws.prev, ws.next
	if next == nil {
		return false
	}
	prev.next, next.prev = next, prev
	ws.prev, ws.next = nil, nil
	return prev == next // only the head is left
}

// set sets the timer to fire at the clock's due; now is the clock.
func (t *timeouts) set(due, now int64) {
	t.at = due
	d := time.Duration(due - now)
	if t.timer == nil {
		t.timer = t.loop.AfterFunc(d, t.sweep)
		return
	}
	t.timer.Reset(d)
}

// sweep runs tick for each connection whose deadline passed, in deadline
// order within each list, and sets the timer for the next.
func (t *timeouts) sweep() {
	t.at = 0
	t.sweeping = true
	// A Handler that panics in OnClose ends the sweep (the loop recovers
	// it): the others still wait, and the timer is set for them.
	defer func() {
		t.sweeping = false
		t.prune()
	}()
	now := clock()
	for i := 0; i < len(t.lists); i++ {
		l := t.lists[i]
		for {
			ws := l.head.next
			if ws == &l.head || ws.due > now {
				break
			}
			ws.disarm()
			ws.tick()
		}
	}
}

// prune drops the empty lists and sets the timer for the earliest head of
// the others; with none left the loop's timeouts go.
func (t *timeouts) prune() {
	var next int64
	kept := t.lists[:0]
	for _, l := range t.lists {
		if first := l.head.next; first != &l.head {
			if len(kept) == 0 || first.due < next {
				next = first.due
			}
			kept = append(kept, l)
		}
	}
	clear(t.lists[len(kept):])
	t.lists = kept
	if len(kept) > 0 {
		if next != t.at {
			t.set(next, clock())
		}
		return
	}
	if t.timer != nil {
		t.timer.Stop()
	}
	t.at = 0
	loopTimeouts.Delete(t.loop)
}
