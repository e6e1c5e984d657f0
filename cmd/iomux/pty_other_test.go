//go:build unix && !linux

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
