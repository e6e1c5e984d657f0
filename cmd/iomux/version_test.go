package main

import (
	"io"
	"os"
	"runtime"
	"strings"
	"testing"

	"github.com/iomux/iomux"
	"github.com/iomux/iomux/internal/linetest"
)

// runCaptured runs "iomux args..." in-process and returns its exit status
// and standard output. version and backends print to os.Stdout, so that is
// redirected to a pipe for the call, and so is run's stdout.
func runCaptured(t *testing.T, args ...string) (int, string) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	out := new(linetest.Output)
	copied := make(chan error, 1)
	go func() {
		_, err := io.Copy(out, r)
		copied <- err
	}()
	saved := os.Stdout
	os.Stdout = w
	var stderr strings.Builder
	code := run(args, w, &stderr)
	os.Stdout = saved
	w.Close()
	if err := <-copied; err != nil {
		t.Fatalf("read stdout: %v", err)
	}
	if stderr.Len() > 0 {
		t.Errorf("iomux %s wrote to stderr: %q", strings.Join(args, " "), stderr.String())
	}
	return code, out.String()
}

func TestBackendsPrintsBackendsInOrder(t *testing.T) {
	code, out := runCaptured(t, "backends")
	if code != 0 {
		t.Fatalf("exit status %d, want 0", code)
	}
	var want []string
	for i, b := range iomux.Backends() {
		if i == 0 {
			b += " (default)" // what --backend auto picks
		}
		want = append(want, b)
	}
	if wantOut := strings.Join(want, "\n") + "\n"; out != wantOut {
		t.Errorf("iomux backends printed\n%s\nwant, best first:\n%s", out, wantOut)
	}
}

func TestVersionPrintsGoVersion(t *testing.T) {
	code, out := runCaptured(t, "version")
	if code != 0 {
		t.Fatalf("exit status %d, want 0", code)
	}
	if !strings.HasPrefix(out, "iomux ") || !strings.Contains(out, runtime.Version()) {
		t.Errorf("iomux version printed %q, want a line starting %q and containing %q", out, "iomux ", runtime.Version())
	}
	if osArch := runtime.GOOS + "/" + runtime.GOARCH; !strings.Contains(out, osArch) {
		t.Errorf("iomux version printed %q, want it to name %s", out, osArch)
	}
}
