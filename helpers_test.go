//go:build unix

package iomux

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"go.uber.org/goleak"
	"golang.org/x/sys/unix"
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

// openFDs counts this process's open descriptors (fdDir is per OS).
func openFDs(t testing.TB) int {
	t.Helper()
	ents, err := os.ReadDir(fdDir)
	if err != nil {
		t.Fatalf("count fds: %v", err)
	}
	return len(ents) - 1 // ReadDir's own descriptor
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

// closeFD closes a descriptor once, at the end of the test unless the test
// closes it first through the returned func.
func closeFD(t testing.TB, fd int) (closeNow func()) {
	done := false
	closeNow = func() {
		if !done {
			done = true
			unix.Close(fd)
		}
	}
	t.Cleanup(closeNow)
	return closeNow
}

// pipe returns a non-blocking pipe (read end, write end), closed at cleanup.
func pipe(t testing.TB) (r, w int) {
	t.Helper()
	return ends(closablePipe(t))
}

// closablePipe is pipe plus functions that close each end early (and only once).
func closablePipe(t testing.TB) (r, w int, closeR, closeW func()) {
	t.Helper()
	var p [2]int
	err := unix.Pipe(p[:]) // not Pipe2: macOS lacks it
	return closablePair(t, "pipe", p, err)
}

// socketpair returns a connected, non-blocking Unix stream socket pair.
func socketpair(t testing.TB) (a, b int) {
	t.Helper()
	return ends(closableSocketpair(t))
}

// closableSocketpair is socketpair plus functions that close each end early.
func closableSocketpair(t testing.TB) (a, b int, closeA, closeB func()) {
	t.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM, 0)
	return closablePair(t, "socketpair", fds, err)
}

// closablePair finishes what call opened: both ends close-on-exec,
// non-blocking and closed at cleanup, or closed early by the funcs returned.
func closablePair(t testing.TB, call string, fds [2]int, err error) (a, b int, closeA, closeB func()) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", call, err)
	}
	closeA, closeB = closeFD(t, fds[0]), closeFD(t, fds[1])
	nonblocking(t, fds[:]...)
	return fds[0], fds[1], closeA, closeB
}

// ends drops the early-close funcs of closablePipe or closableSocketpair.
func ends(a, b int, _, _ func()) (int, int) { return a, b }

// nonblocking makes fds close-on-exec and non-blocking.
func nonblocking(t testing.TB, fds ...int) {
	t.Helper()
	for _, fd := range fds {
		unix.CloseOnExec(fd)
		if err := unix.SetNonblock(fd, true); err != nil {
			t.Fatalf("setnonblock fd %d: %v", fd, err)
		}
	}
}

// listenTCP returns a listening socket on 127.0.0.1 and its address.
func listenTCP(t testing.TB) (fd int, addr *unix.SockaddrInet4) {
	t.Helper()
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM, 0)
	if err != nil {
		t.Fatalf("socket: %v", err)
	}
	closeFD(t, fd)
	if err := unix.Bind(fd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatalf("bind: %v", err)
	}
	if err := unix.Listen(fd, 16); err != nil {
		t.Fatalf("listen: %v", err)
	}
	sa, err := unix.Getsockname(fd)
	if err != nil {
		t.Fatalf("getsockname: %v", err)
	}
	nonblocking(t, fd)
	return fd, sa.(*unix.SockaddrInet4)
}

// dialTCP connects a blocking socket to addr (loopback connects at once).
func dialTCP(t testing.TB, addr *unix.SockaddrInet4) int {
	t.Helper()
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM, 0)
	if err != nil {
		t.Fatalf("socket: %v", err)
	}
	closeFD(t, fd)
	unix.CloseOnExec(fd)
	if err := unix.Connect(fd, addr); err != nil {
		t.Fatalf("connect: %v", err)
	}
	return fd
}

// tcpPair returns the two ends of an accepted loopback TCP connection.
func tcpPair(t testing.TB) (client, server int) {
	t.Helper()
	ln, addr := listenTCP(t)
	client = dialTCP(t, addr)
	if err := unix.SetNonblock(ln, false); err != nil {
		t.Fatalf("setnonblock: %v", err)
	}
	server, _, err := unix.Accept(ln)
	if err != nil {
		t.Fatalf("accept: %v", err)
	}
	closeFD(t, server)
	nonblocking(t, client, server)
	return client, server
}

// regularFile returns a read-write descriptor on a temporary file.
func regularFile(t testing.TB) int {
	t.Helper()
	fd, err := unix.Open(filepath.Join(t.TempDir(), "f"), unix.O_RDWR|unix.O_CREAT|unix.O_CLOEXEC, 0o600)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	closeFD(t, fd)
	return fd
}

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
	if n, err := unix.Write(fd, []byte(s)); err != nil || n != len(s) {
		t.Fatalf("write fd %d: n=%d err=%v", fd, n, err)
	}
}

// read returns what one read(2) on fd gives; "" means EOF.
func read(t testing.TB, fd int) string {
	t.Helper()
	buf := make([]byte, 4096)
	n, err := unix.Read(fd, buf)
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
		_, err := unix.Read(fd, buf)
		if errors.Is(err, unix.EAGAIN) {
			return
		}
		if err != nil {
			t.Fatalf("drain fd %d: %v", fd, err)
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
