//go:build unix

package iomux

import (
	"os"

	"golang.org/x/sys/unix"
)

// A Selector's wakeup (wakeup_linux.go: an eventfd; wakeup_pipe.go: a pipe)
// has open, fd (the descriptor the kit registers for Readable), signal
// (make it readable; safe from any goroutine), drain (make it unreadable
// again) and close. Many signals before a drain may leave it readable once.

// signalFD writes token to the non-blocking wake-up descriptor fd, retrying
// EINTR. EAGAIN (counter or pipe full) is success: a wake-up is pending
// anyway.
func signalFD(fd int, token []byte, call string) error {
	for {
		_, err := unix.Write(fd, token)
		switch err {
		case nil, unix.EAGAIN:
			return nil
		case unix.EINTR:
			continue
		}
		return os.NewSyscallError(call, err)
	}
}
