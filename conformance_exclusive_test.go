package iomux

import (
	"testing"
	"time"
)

// testExclusiveWakeup: several Selectors watch one pipe with Exclusive, each
// blocked in its own Wait; one write wakes at least one of them and not all.
// epoll_ctl(2) promises "one or more" of the exclusive waiters, so any count
// from 1 to waiters-1 passes.
func testExclusiveWakeup(t *testing.T, open opener) {
	const (
		waiters = 4
		timeout = time.Second // how long the ones not woken wait
	)
	r, w := pipe(t) // registered first, so closed after every Selector
	tids := make([]int, waiters)
	done := make([]<-chan waitResult, waiters)
	for i := range waiters {
		s := mustOpen(t, open)
		register(t, s, r, Readable|Exclusive, nil)
		tids[i], done[i] = blockedWait(t, s, timeout)
	}
	// A Wait that enters the kernel after the write finds the pipe ready
	// whatever Exclusive says, so the test means something only if all of
	// them are asleep in epoll_wait first.
	asleep := true
	for _, tid := range tids {
		asleep = asleep && inSyscall(tid)
	}
	write(t, w, "x")
	woken := 0
	for i, d := range done {
		res := <-d
		switch {
		case res.err != nil:
			t.Errorf("waiter %d: Wait: %v", i, res.err)
		case res.n == 1:
			woken++
		case res.n != 0:
			t.Errorf("waiter %d: Wait = %d, want 0 or 1", i, res.n)
		}
	}
	t.Logf("one write woke %d of %d Exclusive waiters", woken, waiters)
	if !asleep {
		t.Skip("not every waiter was seen asleep in the kernel before the write")
	}
	if woken == 0 || woken == waiters {
		t.Errorf("one write woke %d of %d Exclusive waiters, want at least 1 and fewer than %d", woken, waiters, waiters)
	}
}
