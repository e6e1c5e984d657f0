//go:build unix

package iomux

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// The Unix side of the test helpers: descriptors are pipes, socket pairs and
// files, made with golang.org/x/sys/unix.

// openFDs counts this process's open descriptors (fdDir is per OS).
func openFDs(t testing.TB) int {
	t.Helper()
	ents, err := os.ReadDir(fdDir)
	if err != nil {
		t.Fatalf("count fds: %v", err)
	}
	return len(ents) - 1 // ReadDir's own descriptor
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

// rawWrite and rawRead are one write(2) and read(2).
func rawWrite(fd int, p []byte) (int, error) { return unix.Write(fd, p) }
func rawRead(fd int, p []byte) (int, error)  { return unix.Read(fd, p) }

// wouldBlock reports whether err is a non-blocking call's EAGAIN.
func wouldBlock(err error) bool { return errors.Is(err, unix.EAGAIN) }

// acceptClose accepts one connection on the listener ln and closes it.
func acceptClose(t testing.TB, ln int) {
	t.Helper()
	fd, _, err := unix.Accept(ln)
	if err != nil {
		t.Fatalf("accept: %v", err)
	}
	unix.Close(fd)
}

// acceptConn accepts one connection on the listener ln: non-blocking,
// closed at cleanup.
func acceptConn(t testing.TB, ln int) int {
	t.Helper()
	fd, _, err := unix.Accept(ln)
	if err != nil {
		t.Fatalf("accept: %v", err)
	}
	closeFD(t, fd)
	nonblocking(t, fd)
	return fd
}

// shutdownBoth shuts down both halves of fd.
func shutdownBoth(t testing.TB, fd int) {
	t.Helper()
	if err := unix.Shutdown(fd, unix.SHUT_RDWR); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
}

// shutdownWrite shuts down fd's writing half.
func shutdownWrite(t testing.TB, fd int) {
	t.Helper()
	if err := unix.Shutdown(fd, unix.SHUT_WR); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
}

// sendOOB sends one byte of TCP urgent data.
func sendOOB(t testing.TB, fd int) {
	t.Helper()
	if err := unix.Sendto(fd, []byte("!"), unix.MSG_OOB, nil); err != nil {
		t.Fatalf("send MSG_OOB: %v", err)
	}
}

// stillOpen fails unless fd is an open descriptor.
func stillOpen(fd int) error {
	_, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
	return err
}

// rewind seeks fd back to its start.
func rewind(fd int) error {
	_, err := unix.Seek(fd, 0, 0)
	return err
}

// The errors the OS gives a closed descriptor, a write to a pipe without a
// reader, and a backend's refusal of a regular file.
var (
	errNotOpen    error = unix.EBADF
	errNoReader   error = unix.EPIPE
	errNotWatched error = unix.EPERM
)

// hasPipes: pipes are watchable here.
const hasPipes = true

// hasRegularFileBackend: some backend here watches regular files.
const hasRegularFileBackend = true

// skipKnownGap skips a conformance case this platform cannot pass for a
// reason outside iomux: none on Unix (see helpers_windows_test.go).
func skipKnownGap(*testing.T, string) {}
