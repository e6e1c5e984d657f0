package main

import (
	"errors"
	"os"
	"testing"
)

// What the program tests do on Windows, where it differs from Unix (see
// sys_unix_test.go).

// limitFiles fails: Windows has no per-process descriptor limit to lower.
func limitFiles(n uint64) error {
	return errors.New("windows has no per-process socket limit (RLIMIT_NOFILE) to lower")
}

// terminateProc stops a process: Windows cannot send another process
// SIGTERM (os.Process.Signal supports Kill only), so it is killed.
func terminateProc(p *os.Process) { p.Kill() }

// sigtermSelf skips the test: a Windows process cannot be sent SIGTERM
// (its Ctrl-C comes from its console, which a test has not).
func sigtermSelf(t *testing.T) {
	t.Skip("no SIGTERM on Windows: a process gets Ctrl-C from its console")
}

// fillPipe skips the test: it needs a non-blocking write to a pipe, which
// Windows's anonymous pipes have not.
func fillPipe(t *testing.T, w *os.File) {
	t.Skip("a full pipe needs non-blocking pipe writes, which Windows's anonymous pipes have not")
}

// privateFileMode is what Go reports on Windows for the files only their
// owner should read (iomux cert's private key, log-server's --out file):
// 0666 for any file without the read-only attribute (who may read it is
// the ACL its directory passes on, which Go does not show).
const privateFileMode = 0o666

// connResetText is how Windows words WSAECONNRESET.
const connResetText = "forcibly closed"

// skipOnWindows skips a test of what Windows does not have, or words
// otherwise.
func skipOnWindows(t *testing.T, why string) {
	t.Helper()
	t.Skip(why)
}
