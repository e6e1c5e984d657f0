package loophttp

import (
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/iomux/iomux/internal/httpserver"
	"github.com/iomux/iomux/internal/iomuxtest"
)

// TestRealClients serves the clients people test HTTP servers with, where
// they are installed (CI installs them): Python's http.client, ab, wrk,
// h2load --h1 and slowhttptest's slowloris.
func TestRealClients(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	iomuxtest.CheckLeaks(t)
	s := Server{ReadHeaderTimeout: time.Second}
	addr := serve(t, &s, httpserver.New(""))
	base := "http://" + addr
	run := func(t *testing.T, name string, args ...string) string {
		t.Helper()
		if _, err := exec.LookPath(name); err != nil {
			t.Skipf("no %s", name)
		}
		out, err := exec.Command(name, args...).CombinedOutput()
		if err != nil {
			t.Fatalf("%s %v: %v\n%s", name, args, err, out)
		}
		return string(out)
	}
	want := func(t *testing.T, out string, patterns ...string) {
		t.Helper()
		for _, p := range patterns {
			if !regexp.MustCompile(p).MatchString(out) {
				t.Errorf("no %q in:\n%s", p, out)
			}
		}
	}
	t.Run("python", func(t *testing.T) {
		out := run(t, "python3", "-c", `
import http.client, json, sys
c = http.client.HTTPConnection(sys.argv[1], timeout=10)
for i in range(3):
    c.request("GET", "/plaintext")
    r = c.getresponse()
    assert r.status == 200 and r.read() == b"Hello, World!", r.status
def parts():
    yield b"hello, "
    yield b"chunked world"
c.request("POST", "/inspect", body=parts(), encode_chunked=True, headers={"Transfer-Encoding": "chunked"})
rep = json.loads(c.getresponse().read())
assert rep["body_len"] == 20 and rep["transfer_encoding"] == ["chunked"], rep
print("ok", c.sock.getsockname() is not None)
`, addr)
		want(t, out, `^ok True`)
	})
	t.Run("ab", func(t *testing.T) {
		out := run(t, "ab", "-k", "-n", "2000", "-c", "20", base+"/plaintext")
		want(t, out, `Complete requests:\s+2000`, `Failed requests:\s+0`, `Keep-Alive requests:\s+2000`)
	})
	t.Run("wrk", func(t *testing.T) {
		out := run(t, "wrk", "-t1", "-c20", "-d1s", base+"/plaintext")
		want(t, out, `Requests/sec:\s+[1-9]`)
		if strings.Contains(out, "Socket errors") || strings.Contains(out, "Non-2xx") {
			t.Errorf("wrk saw errors:\n%s", out)
		}
	})
	t.Run("h2load", func(t *testing.T) {
		out := run(t, "h2load", "--h1", "-n", "2000", "-c", "10", base+"/plaintext")
		want(t, out, `2000 succeeded, 0 failed, 0 errored`)
	})
	t.Run("slowloris", func(t *testing.T) {
		// 200 connections dribbling headers, one field a second for 6 s:
		// each is closed at ReadHeaderTimeout (1 s), and the server stays
		// available to the probe throughout.
		out := run(t, "slowhttptest", "-H", "-c", "200", "-r", "200", "-i", "1", "-l", "6", "-p", "2", "-u", base+"/plaintext")
		out = regexp.MustCompile("\x1b\\[[0-9;]*m").ReplaceAllString(out, "") // its colours
		want(t, out, `service available:\s+YES`, `closed:\s+[1-9]|No open connections left`)
		if regexp.MustCompile(`service available:\s+NO`).MatchString(out) {
			t.Errorf("the server was unavailable at some point:\n%s", out)
		}
		if open := s.Stats().Open; open > 10 {
			t.Errorf("%d connections still open after the slowloris", open)
		}
	})
}
