package iomux

import (
	"os"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// TestMain fails the run if any test leaves a goroutine behind. Go's own
// netpoller opens its descriptors lazily on first use; opening it here keeps
// the per-backend fd counts below honest.
func TestMain(m *testing.M) {
	if f, err := os.Open(os.DevNull); err == nil {
		f.Close()
	}
	r, w, err := os.Pipe() // registers with the runtime poller: opens its epoll fd
	if err == nil {
		r.Close()
		w.Close()
	}
	goleak.VerifyTestMain(m)
}

// opener opens a fresh Selector on one backend.
type opener func() (Selector, error)

func backendOpener(name string) opener {
	return func() (Selector, error) { return NewSelector(name) }
}

// mustOpen opens a Selector that is closed when the test ends.
func mustOpen(t testing.TB, open opener) Selector {
	t.Helper()
	s, err := open()
	if err != nil {
		t.Fatalf("open selector: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// ends drops the early-close funcs of closablePipe or closableSocketpair.
func ends(a, b int, _, _ func()) (int, int) { return a, b }

// manyPipes opens n pipes and returns all 2n descriptors.
func manyPipes(t testing.TB, n int) []int {
	t.Helper()
	fds := make([]int, 0, 2*n)
	for range n {
		r, w := pipe(t)
		fds = append(fds, r, w)
	}
	return fds
}

func write(t testing.TB, fd int, s string) {
	t.Helper()
	if n, err := rawWrite(fd, []byte(s)); err != nil || n != len(s) {
		t.Fatalf("write fd %d: n=%d err=%v", fd, n, err)
	}
}

// read returns what one read on fd gives; "" means EOF.
func read(t testing.TB, fd int) string {
	t.Helper()
	buf := make([]byte, 4096)
	n, err := rawRead(fd, buf)
	if err != nil {
		t.Fatalf("read fd %d: %v", fd, err)
	}
	return string(buf[:n])
}

// drain reads fd until it would block.
func drain(t testing.TB, fd int) {
	t.Helper()
	buf := make([]byte, 4096)
	for {
		_, err := rawRead(fd, buf)
		if wouldBlock(err) {
			return
		}
		if err != nil {
			t.Fatalf("drain fd %d: %v", fd, err)
		}
	}
}

// fill writes to fd until it would block.
func fill(t testing.TB, fd int) {
	t.Helper()
	block := make([]byte, 64<<10)
	for {
		if _, err := rawWrite(fd, block); wouldBlock(err) {
			return
		} else if err != nil {
			t.Fatalf("write fd %d: %v", fd, err)
		}
	}
}

// wait calls Wait and fails the test on error; it returns the filled part.
func wait(t testing.TB, s Selector, timeout time.Duration) []Ready {
	t.Helper()
	ready := make([]Ready, 16)
	n, err := s.Wait(timeout, ready)
	if err != nil {
		t.Fatalf("%s Wait(%v): %v", s.Backend(), timeout, err)
	}
	return ready[:n]
}

// timedWait is wait, also reporting how long Wait took.
func timedWait(t testing.TB, s Selector, timeout time.Duration) ([]Ready, time.Duration) {
	t.Helper()
	start := time.Now()
	got := wait(t, s, timeout)
	return got, time.Since(start)
}

// idleSelector opens a Selector watching, for Readable, the read end of a
// pipe nothing writes to; it returns both.
func idleSelector(t testing.TB, open opener) (Selector, int) {
	t.Helper()
	s := mustOpen(t, open)
	r, _ := pipe(t)
	register(t, s, r, Readable, nil)
	return s, r
}

// waitOne waits (up to 5 s) and expects exactly fd to be ready, with want
// among its events; it returns that entry.
func waitOne(t testing.TB, s Selector, fd int, want Events) Ready {
	t.Helper()
	got := wait(t, s, 5*time.Second)
	if len(got) != 1 || got[0].FD != fd || got[0].Events&want != want {
		t.Fatalf("%s Wait: got %v, want fd %d with %v", s.Backend(), got, fd, want)
	}
	return got[0]
}

// waitNone polls and expects nothing ready.
func waitNone(t testing.TB, s Selector) {
	t.Helper()
	if got := wait(t, s, 0); len(got) != 0 {
		t.Fatalf("%s Wait(0): got %v, want nothing ready", s.Backend(), got)
	}
}

func register(t testing.TB, s Selector, fd int, ev Events, data any) {
	t.Helper()
	if err := s.Register(fd, ev, data); err != nil {
		t.Fatalf("%s Register(%d, %v): %v", s.Backend(), fd, ev, err)
	}
}
