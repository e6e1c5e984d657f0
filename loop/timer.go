package loop

import (
	"container/heap"
	"time"
)

// instant is a time on the loops' clock: nanoseconds since the package's
// epoch, on the monotonic clock. It takes 8 bytes where a time.Time takes
// 24: per-connection timeouts keep several (an idle connection's memory
// is a headline figure).
type instant int64

var epoch = time.Now()

func instantOf(t time.Time) instant { return instant(t.Sub(epoch)) }

func (i instant) add(d time.Duration) instant { return i + instant(d) }

func (i instant) sub(j instant) time.Duration { return time.Duration(i - j) }

// Timer is a callback owned by one loop: it runs on that loop's goroutine,
// between event batches. Create it with Loop.AfterFunc or Loop.Every.
type Timer struct {
	loop   *Loop
	when   instant
	period time.Duration // > 0 for Every
	fn     func()
	index  int // position in the heap, -1 when not scheduled
}

// Stop cancels the timer; it reports whether the timer was still pending.
// Call it from the timer's loop (a handler or another timer of that loop).
func (t *Timer) Stop() bool {
	if t.index < 0 {
		return false
	}
	heap.Remove(&t.loop.timers, t.index)
	return true
}

// Reset reschedules the timer to fire after d (keeping its period, if any).
// Call it from the timer's loop.
func (t *Timer) Reset(d time.Duration) {
	// From the time of the call, not the cached time of the last Wait:
	// late in a long batch that would fire the timer early (a 20ms timer
	// set after a 50ms handler fired at once).
	t.when = t.loop.refreshNow().add(d)
	if t.index >= 0 {
		heap.Fix(&t.loop.timers, t.index)
		return
	}
	heap.Push(&t.loop.timers, t)
}

// timerHeap orders a loop's timers by deadline; its earliest deadline
// bounds the loop's Wait (the ae/netpoller pattern).
type timerHeap []*Timer

func (h timerHeap) Len() int           { return len(h) }
func (h timerHeap) Less(i, j int) bool { return h[i].when < h[j].when }
func (h timerHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index, h[j].index = i, j
}
func (h *timerHeap) Push(x any) {
	t := x.(*Timer)
	t.index = len(*h)
	*h = append(*h, t)
}
func (h *timerHeap) Pop() any {
	old := *h
	t := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	t.index = -1
	return t
}

// AfterFunc runs fn on this loop once, after d. Call it from the loop (a
// handler or timer); from other goroutines wrap it in Post.
func (l *Loop) AfterFunc(d time.Duration, fn func()) *Timer {
	t := &Timer{loop: l, fn: fn, index: -1}
	t.Reset(d)
	return t
}

// Every runs fn on this loop every d until the Timer is stopped. Ticks that
// fall behind are skipped, not queued. Call it from the loop.
func (l *Loop) Every(d time.Duration, fn func()) *Timer {
	if d <= 0 {
		d = time.Millisecond
	}
	t := &Timer{loop: l, fn: fn, period: d, index: -1}
	t.Reset(d)
	return t
}

// runTimers fires every timer due when it starts, in deadline order, and
// returns how long until the next one (-1: none). A timer that comes due
// again meanwhile (a period shorter than the batch, or one re-armed to
// fire at once) waits for the next iteration: I/O is served in between,
// however short the periods.
func (l *Loop) runTimers() time.Duration {
	start := l.refreshNow()
	for len(l.timers) > 0 {
		t := l.timers[0]
		if t.when > start {
			return max(t.when.sub(l.refreshNow()), 0)
		}
		now := l.refreshNow()
		if t.period > 0 {
			t.when = t.when.add(t.period)
			if t.when <= now { // fell behind: skip the missed ticks
				t.when = now.add(t.period)
			}
			heap.Fix(&l.timers, 0)
		} else {
			heap.Pop(&l.timers)
		}
		l.call(t.fn)
	}
	return -1
}
