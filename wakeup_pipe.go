//go:build unix && !linux

package iomux

import (
	"os"

	"golang.org/x/sys/unix"
)

// wakeup is a Selector's wake-up descriptor: a non-blocking pipe. Signals are
// coalesced by Selector.Wake, so the pipe rarely holds more than one byte.
type wakeup struct{ r, w int }

func (p *wakeup) open() error {
	var fds [2]int
	if err := unix.Pipe(fds[:]); err != nil {
		return os.NewSyscallError("pipe", err)
	}
	for _, fd := range fds {
		unix.CloseOnExec(fd)
		if err := unix.SetNonblock(fd, true); err != nil {
			unix.Close(fds[0])
			unix.Close(fds[1])
			return os.NewSyscallError("setnonblock", err)
		}
	}
	p.r, p.w = fds[0], fds[1]
	return nil
}

func (p *wakeup) fd() int { return p.r }

func (p *wakeup) signal() error { return signalFD(p.w, []byte{1}, "wakeup write") }

func (p *wakeup) drain() {
	var buf [64]byte
	for {
		n, err := unix.Read(p.r, buf[:])
		if err == unix.EINTR {
			continue
		}
		if n < len(buf) {
			return
		}
	}
}

func (p *wakeup) close() error {
	err := unix.Close(p.r)
	if werr := unix.Close(p.w); err == nil {
		err = werr
	}
	return err
}
