package httpserver

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/iomux/iomux/internal/iomuxtest"
	"github.com/iomux/iomux/loophttp"
)

// TestSameUnderBothServers runs the handler under net/http.Server and
// loophttp and requires the same answers from both.
func TestSameUnderBothServers(t *testing.T) {
	iomuxtest.CheckLeaks(t)
	h := New(".") // this package's files; not t.TempDir, whose cleanup fails under Wine
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	std := &http.Server{Handler: h}
	go std.Serve(ln)
	defer std.Close()
	ours := &loophttp.Server{Handler: h}
	if err := ours.Start("tcp", "127.0.0.1:0", nil); err != nil {
		t.Fatal(err)
	}
	defer ours.Close()

	tr := &http.Transport{DisableCompression: true}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	type req struct{ method, path, body string }
	for _, r := range []req{
		{"GET", "/inspect", ""}, {"POST", "/inspect?a=b", "hello"}, {"PUT", "/echo", strings.Repeat("e", 100000)},
		{"GET", "/status/200", ""}, {"GET", "/status/204", ""}, {"GET", "/status/304", ""}, {"HEAD", "/status/404", ""},
		{"GET", "/status/abc", ""}, {"GET", "/stream?n=5&size=1000", ""}, {"GET", "/stream?n=-1&size=1", ""},
		{"GET", "/slow?ms=1", ""}, {"GET", "/plaintext", ""}, {"GET", "/missing.txt", ""}, {"GET", "/", ""},
	} {
		var got [2]string
		for i, addr := range []string{ln.Addr().String(), ours.Addrs()[0].String()} {
			var body io.Reader
			if r.body != "" {
				body = strings.NewReader(r.body)
			}
			hr, _ := http.NewRequest(r.method, "http://"+addr+r.path, body)
			resp, err := c.Do(hr)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			b = []byte(strings.ReplaceAll(string(b), addr, "ADDR"))
			got[i] = fmt.Sprintf("%d %q %q %d %v %q", resp.StatusCode, resp.Header.Get("Content-Type"),
				resp.Header.Get("Content-Length"), resp.ContentLength, resp.TransferEncoding, b)
		}
		if got[0] != got[1] {
			t.Errorf("%s %s:\nnet/http: %s\nloophttp: %s", r.method, r.path, got[0], got[1])
		}
	}
}
