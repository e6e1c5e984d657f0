package main

import (
	"errors"
	"os"
	"testing"

	"golang.org/x/sys/windows"
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

// smallReceiveBuffer gives a client socket a 4 KiB receive buffer, so
// what it does not read waits in the server sooner.
func smallReceiveBuffer(fd uintptr) {
	windows.SetsockoptInt(windows.Handle(fd), windows.SOL_SOCKET, windows.SO_RCVBUF, 4096)
}
