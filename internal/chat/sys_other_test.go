//go:build !windows

package chat

import "testing"

// What the tests do off Windows (see sys_windows_test.go).

// fdDirs list a process's open descriptors: Linux's /proc, and /dev/fd,
// which macOS and the BSDs have (FreeBSD's shows them all with fdescfs
// mounted, only 0-2 without).
var fdDirs = []string{"/proc/self/fd", "/dev/fd"}

// skipUnderWine does nothing off Windows.
func skipUnderWine(t *testing.T, why string) {}
