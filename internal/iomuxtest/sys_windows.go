package iomuxtest

import (
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
