//go:build unix

package main

import (
	"errors"
	"os"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// What the program tests do that differs between Unix and Windows (see
// sys_windows_test.go).

// limitFiles lowers the process's descriptor limit (RLIMIT_NOFILE) to n.
func limitFiles(n uint64) error {
	var lim unix.Rlimit
	setRlim(&lim.Cur, n)
	setRlim(&lim.Max, n)
	return unix.Setrlimit(unix.RLIMIT_NOFILE, &lim)
}

// setRlim sets a field of unix.Rlimit, an int64 on some systems and a
// uint64 on others.
func setRlim[T int64 | uint64](field *T, n uint64) { *field = T(n) }

// terminateProc asks a process to stop (SIGTERM).
func terminateProc(p *os.Process) { p.Signal(syscall.SIGTERM) }

// sigtermSelf sends the test process SIGTERM.
func sigtermSelf(t *testing.T) {
	t.Helper()
	if err := syscall.Kill(syscall.Getpid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
}

// fillPipe fills w's buffer (made as small as the OS lets it), so that a
// writer to w blocks at once.
func fillPipe(t *testing.T, w *os.File) {
	t.Helper()
	fd := int(w.Fd())
	shrinkPipe(fd)
	if err := unix.SetNonblock(fd, true); err != nil {
		t.Fatal(err)
	}
	fill := make([]byte, 4096)
	for {
		if _, err := unix.Write(fd, fill); err != nil {
			if !errors.Is(err, unix.EAGAIN) {
				t.Fatal(err)
			}
			break
		}
	}
	if err := unix.SetNonblock(fd, false); err != nil { // the server's writes block, as on any pipe
		t.Fatal(err)
	}
}

// privateFileMode is the mode of the files only their owner may read:
// iomux cert's private key, log-server's --out file.
const privateFileMode = 0o600

// skipOnWindows does nothing on Unix.
func skipOnWindows(t *testing.T, why string) {}

// connResetText is how the OS words ECONNRESET.
const connResetText = "connection reset"
