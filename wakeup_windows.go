package iomux

import (
	"errors"
	"os"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/windows"
)

// wakeup is a Selector's wake-up on Windows: a non-blocking UDP socket on
// 127.0.0.1 connected to itself, so that select and WSAPoll, which watch
// sockets only, see a signal as a readable datagram. Signals are coalesced
// by Selector.Wake, so it rarely holds more than one. The afd backend wakes
// through its completion port instead (PostQueuedCompletionStatus): it
// hands the port over with usePort, and the socket is then only the fd the
// kit knows the wake-up by.
type wakeup struct {
	sock windows.Handle
	port atomic.Uintptr // the completion port to post to, once afd set it
}

func (w *wakeup) open() error {
	s, err := windows.Socket(windows.AF_INET, windows.SOCK_DGRAM, windows.IPPROTO_UDP)
	if err != nil {
		return os.NewSyscallError("socket", err)
	}
	loopback := &windows.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}
	err = windows.Bind(s, loopback)
	var self windows.Sockaddr
	if err == nil {
		self, err = windows.Getsockname(s)
	}
	if err == nil {
		err = windows.Connect(s, self)
	}
	if err == nil {
		err = setNonblock(s, true)
	}
	if err != nil {
		windows.Closesocket(s)
		return os.NewSyscallError("wake-up socket", err)
	}
	w.sock = s
	wakeups.Store(w.fd(), w)
	return nil
}

// wakeups finds an open wake-up by its fd, for afd to hand it its port.
var wakeups sync.Map // fd → *wakeup

func (w *wakeup) fd() int { return int(w.sock) }

// usePort makes signal post a completion with wakeKey to port, and hands
// the port to the wakeup to close.
func (w *wakeup) usePort(port windows.Handle) { w.port.Store(uintptr(port)) }

func (w *wakeup) signal() error {
	if port := w.port.Load(); port != 0 {
		return os.NewSyscallError("PostQueuedCompletionStatus",
			windows.PostQueuedCompletionStatus(windows.Handle(port), 0, wakeKey, nil))
	}
	_, err := send(w.sock, []byte{1}, 0)
	if err == nil || errors.Is(err, windows.WSAEWOULDBLOCK) {
		return nil // a full buffer: a wake-up is pending anyway
	}
	return os.NewSyscallError("send", err)
}

func (w *wakeup) drain() {
	if w.port.Load() != 0 {
		return // the completion was the signal; nothing is left
	}
	var buf [64]byte
	for {
		if _, err := recv(w.sock, buf[:], 0); err != nil {
			return // WSAEWOULDBLOCK: empty
		}
	}
}

// close closes the socket, and the port if afd handed it over: no Wake can
// post to it after this (the kit excludes them).
func (w *wakeup) close() error {
	wakeups.Delete(w.fd())
	if port := w.port.Load(); port != 0 {
		windows.CloseHandle(windows.Handle(port))
	}
	return os.NewSyscallError("closesocket", windows.Closesocket(w.sock))
}

// wakeKey is the completion key of a wake-up posted to afd's port; the
// sockets' completions carry key 0.
const wakeKey = 1
