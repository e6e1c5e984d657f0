// Package python finds the Python 3 interpreter and the Python select
// tutorials' programs (testdata/python), for the tests that run them
// against iomux's programs.
package python

import (
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
)

// Path returns the python3 interpreter's own path, or "" if there is none.
// It is looked up once: a version manager's shim on PATH (pyenv) costs
// seconds per start, the interpreter behind it milliseconds.
var Path = sync.OnceValue(func() string {
	shim, err := exec.LookPath("python3")
	if err != nil {
		return ""
	}
	out, err := exec.Command(shim, "-c", "import sys; print(sys.executable)").Output()
	if path := strings.TrimSpace(string(out)); err == nil && path != "" {
		return path
	}
	return shim
})

// Need returns the interpreter's path, or skips the test if there is none.
func Need(t testing.TB) string {
	t.Helper()
	p := Path()
	if p == "" {
		t.Skip("python3 not installed")
	}
	return p
}

// Script returns the path of one of the tutorials' programs, by file name
// ("select_echo_server.py").
func Script(name string) string {
	_, here, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(here), "..", "..", "testdata", "python", name)
}
