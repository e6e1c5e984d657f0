package iomux

import (
	"errors"
	"testing"
	"time"

	"golang.org/x/sys/windows"
)

// TestFailedConnect: a non-blocking connect that is refused shows as
// Writable (through Error) on every Windows backend, so a Dial waiting for
// Writable wakes and meets the failure in SO_ERROR. Winsock select reports
// it in the exception set and afd as AFD_POLL_CONNECT_FAIL; WSAPoll only
// since Windows 10 version 2004 (poll_windows.go).
func TestFailedConnect(t *testing.T) {
	for _, name := range Backends() {
		t.Run(name, func(t *testing.T) {
			s := mustOpen(t, backendOpener(name))
			ln, addr := listenTCP(t)
			windows.Closesocket(socket(ln)) // nothing listens there now
			fd, err := windows.Socket(windows.AF_INET, windows.SOCK_STREAM, windows.IPPROTO_TCP)
			if err != nil {
				t.Fatal(err)
			}
			closeFD(t, int(fd))
			nonblocking(t, int(fd))
			if err := windows.Connect(fd, addr); !errors.Is(err, windows.WSAEWOULDBLOCK) {
				t.Fatalf("non-blocking connect: %v, want WSAEWOULDBLOCK", err)
			}
			register(t, s, int(fd), Writable, nil)
			got := wait(t, s, 10*time.Second) // Windows retries a refused SYN for about 2 s
			if len(got) != 1 || got[0].FD != int(fd) || got[0].Events&Writable == 0 {
				t.Fatalf("%s Wait: got %v, want fd %d Writable", name, got, fd)
			}
			soErr, err := windows.GetsockoptInt(fd, windows.SOL_SOCKET, 0x1007) // SO_ERROR
			if err != nil || soErr != int(windows.WSAECONNREFUSED) {
				t.Errorf("SO_ERROR = %d, %v; want WSAECONNREFUSED (%d)", soErr, err, windows.WSAECONNREFUSED)
			}
		})
	}
}
