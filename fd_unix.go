//go:build unix

package iomux

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// checkOpen fails unless fd is an open descriptor. The kit asks before it
// grows its fd-indexed tables to take fd, so that a bogus large number
// fails with EBADF instead of allocating a table that size.
func checkOpen(op string, fd int) error {
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); err != nil {
		return fmt.Errorf("%s fd %d: %w", op, fd, os.NewSyscallError("fcntl", err))
	}
	return nil
}
