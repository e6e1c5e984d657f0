package iomuxtest

import (
	"fmt"
	"os"
	"strings"
	"testing"
)

// recorder is a testing.TB that keeps its cleanups, for the test to run,
// and its errors, for the test to check.
type recorder struct {
	testing.TB
	cleanups []func()
	errs     []string
}

func (r *recorder) Helper()           {}
func (r *recorder) Cleanup(f func())  { r.cleanups = append(r.cleanups, f) }
func (r *recorder) Failed() bool      { return len(r.errs) > 0 }
func (r *recorder) Error(args ...any) { r.errs = append(r.errs, fmt.Sprint(args...)) }
func (r *recorder) Errorf(format string, args ...any) {
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}

// cleanUp runs r's cleanups, last first, as a test's end does.
func (r *recorder) cleanUp() {
	for i := len(r.cleanups) - 1; i >= 0; i-- {
		r.cleanups[i]()
	}
}

// CheckLeaks passes a test that leaves nothing behind, and fails one that
// leaves a goroutine, or (where descriptors can be counted) a descriptor.
func TestCheckLeaks(t *testing.T) {
	clean := &recorder{TB: t}
	CheckLeaks(clean)
	f, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	clean.cleanUp()
	if len(clean.errs) > 0 {
		t.Errorf("a test that left nothing behind failed: %q", clean.errs)
	}

	leaky := &recorder{TB: t}
	CheckLeaks(leaky)
	release := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		<-release
	}()
	f, err = os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	leaky.cleanUp()
	close(release)
	<-stopped
	f.Close()
	all := strings.Join(leaky.errs, "\n")
	if !strings.Contains(all, "TestCheckLeaks") {
		t.Errorf("a leaked goroutine was not reported: %q", leaky.errs)
	}
	if _, countable := OpenFDs(); countable && !strings.Contains(all, "descriptors open after the test") {
		t.Errorf("a leaked descriptor was not reported: %q", leaky.errs)
	}
}

// The leak check counts descriptors wherever the OS lists them: each of
// fdDirs this OS has sees one more after an open, and a missing /proc
// falls back to /dev/fd instead of skipping the test.
func TestOpenFDsCountsDescriptors(t *testing.T) {
	if _, ok := openFDsIn([]string{"/nonexistent/fd", "/also/missing"}); ok {
		t.Fatal("openFDsIn listed a directory that does not exist")
	}
	listed := 0
	for _, dir := range fdDirs {
		dirs := []string{"/nonexistent/fd", dir} // as on macOS: no /proc, /dev/fd
		before, ok := openFDsIn(dirs)
		if !ok {
			continue
		}
		listed++
		f, err := os.Open(os.DevNull)
		if err != nil {
			t.Fatal(err)
		}
		during, _ := openFDsIn(dirs)
		f.Close()
		after, _ := openFDsIn(dirs)
		if during != before+1 || after != before {
			t.Errorf("%s: %d descriptors, %d with one more open, %d once closed; want %d, %d, %d",
				dir, before, during, after, before, before+1, before)
		}
	}
	if listed == 0 {
		t.Skipf("none of %v can be listed here", fdDirs)
	}
}
