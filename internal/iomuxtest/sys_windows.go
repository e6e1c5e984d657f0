package iomuxtest

import (
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"golang.org/x/sys/windows"
)

// fdDirs is empty: Windows has no descriptor table to list (under Wine,
// /proc/self/fd lists Wine's own host descriptors, which come and go with
// its caches), so CheckLeaks checks goroutines only.
var fdDirs []string

// underWine reports whether the tests run under Wine, not Windows:
// Wine's ntdll exports wine_get_version.
var underWine = windows.NewLazySystemDLL("ntdll.dll").NewProc("wine_get_version").Find() == nil

// SkipUnderWine skips a test that cannot pass under Wine, saying why; on
// Windows itself, and off Windows, it does nothing.
func SkipUnderWine(t testing.TB, why string) {
	t.Helper()
	if underWine {
		t.Skip("under Wine: " + why)
	}
}

// UnderWine reports whether the tests run under Wine, where every socket
// call is a round trip to the wineserver: a test may scale its load down.
func UnderWine() bool { return underWine }

// TempDir is a directory for the test, removed at cleanup. It is not
// t.TempDir: under Wine 8, Go 1.26's os.RemoveAll fails on a directory's
// contents ("unlinkat: Invalid function": Wine lacks
// FileDispositionInformationEx), so TempDir's cleanup would fail every
// test that made a file. os.Remove (DeleteFile) works, entry by entry.
func TempDir(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "iomux-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		var paths []string
		filepath.WalkDir(dir, func(path string, _ fs.DirEntry, err error) error {
			paths = append(paths, path)
			return nil
		})
		for _, p := range slices.Backward(paths) { // contents before their directory
			if err := os.Remove(p); err != nil {
				t.Errorf("cleanup: %v", err)
			}
		}
	})
	return dir
}
