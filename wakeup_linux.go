package iomux

import (
	"encoding/binary"
	"os"

	"golang.org/x/sys/unix"
)

// wakeup is a Selector's wake-up descriptor: one non-blocking eventfd,
// whose counter coalesces any number of signals into one readable event.
type wakeup struct{ efd int }

func (w *wakeup) open() error {
	fd, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		return os.NewSyscallError("eventfd", err)
	}
	w.efd = fd
	return nil
}

func (w *wakeup) fd() int { return w.efd }

func (w *wakeup) signal() error {
	var one [8]byte
	binary.NativeEndian.PutUint64(one[:], 1)
	return signalFD(w.efd, one[:], "eventfd write")
}

func (w *wakeup) drain() {
	var buf [8]byte
	for {
		if _, err := unix.Read(w.efd, buf[:]); err != unix.EINTR {
			return
		}
	}
}

func (w *wakeup) close() error { return unix.Close(w.efd) }
