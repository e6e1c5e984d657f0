package iomux

import (
	"errors"
	"os"
	"sync"
	"syscall"
	"testing"
	"unsafe"

	"golang.org/x/sys/windows"
)

// The Windows side of the test helpers. The backends watch sockets only, so
// a "pipe" and a "socketpair" are both a loopback TCP connection (as
// Python's socket.socketpair is on Windows).

var (
	procAccept                = modws2.NewProc("accept")
	procGetProcessHandleCount = modkernel.NewProc("GetProcessHandleCount")
)

// openFDs counts this process's open handles.
func openFDs(t testing.TB) int {
	t.Helper()
	var n uint32
	if r, _, err := procGetProcessHandleCount.Call(uintptr(windows.CurrentProcess()), uintptr(unsafe.Pointer(&n))); r == 0 {
		t.Fatalf("GetProcessHandleCount: %v", err)
	}
	return int(n)
}

// closeFD closes a socket once, at the end of the test unless the test
// closes it first through the returned func.
func closeFD(t testing.TB, fd int) (closeNow func()) {
	done := false
	closeNow = func() {
		if !done {
			done = true
			windows.Closesocket(socket(fd))
		}
	}
	t.Cleanup(closeNow)
	return closeNow
}

func pipe(t testing.TB) (r, w int) {
	t.Helper()
	return ends(closablePipe(t))
}

func closablePipe(t testing.TB) (r, w int, closeR, closeW func()) {
	t.Helper()
	return closableSocketpair(t)
}

func socketpair(t testing.TB) (a, b int) {
	t.Helper()
	return ends(closableSocketpair(t))
}

// listeners is one listening socket per test, for the pairs it makes.
var listeners sync.Map // testing.TB → listener

type listener struct {
	fd   int
	addr *windows.SockaddrInet4
}

// closableSocketpair is a connected, non-blocking loopback TCP pair (a is
// the accepted end) plus functions that close each end early.
func closableSocketpair(t testing.TB) (a, b int, closeA, closeB func()) {
	t.Helper()
	l, ok := listeners.Load(t)
	if !ok {
		fd, addr := listenTCP(t)
		if err := setNonblock(socket(fd), false); err != nil {
			t.Fatal(err)
		}
		l = &listener{fd, addr}
		listeners.Store(t, l)
		t.Cleanup(func() { listeners.Delete(t) })
	}
	ln := l.(*listener)
	b = dialTCP(t, ln.addr)
	closeB = closeFD(t, b) // again: closes once
	a, err := accept(ln.fd)
	if err != nil {
		t.Fatalf("accept: %v", err)
	}
	closeA = closeFD(t, a)
	nonblocking(t, a, b)
	return a, b, closeA, closeB
}

func nonblocking(t testing.TB, fds ...int) {
	t.Helper()
	for _, fd := range fds {
		if err := setNonblock(socket(fd), true); err != nil {
			t.Fatalf("fd %d: %v", fd, err)
		}
	}
}

// accept is Winsock's accept (x/sys/windows has AcceptEx only).
func accept(ln int) (int, error) {
	r, _, err := syscall.SyscallN(procAccept.Addr(), uintptr(ln), 0, 0)
	if windows.Handle(r) == windows.InvalidHandle {
		return -1, os.NewSyscallError("accept", err)
	}
	return int(r), nil
}

// listenTCP returns a non-blocking listening socket on 127.0.0.1 and its
// address.
func listenTCP(t testing.TB) (fd int, addr *windows.SockaddrInet4) {
	t.Helper()
	s, err := windows.Socket(windows.AF_INET, windows.SOCK_STREAM, windows.IPPROTO_TCP)
	if err != nil {
		t.Fatalf("socket: %v", err)
	}
	fd = int(s)
	closeFD(t, fd)
	if err := windows.Bind(s, &windows.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatalf("bind: %v", err)
	}
	if err := windows.Listen(s, windows.SOMAXCONN); err != nil {
		t.Fatalf("listen: %v", err)
	}
	sa, err := windows.Getsockname(s)
	if err != nil {
		t.Fatalf("getsockname: %v", err)
	}
	nonblocking(t, fd)
	return fd, sa.(*windows.SockaddrInet4)
}

// dialTCP connects a blocking socket to addr (loopback connects at once).
func dialTCP(t testing.TB, addr *windows.SockaddrInet4) int {
	t.Helper()
	s, err := windows.Socket(windows.AF_INET, windows.SOCK_STREAM, windows.IPPROTO_TCP)
	if err != nil {
		t.Fatalf("socket: %v", err)
	}
	closeFD(t, int(s))
	if err := windows.Connect(s, addr); err != nil {
		t.Fatalf("connect: %v", err)
	}
	return int(s)
}

// tcpPair returns the two ends of an accepted loopback TCP connection.
func tcpPair(t testing.TB) (client, server int) {
	t.Helper()
	server, client = socketpair(t)
	return client, server
}

// regularFile returns a read-write handle on a temporary file. Not in
// t.TempDir: under Wine 8 os.RemoveAll fails on it ("unlinkat: Invalid
// function"); os.Remove works.
func regularFile(t testing.TB) int {
	t.Helper()
	f, err := os.CreateTemp("", "iomux-test-*")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		f.Close()
		if err := os.Remove(f.Name()); err != nil {
			t.Errorf("remove the temporary file: %v", err)
		}
	})
	return int(f.Fd())
}

// rawWrite and rawRead are one send and recv on a socket, and one
// WriteFile and ReadFile on a regular file.
func rawWrite(fd int, p []byte) (int, error) {
	if isSocket(fd) {
		return send(socket(fd), p, 0)
	}
	var n uint32
	err := windows.WriteFile(socket(fd), p, &n, nil)
	return int(n), err
}

func rawRead(fd int, p []byte) (int, error) {
	if isSocket(fd) {
		return recv(socket(fd), p, 0)
	}
	var n uint32
	err := windows.ReadFile(socket(fd), p, &n, nil)
	return int(n), err
}

func isSocket(fd int) bool { return checkSocket("test", fd) == nil }

func wouldBlock(err error) bool { return errors.Is(err, windows.WSAEWOULDBLOCK) }

func acceptClose(t testing.TB, ln int) {
	t.Helper()
	fd, err := accept(ln)
	if err != nil {
		t.Fatalf("accept: %v", err)
	}
	windows.Closesocket(socket(fd))
}

func acceptConn(t testing.TB, ln int) int {
	t.Helper()
	fd, err := accept(ln)
	if err != nil {
		t.Fatalf("accept: %v", err)
	}
	closeFD(t, fd)
	nonblocking(t, fd)
	return fd
}

func shutdownBoth(t testing.TB, fd int) {
	t.Helper()
	if err := windows.Shutdown(socket(fd), windows.SHUT_RDWR); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
}

func shutdownWrite(t testing.TB, fd int) {
	t.Helper()
	if err := windows.Shutdown(socket(fd), windows.SHUT_WR); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
}

func sendOOB(t testing.TB, fd int) {
	t.Helper()
	if _, err := send(socket(fd), []byte("!"), windows.MSG_OOB); err != nil {
		t.Fatalf("send MSG_OOB: %v", err)
	}
}

func stillOpen(fd int) error { return checkSocket("getsockopt", fd) }

func rewind(fd int) error {
	_, err := windows.Seek(socket(fd), 0, 0)
	return err
}

// On Windows a closed socket and a handle that is no socket are both
// WSAENOTSOCK.
var (
	errNotOpen    error = windows.WSAENOTSOCK
	errNoReader   error = windows.WSAECONNRESET
	errNotWatched error = windows.WSAENOTSOCK
)

// hasPipes: the backends watch sockets only.
const hasPipes = false

// hasRegularFileBackend: no backend here watches regular files.
const hasRegularFileBackend = false
