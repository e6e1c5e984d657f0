package iomuxtest

import (
	"net"
	"testing"
	"time"

	"github.com/iomux/iomux/internal/sock"
)

// ListenBacklog0 opens a socket listening on address with a backlog of 0,
// never accepted, closed at the test's end: a connect to it is refused
// (Unix) or hangs (TCP) once its queue is full.
func ListenBacklog0(t testing.TB, network, address string) (int, sock.Endpoint) {
	t.Helper()
	e, err := sock.Resolve(network, address)
	if err != nil {
		t.Fatal(err)
	}
	fd, err := sock.Open(e)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sock.Close(fd) })
	if err := sock.Bind(fd, e); err != nil {
		t.Fatal(err)
	}
	if err := sock.Listen(fd, 0); err != nil {
		t.Fatal(err)
	}
	return fd, e
}

// HangingAddr returns a loopback TCP address whose accept queue is full,
// so that a connect to it hangs (the kernel drops the SYN); it skips the
// test where no connect can be made to hang.
func HangingAddr(t testing.TB) string {
	t.Helper()
	fd, e := ListenBacklog0(t, "tcp", "127.0.0.1:0")
	bound, err := sock.Bound(fd, e)
	if err != nil {
		t.Fatal(err)
	}
	addr := bound.Addr().String()
	for range 8 { // connect until one hangs: the queue then holds what it can
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err != nil {
			return addr
		}
		t.Cleanup(func() { c.Close() })
	}
	t.Skip("cannot fill a loopback accept queue here: no connect hangs")
	return ""
}
