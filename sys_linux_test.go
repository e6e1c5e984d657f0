package iomux

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// fdDir lists this process's open descriptors.
const fdDir = "/proc/self/fd"

// threadID names the calling OS thread (lock it first).
func threadID() int { return unix.Gettid() }

// inSyscall reports whether thread tid is asleep in a system call, which for
// a goroutine locked to it right before Wait means Wait is in the kernel.
func inSyscall(tid int) bool {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/self/task/%d/stat", tid))
	if err != nil {
		return false
	}
	// The state follows the parenthesised command name.
	i := strings.LastIndexByte(string(stat), ')')
	if i < 0 || i+2 >= len(stat) || stat[i+2] != 'S' {
		return false
	}
	sc, err := os.ReadFile(fmt.Sprintf("/proc/self/task/%d/syscall", tid))
	if err != nil {
		return false
	}
	nr, err := strconv.Atoi(strings.Fields(string(sc) + " x")[0])
	return err == nil && nr != unix.SYS_FUTEX // futex: parked by the scheduler, not in Wait
}

// signalThread sends sig to one thread of this process.
func signalThread(tid int, sig unix.Signal) error {
	return unix.Tgkill(os.Getpid(), tid, sig)
}

// eventFD returns a non-blocking eventfd, closed at cleanup.
func eventFD(t testing.TB) int {
	t.Helper()
	fd, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		t.Fatalf("eventfd: %v", err)
	}
	closeFD(t, fd)
	return fd
}

// ptyPair opens a pseudo-terminal (controller, terminal) or skips.
func ptyPair(t testing.TB) (ctl, term int) {
	t.Helper()
	ctl, err := unix.Open("/dev/ptmx", unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	if err != nil {
		t.Skipf("no pty: %v", err)
	}
	closeFD(t, ctl)
	if err := unix.IoctlSetPointerInt(ctl, unix.TIOCSPTLCK, 0); err != nil {
		t.Skipf("no pty: unlockpt: %v", err)
	}
	n, err := unix.IoctlGetInt(ctl, unix.TIOCGPTN)
	if err != nil {
		t.Skipf("no pty: ptsname: %v", err)
	}
	term, err = unix.Open(fmt.Sprintf("/dev/pts/%d", n), unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	if err != nil {
		t.Skipf("no pty: open terminal: %v", err)
	}
	closeFD(t, term)
	return ctl, term
}
