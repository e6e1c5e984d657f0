//go:build !linux

package main

import (
	"os"
	"testing"
)

// openClientPTY is Linux-only in these tests (it uses /dev/ptmx ioctls).
func openClientPTY(t *testing.T) (master, slave *os.File) {
	t.Helper()
	t.Skip("pseudo-terminal tests run on Linux only")
	return nil, nil
}

// setTermWidth and checkTermRestored are never reached here: openClientPTY
// skips first.
func setTermWidth(t *testing.T, master *os.File, cols int) {}
func checkTermRestored(t *testing.T, slave *os.File)       {}
