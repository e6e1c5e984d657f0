// Package iomuxtest holds what the tests of code built on iomux share:
// running a test on every backend this OS has (ForEachBackend), checking
// that a test leaves no goroutine or descriptor behind (CheckLeaks), and
// skipping what Wine cannot do (SkipUnderWine).
//
// It imports iomux, so iomux's own in-package tests cannot use it.
package iomuxtest

import (
	"os"
	"testing"

	"go.uber.org/goleak"

	"github.com/iomux/iomux"
)

// ForEachBackend runs f as a subtest named after each backend this OS
// has (iomux.Backends), each checked by CheckLeaks.
func ForEachBackend(t *testing.T, f func(t *testing.T, backend string)) {
	for _, b := range iomux.Backends() {
		t.Run(b, func(t *testing.T) {
			CheckLeaks(t)
			f(t, b)
		})
	}
}

// CheckLeaks fails the test if, once its cleanups have run, it has left
// goroutines, or more open descriptors than it found, behind. Call it
// first, so that its cleanup runs last. A test that failed already is
// not checked. Where OpenFDs cannot count descriptors, only goroutines
// are checked, and the test logs so.
func CheckLeaks(t testing.TB) {
	fds, countable := OpenFDs()
	if !countable {
		t.Logf("cannot list open descriptors (none of %v): not checking them for leaks", fdDirs)
	}
	ignore := goleak.IgnoreCurrent()
	t.Cleanup(func() {
		if t.Failed() {
			return
		}
		goleak.VerifyNone(t, ignore)
		// Fewer is no leak: an earlier test's descriptor (a child's pipe,
		// say) may close meanwhile.
		if now, _ := OpenFDs(); countable && now > fds {
			t.Errorf("%d descriptors open after the test, %d before", now, fds)
		}
	})
}

// OpenFDs counts this process's open descriptors, listing the first
// directory of this OS's that can be listed (/proc/self/fd, else
// /dev/fd); ok is false when none can (on Windows, always).
func OpenFDs() (n int, ok bool) { return openFDsIn(fdDirs) }

// openFDsIn counts the entries of the first of dirs that can be listed.
func openFDsIn(dirs []string) (n int, ok bool) {
	for _, dir := range dirs {
		if entries, err := os.ReadDir(dir); err == nil {
			return len(entries), true
		}
	}
	return 0, false
}
