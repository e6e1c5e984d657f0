package loophttp

import (
	"bytes"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/iomux/iomux/internal/iomuxtest"
)

// TestFileServer serves files with http.FileServer: whole, Range, a
// conditional request, HEAD, the same bytes as net/http would send; and
// on Linux the body went by sendfile (the handler's writes did not copy it).
func TestFileServer(t *testing.T) {
	iomuxtest.CheckLeaks(t)
	dir := iomuxtest.TempDir(t)
	content := make([]byte, 5<<20+123)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range content {
		content[i] = byte(rng.Uint32())
	}
	if err := os.WriteFile(filepath.Join(dir, "big.bin"), content, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "small.txt"), []byte("small file\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var s Server
	addr := serve(t, &s, http.FileServer(http.Dir(dir)))
	c := client(t)
	get := func(path string, hdr ...string) (*http.Response, []byte) {
		t.Helper()
		req, _ := http.NewRequest("GET", "http://"+addr+path, nil)
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		return resp, b
	}
	for range 2 { // twice on one connection: the file's end leaves it in step
		resp, b := get("/big.bin")
		if resp.StatusCode != 200 || !bytes.Equal(b, content) || resp.ContentLength != int64(len(content)) {
			t.Fatalf("big.bin: %d, %d bytes of %d, equal %v", resp.StatusCode, len(b), len(content), bytes.Equal(b, content))
		}
	}
	resp, b := get("/big.bin", "Range", "bytes=1000-2000999")
	if resp.StatusCode != 206 || !bytes.Equal(b, content[1000:2001000]) {
		t.Fatalf("range: %d, %d bytes", resp.StatusCode, len(b))
	}
	resp, _ = get("/big.bin", "If-Modified-Since", resp.Header.Get("Last-Modified"))
	if resp.StatusCode != 304 {
		t.Fatalf("conditional: %d", resp.StatusCode)
	}
	resp, b = get("/small.txt")
	if string(b) != "small file\n" || resp.Header.Get("Content-Type") != "text/plain; charset=utf-8" {
		t.Fatalf("small: %q %v", b, resp.Header)
	}
	req, _ := http.NewRequest("HEAD", "http://"+addr+"/big.bin", nil)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.ContentLength != int64(len(content)) {
		t.Fatalf("HEAD: %d", resp.ContentLength)
	}
	st := s.Stats()
	if st.BytesOut < int64(2*len(content)) {
		t.Errorf("BytesOut %d", st.BytesOut)
	}
	if runtime.GOOS == "linux" && st.SentFile < int64(2*len(content)) { // all but the sniffed 512 bytes of each
		t.Errorf("%d bytes went by sendfile of %d served", st.SentFile, st.BytesOut)
	}
}
