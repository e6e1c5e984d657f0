package loophttp

import (
	"net/http"
	"time"

	"github.com/iomux/iomux/loop"
)

// A connection that waits for a request (new, or idle between requests)
// is closed at IdleTimeout, one that waits for the rest of a head at
// ReadHeaderTimeout. A loop deadline per connection would give every idle
// connection an allocated record and a timer (165 live bytes each in
// BenchmarkIdleKeepAliveMemory/timeouts); instead each loop keeps its
// waiting connections in two lists, each in the order they began to wait,
// which, with one timeout per list, is the order of their deadlines, and
// one loop.Timer fires at the earliest.

// loopState is what loophttp keeps for a loop (its Context).
type loopState struct {
	waiters
	parsed http.Request // where a head is parsed, on the loop, before accept copies it
}

// waiters are a loop's waiting connections.
type waiters struct {
	srv   *Server
	l     *loop.Loop
	idle  conn // the idle list's end: a circular list through prev and next
	head  conn // and the head list's
	timer *loop.Timer
	at    instant // when timer fires (0: not armed)
}

func (h *handler) OnLoopStart(l *loop.Loop) {
	ls := &loopState{waiters: waiters{srv: h.srv, l: l}}
	for _, end := range []*conn{&ls.idle, &ls.head} {
		end.prev, end.next = end, end
	}
	l.SetContext(ls)
}

// waitIdle puts the connection on the idle list from now (on the loop);
// with no IdleTimeout on none. Its loop deadline, if any, is removed.
func (cn *conn) waitIdle() {
	cn.since = now()
	cn.wait(func(w *waiters) *conn { return &w.idle }, cn.srv.idleTimeout())
}

// waitHead puts the connection on the head list from now (on the loop);
// with no ReadHeaderTimeout on none. Its loop deadline, if any, is removed.
func (cn *conn) waitHead() {
	cn.since = now()
	cn.wait(func(w *waiters) *conn { return &w.head }, cn.srv.readHeaderTimeout())
}

func (cn *conn) wait(list func(*waiters) *conn, d time.Duration) {
	cn.unwait()
	cn.c.SetDeadline(time.Time{}) // a no-op unless a request had one
	if d <= 0 {
		return
	}
	w := &cn.c.Loop().Context().(*loopState).waiters
	end := list(w)
	cn.prev, cn.next = end.prev, end
	end.prev.next = cn
	end.prev = cn
	w.arm(cn.since.add(d))
}

// unwait takes the connection off its list, if it is on one.
func (cn *conn) unwait() {
	if cn.next == nil {
		return
	}
	cn.prev.next = cn.next
	cn.next.prev = cn.prev
	cn.prev, cn.next = nil, nil
}

// arm makes the timer fire at at, unless it fires before.
func (w *waiters) arm(at instant) {
	if w.at != 0 && w.at <= at {
		return
	}
	w.at = at
	d := max(time.Duration(at-now()), 0)
	if w.timer == nil {
		w.timer = w.l.AfterFunc(d, w.fire)
		return
	}
	w.timer.Reset(d)
}

// fire closes the connections whose wait is over, and arms the timer for
// the next.
func (w *waiters) fire() {
	w.at = 0
	t := now()
	next := instant(0)
	for _, list := range []struct {
		end *conn
		d   time.Duration
	}{{&w.idle, w.srv.idleTimeout()}, {&w.head, w.srv.readHeaderTimeout()}} {
		for cn := list.end.next; cn != list.end; cn = list.end.next {
			if at := cn.since.add(list.d); at > t {
				if next == 0 || at < next {
					next = at
				}
				break
			}
			cn.unwait()
			cn.c.CloseNow()
		}
	}
	if next != 0 {
		w.arm(next)
	}
}
