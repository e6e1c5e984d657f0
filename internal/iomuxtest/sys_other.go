//go:build !windows

package iomuxtest

import "testing"

// fdDirs list a process's open descriptors: Linux's /proc, and /dev/fd,
// which macOS and the BSDs have (FreeBSD's shows them all with fdescfs
// mounted, only 0-2 without).
var fdDirs = []string{"/proc/self/fd", "/dev/fd"}

// SkipUnderWine skips a test that cannot pass under Wine, saying why; off
// Windows it does nothing.
func SkipUnderWine(t testing.TB, why string) {}

// UnderWine reports whether the tests run under Wine: never off Windows.
func UnderWine() bool { return false }

// TempDir is t.TempDir (under Wine it is one that Wine can remove).
func TempDir(t testing.TB) string { return t.TempDir() }
