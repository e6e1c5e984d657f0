package iomux

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"
)

// This file holds the conformance cases about Wait itself: signals, other
// kinds of descriptor, Wake, Close, fairness and allocation.

// blockedWait runs Wait(timeout) in a goroutine locked to its OS thread and
// returns once that thread sleeps in the kernel (as far as /proc can tell),
// with the channel that will carry Wait's result.
type waitResult struct {
	n       int
	err     error
	elapsed time.Duration
}

func blockedWait(t *testing.T, s Selector, timeout time.Duration) (tid int, done <-chan waitResult) {
	t.Helper()
	tids := make(chan int, 1)
	results := make(chan waitResult, 1)
	ready := make([]Ready, 4)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		tids <- threadID()
		start := time.Now()
		n, err := s.Wait(timeout, ready)
		results <- waitResult{n, err, time.Since(start)}
	}()
	tid = <-tids
	// Poll /proc for the waiting thread's state: there is no event that says
	// "now inside epoll_wait". If this never succeeds the test still holds
	// (a Wake or Close before Wait must work too), it is just less strict.
	for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline) && !inSyscall(tid); {
		time.Sleep(time.Millisecond)
	}
	return tid, results
}

// testFDKinds: Wait works on every kind of descriptor a program meets.
func testFDKinds(t *testing.T, open opener) {
	kinds := []struct {
		name string
		// make returns the fd to watch and a func that makes it readable.
		make func(t *testing.T) (fd int, fill func())
	}{
		{"pipe", func(t *testing.T) (int, func()) {
			r, w := pipe(t)
			return r, func() { write(t, w, "x") }
		}},
		{"socketpair", func(t *testing.T) (int, func()) {
			a, b := socketpair(t)
			return a, func() { write(t, b, "x") }
		}},
		{"tcp", func(t *testing.T) (int, func()) {
			client, server := tcpPair(t)
			return server, func() { write(t, client, "x") }
		}},
		{"eventfd", func(t *testing.T) (int, func()) {
			fd := eventFD(t)
			return fd, func() {
				var one [8]byte
				binary.NativeEndian.PutUint64(one[:], 1)
				write(t, fd, string(one[:]))
			}
		}},
		{"pty", func(t *testing.T) (int, func()) {
			ctl, term := ptyPair(t)
			return term, func() { write(t, ctl, "line\n") } // canonical mode: a whole line
		}},
	}
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			s := mustOpen(t, open)
			fd, fill := k.make(t)
			register(t, s, fd, Readable, nil)
			waitNone(t, s)
			fill()
			waitOne(t, s, fd, Readable)
		})
	}
	t.Run("regular-file", func(t *testing.T) {
		s := mustOpen(t, open)
		fd := regularFile(t)
		write(t, fd, "content")
		if err := rewind(fd); err != nil {
			t.Fatal(err)
		}
		err := s.Register(fd, Readable|Writable, nil)
		want := s.Capabilities().RegularFile
		if want == 0 { // refused
			if !errors.Is(err, errNotWatched) {
				t.Fatalf("%s Register of a regular file: %v, want EPERM", s.Backend(), err)
			}
			expectNamesCall(t, s, err, fd)
			if s.Len() != 0 {
				t.Errorf("Len = %d after a refused Register, want 0", s.Len())
			}
			return
		}
		if err != nil {
			t.Fatalf("Register: %v", err)
		}
		waitOne(t, s, fd, want)
	})
}

// expectNamesCall checks that err, an OS call's failure on fd, names that
// call (the backend's own, such as "epoll_ctl") and the fd, in that order:
// "epoll_ctl add fd 7: epoll_ctl: operation not permitted".
func expectNamesCall(t *testing.T, s Selector, err error, fd int) {
	t.Helper()
	var sysErr *os.SyscallError
	if !errors.As(err, &sysErr) || !strings.HasPrefix(sysErr.Syscall, s.Backend()) {
		t.Errorf("error %q does not wrap a %s call's *os.SyscallError", err, s.Backend())
		return
	}
	msg := err.Error()
	if !strings.HasPrefix(msg, sysErr.Syscall+" ") || !strings.Contains(msg, fmt.Sprintf(" fd %d: ", fd)) {
		t.Errorf("error %q does not name %s and fd %d", msg, sysErr.Syscall, fd)
	}
}

// testWake: Wake from another goroutine ends a blocked Wait with n == 0.
func testWake(t *testing.T, open opener) {
	s, _ := idleSelector(t, open)
	// Again and again (the wake-up is drained), blocking and with a timeout
	// longer than poll's int32 milliseconds.
	for _, timeout := range []time.Duration{-1, -1, 1000 * 24 * time.Hour} {
		_, done := blockedWait(t, s, timeout)
		if err := s.Wake(); err != nil {
			t.Fatalf("Wake: %v", err)
		}
		select {
		case res := <-done:
			if res.n != 0 || res.err != nil {
				t.Fatalf("woken Wait = %d, %v; want 0, nil", res.n, res.err)
			}
		case <-time.After(5 * time.Second):
			s.Close() // unblock the goroutine before failing
			<-done
			t.Fatalf("Wait(-1) did not return within 5 s of Wake")
		}
	}
	waitNone(t, s)
}

// testWakeCoalesces: many Wakes end one Wait; the next Wait blocks again.
func testWakeCoalesces(t *testing.T, open opener) {
	s := mustOpen(t, open)
	for range 1000 {
		if err := s.Wake(); err != nil {
			t.Fatalf("Wake: %v", err)
		}
	}
	got, took := timedWait(t, s, 10*time.Second)
	if len(got) != 0 {
		t.Fatalf("woken Wait returned %v, want nothing", got)
	}
	if took > 5*time.Second {
		t.Fatalf("Wait after Wake took %v: the wake-up was lost", took)
	}
	got, took = timedWait(t, s, 20*time.Millisecond)
	if len(got) != 0 {
		t.Fatalf("got %v, want a timeout", got)
	}
	if took < 20*time.Millisecond {
		t.Errorf("second Wait returned after %v: a leftover wake-up was not coalesced", took)
	}
}

// testCloseWhileWaiting: Close ends a Wait(-1) in another goroutine with
// ErrClosed, and returns itself.
func testCloseWhileWaiting(t *testing.T, open opener) {
	s, _ := idleSelector(t, open)
	_, done := blockedWait(t, s, -1)
	closed := make(chan error, 1)
	go func() { closed <- s.Close() }()
	select {
	case res := <-done:
		if !errors.Is(res.err, ErrClosed) || res.n != 0 {
			t.Errorf("Wait during Close = %d, %v; want 0, ErrClosed", res.n, res.err)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("Wait(-1) still blocked 5 s after Close")
	}
	select {
	case err := <-closed:
		if err != nil {
			t.Errorf("Close: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("Close did not return")
	}
}

// testWakeDuringClose: Wakes racing with Close return nil or ErrClosed and
// stop once it is closed (run with -race; the wake-up fd must not be written
// after Close released it).
func testWakeDuringClose(t *testing.T, open opener) {
	for range 20 {
		s := mustOpen(t, open)
		const wakers = 4
		errs := make(chan error, wakers)
		for range wakers {
			go func() {
				for {
					if err := s.Wake(); err != nil {
						errs <- err
						return
					}
				}
			}()
		}
		if err := s.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		for range wakers {
			if err := <-errs; !errors.Is(err, ErrClosed) {
				t.Errorf("Wake during Close: %v, want ErrClosed", err)
			}
		}
	}
}

func testAfterClose(t *testing.T, open opener) {
	s, r := idleSelector(t, open)
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := stillOpen(r); err != nil {
		t.Errorf("Close closed a registered fd: %v", err)
	}
	w, _ := pipe(t)
	for name, err := range map[string]error{
		"Register":   s.Register(w, Readable, nil),
		"Modify":     s.Modify(r, Writable, nil),
		"Unregister": s.Unregister(r),
		"Wake":       s.Wake(),
	} {
		if !errors.Is(err, ErrClosed) {
			t.Errorf("%s after Close: %v, want ErrClosed", name, err)
		}
	}
	if _, err := s.Wait(0, make([]Ready, 1)); !errors.Is(err, ErrClosed) {
		t.Errorf("Wait after Close: %v, want ErrClosed", err)
	}
	if s.Len() != 0 {
		t.Errorf("Len after Close = %d, want 0", s.Len())
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v, want nil", err)
	}
}

// testFairness: with more fds ready than ready has room for, successive
// Waits get round to all of them, whether the ready fds sit side by side or
// spread over many (select scans its bit sets a word at a time).
func testFairness(t *testing.T, open opener) {
	for _, layout := range []struct {
		name         string
		pipes, every int // every'th pipe is ready
	}{{"dense", 10, 1}, {"sparse", 100, 10}} {
		t.Run(layout.name, func(t *testing.T) {
			s := mustOpen(t, open)
			want := map[int]bool{}
			for i := range layout.pipes {
				r, w := pipe(t)
				register(t, s, r, Readable, nil)
				if i%layout.every == 0 {
					write(t, w, "x")
					want[r] = true
				}
			}
			const room = 3
			waits := 3 * len(want) / room // perfect rotation needs ceil(10/3) = 4
			ready := make([]Ready, room)
			seen := map[int]bool{}
			for range waits {
				n, err := s.Wait(5*time.Second, ready)
				if err != nil {
					t.Fatal(err)
				}
				if n != room {
					t.Errorf("Wait filled %d, want all %d slots", n, room)
				}
				for _, r := range ready[:n] {
					if !want[r.FD] {
						t.Errorf("fd %d reported, but it is not ready", r.FD)
					}
					seen[r.FD] = true
				}
			}
			for fd := range want {
				if !seen[fd] {
					t.Errorf("fd %d was never reported in %d Waits (saw %d of %d fds)", fd, waits, len(seen), len(want))
				}
			}
		})
	}
}

// testNoAlloc: Wait fills the caller's slice without allocating.
func testNoAlloc(t *testing.T, open opener) {
	s := mustOpen(t, open)
	r, w := pipe(t)
	register(t, s, r, Readable, &struct{}{})
	write(t, w, "x")
	ready := make([]Ready, 8)
	var n int
	var err error
	allocs := testing.AllocsPerRun(100, func() {
		n, err = s.Wait(time.Second, ready)
	})
	if err != nil || n != 1 {
		t.Fatalf("Wait = %d, %v; want 1 ready", n, err)
	}
	if allocs != 0 {
		t.Errorf("Wait allocates %v times per call, want 0", allocs)
	}
}
