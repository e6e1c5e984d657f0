//go:build !linux

package iomux

import "testing"

// eventFD skips: eventfd is Linux's own.
func eventFD(t testing.TB) int {
	t.Helper()
	t.Skip("eventfd is Linux-only")
	return -1
}

// ptyPair skips: the pty helper uses Linux's /dev/ptmx ioctls.
func ptyPair(t testing.TB) (ctl, term int) {
	t.Helper()
	t.Skip("pty test is Linux-only")
	return -1, -1
}
