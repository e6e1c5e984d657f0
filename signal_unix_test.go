//go:build unix

package iomux

import (
	"os"
	"os/signal"
	"runtime"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// testEINTR: signals hitting the waiting thread every few milliseconds do
// not end a 300 ms Wait early, and do not restart its full timeout either
// (a Wait that did would never return while the signals kept coming).
func testEINTR(t *testing.T, open opener) {
	s, _ := idleSelector(t, open)
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, unix.SIGUSR1)
	defer signal.Stop(sigs)

	const timeout = 300 * time.Millisecond
	tid, done := blockedWait(t, s, timeout)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	giveUp := time.After(5 * time.Second)
	var res waitResult
	sent := 0
loop:
	for {
		select {
		case res = <-done:
			break loop
		case <-tick.C:
			if err := signalThread(tid, unix.SIGUSR1); err != nil && err != unix.ESRCH { // ESRCH: the waiter is done
				t.Fatalf("signal: %v", err)
			}
			sent++
		case <-giveUp:
			tick.Stop()
			res = <-done
			t.Fatalf("Wait(%v) was still running after 5 s of signals (timeout restarted on EINTR?); it returned after %v", timeout, res.elapsed)
		}
	}
	if res.err != nil || res.n != 0 {
		t.Fatalf("Wait = %d, %v; want a timeout", res.n, res.err)
	}
	if res.elapsed < timeout {
		t.Errorf("Wait(%v) returned early, after %v (%d signals sent)", timeout, res.elapsed, sent)
	}
	// Generous: catches a restarted timeout, not scheduling noise.
	if res.elapsed > timeout+time.Second {
		t.Errorf("Wait(%v) returned late, after %v (%d signals sent)", timeout, res.elapsed, sent)
	}
	select {
	case <-sigs:
	case <-time.After(5 * time.Second):
		t.Errorf("no SIGUSR1 arrived: the test did not interrupt anything")
	}
}

// TestSelectEINTR: signals during a 300 ms Select neither end it early nor
// restart its timeout.
func TestSelectEINTR(t *testing.T) {
	r, _ := pipe(t)
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, unix.SIGUSR1)
	defer signal.Stop(sigs)
	const timeout = 300 * time.Millisecond
	tids := make(chan int, 1)
	done := make(chan time.Duration, 1)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		tids <- threadID()
		start := time.Now()
		rr, _, _, err := Select([]int{r}, nil, nil, timeout)
		if err != nil || len(rr) != 0 {
			t.Errorf("Select = %v, %v; want a timeout", rr, err)
		}
		done <- time.Since(start)
	}()
	tid := <-tids
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	giveUp := time.After(5 * time.Second)
	for {
		select {
		case <-giveUp:
			tick.Stop()
			t.Fatalf("Select(%v) still running after 5 s of signals; it returned %v later", timeout, <-done)
		case elapsed := <-done:
			if elapsed < timeout || elapsed > timeout+time.Second {
				t.Errorf("Select(%v) returned after %v", timeout, elapsed)
			}
			return
		case <-tick.C:
			if err := signalThread(tid, unix.SIGUSR1); err != nil && err != unix.ESRCH { // ESRCH: the waiter is done
				t.Fatalf("signal: %v", err)
			}
		}
	}
}
