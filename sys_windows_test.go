package iomux

import (
	"testing"

	"golang.org/x/sys/windows"
)

// threadID names the calling OS thread (lock it first).
func threadID() int { return int(windows.GetCurrentThreadId()) }

// inSyscall cannot be observed here; callers fall back to racing.
func inSyscall(int) bool { return true }

func eventFD(t testing.TB) int {
	t.Helper()
	t.Skip("eventfd is Linux-only")
	return -1
}

func ptyPair(t testing.TB) (ctl, term int) {
	t.Helper()
	t.Skip("pty test is Unix-only")
	return -1, -1
}

// testEINTR: Windows has no signals that interrupt a wait in the kernel,
// so there is no EINTR to retry.
func testEINTR(t *testing.T, _ opener) {
	t.Skip("Windows has no signals that interrupt a Winsock or completion-port wait: no EINTR")
}
