package chat

import (
	"testing"

	"golang.org/x/sys/windows"
)

// What the tests do on Windows, where it differs (see sys_other_test.go).
// cmd/iomux's and loop's tests have the same two.

// fdDirs is empty: Windows has no descriptor table to list (under Wine,
// /proc/self/fd lists Wine's own host descriptors, which come and go with
// its caches). The leak checks count descriptors elsewhere.
var fdDirs []string

// underWine reports whether the tests run under Wine, not Windows:
// Wine's ntdll exports wine_get_version.
var underWine = windows.NewLazySystemDLL("ntdll.dll").NewProc("wine_get_version").Find() == nil

// skipUnderWine skips a test that cannot pass under Wine, saying why; on
// Windows itself it runs.
func skipUnderWine(t *testing.T, why string) {
	t.Helper()
	if underWine {
		t.Skip("under Wine: " + why)
	}
}
