//go:build unix && !linux

package iomux

import (
	"os"

	"golang.org/x/sys/unix"
)

// fdDir lists this process's open descriptors.
const fdDir = "/dev/fd"

// threadID is unknown here: signals go to the process.
func threadID() int { return 0 }

// inSyscall cannot be observed here; callers fall back to racing.
func inSyscall(int) bool { return true }

func signalThread(_ int, sig unix.Signal) error { return unix.Kill(os.Getpid(), sig) }
