package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/iomux/iomux/internal/httpserver"
	"github.com/iomux/iomux/internal/iomuxtest"
)

func TestHTTPServer(t *testing.T) {
	iomuxtest.CheckLeaks(t)
	dir := iomuxtest.TempDir(t)
	if err := os.WriteFile(filepath.Join(dir, "hello.txt"), []byte("hello, file\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	s := srvStart(t, runHTTPServer, "--dir", dir, "-v", "--loops", "2")
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	base := "http://" + s.addr

	resp, err := c.Post(base+"/inspect?q=1", "text/plain", strings.NewReader("some body"))
	if err != nil {
		t.Fatal(err)
	}
	var rep httpserver.Report
	if err := json.NewDecoder(resp.Body).Decode(&rep); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if rep.Method != "POST" || rep.Target != "/inspect?q=1" || rep.BodyLen != 9 || rep.Headers.Get("Content-Type") != "text/plain" {
		t.Errorf("inspect: %+v", rep)
	}
	for path, want := range map[string]string{
		"/hello.txt":               "hello, file\n",
		"/status/418":              "status 418\n",
		"/stream?n=3&size=2":       "aabbcc",
		"/slow?ms=10":              "ok",
		"/plaintext":               "Hello, World!",
		"/status/99":               "want /status/NNN with NNN from 200 to 599\n",
		"/stream?n=1&size=9999999": "want /stream?n=N&size=S, S from 1 to 1 MiB, N*S at most 1 GiB\n",
	} {
		resp, err := c.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(b) != want {
			t.Errorf("%s: %q, want %q", path, b, want)
		}
	}
	// The echo streams: each part comes back before the next is sent.
	pr, pw := io.Pipe()
	req, _ := http.NewRequest("POST", base+"/echo", pr)
	done := make(chan *http.Response, 1)
	go func() {
		resp, err := c.Do(req)
		if err != nil {
			t.Error(err)
			close(done)
			return
		}
		done <- resp
	}()
	pw.Write([]byte("ping"))
	resp = <-done
	if resp == nil {
		return
	}
	buf := make([]byte, 4)
	if _, err := io.ReadFull(resp.Body, buf); err != nil || string(buf) != "ping" {
		t.Fatalf("echo: %q %v", buf, err)
	}
	pw.Write([]byte("pong"))
	pw.Close()
	rest, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(rest) != "pong" {
		t.Fatalf("echo rest: %q", rest)
	}
	s.errs.WaitFor(t, "GET /plaintext HTTP/1.1 200 13 bytes", 1)

	// A body over 8 MiB: 413.
	resp, err = c.Post(base+"/inspect", "application/octet-stream", bytes.NewReader(make([]byte, 9<<20)))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("9 MiB to /inspect: %d", resp.StatusCode)
	}
}

func TestHTTPServerFlags(t *testing.T) {
	for _, args := range [][]string{
		{"--read-header-timeout", "-1s"},
		{"--dir", "/nonexistent/dir"},
		{"--tls-cert", "x"},
		{"extra"},
	} {
		var out, errs bytes.Buffer
		if err := runHTTPServer(testEnv(&out, &errs), append([]string{"--addr", "127.0.0.1:0"}, args...)); err == nil {
			t.Errorf("%v: no error", args)
		}
	}
}
