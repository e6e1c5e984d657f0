package loophttp

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/iomux/iomux/internal/devcert"
	"github.com/iomux/iomux/internal/iomuxtest"
)

// closedWithin reports whether the server closes nc within d (reading and
// dropping what it sends): an EOF, or a reset (what Wine's sockets give).
func closedWithin(nc net.Conn, d time.Duration) bool {
	nc.SetReadDeadline(time.Now().Add(d))
	_, err := io.Copy(io.Discard, nc)
	return !errors.Is(err, os.ErrDeadlineExceeded)
}

func TestSlowlorisClosedAtReadHeaderTimeout(t *testing.T) {
	iomuxtest.CheckLeaks(t)
	s := Server{ReadHeaderTimeout: 200 * time.Millisecond}
	addr := serve(t, &s, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	start := time.Now()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // a header byte every 50 ms, for ever
		defer wg.Done()
		fmt.Fprint(nc, "GET / HTTP/1.1\r\nHost: x\r\n")
		for {
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond):
				if _, err := nc.Write([]byte("X")); err != nil {
					return
				}
			}
		}
	}()
	if !closedWithin(nc, 3*time.Second) {
		t.Fatal("a dribbled head was not closed")
	}
	close(stop)
	wg.Wait()
	if took := time.Since(start); took < 150*time.Millisecond {
		t.Fatalf("closed after %v, before the timeout", took)
	}
}

func TestIdleTimeout(t *testing.T) {
	iomuxtest.CheckLeaks(t)
	s := Server{IdleTimeout: 200 * time.Millisecond}
	addr := serve(t, &s, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	fmt.Fprint(nc, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	br := bufio.NewReader(nc)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	io.ReadAll(resp.Body)
	start := time.Now()
	if !closedWithin(nc, 3*time.Second) {
		t.Fatal("an idle connection was not closed")
	}
	if took := time.Since(start); took < 150*time.Millisecond {
		t.Fatalf("closed after %v", took)
	}
}

// TestWaitDeadlines: the loop's lists of waiting connections close each
// at its own deadline: a new connection at IdleTimeout, one with half a
// head at ReadHeaderTimeout from the head's start, and one that sends a
// request before its idle deadline is not closed then, its wait starting
// over after the response.
func TestWaitDeadlines(t *testing.T) {
	iomuxtest.CheckLeaks(t)
	const idle, head = 600 * time.Millisecond, 300 * time.Millisecond
	s := Server{IdleTimeout: idle, ReadHeaderTimeout: head}
	addr := serve(t, &s, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	dial := func() net.Conn {
		nc, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { nc.Close() })
		return nc
	}
	get := func(nc net.Conn, br *bufio.Reader) {
		fmt.Fprint(nc, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("a request before the idle deadline: %v", err)
		}
		io.ReadAll(resp.Body)
		resp.Body.Close()
	}
	start := time.Now()
	busy, fresh, half := dial(), dial(), dial()
	busyReader := bufio.NewReader(busy)
	get(busy, busyReader)
	time.Sleep(idle / 3)
	fmt.Fprint(half, "GET / HTTP/1.1\r\nHost: x\r\n")
	halfAt := time.Now()
	time.Sleep(idle / 3)
	get(busy, busyReader) // before its idle deadline: served, and its wait starts over
	busyAt := time.Now()
	for _, c := range []struct {
		name string
		nc   net.Conn
		from time.Time
		d    time.Duration
	}{{"half a head", half, halfAt, head}, {"a new connection", fresh, start, idle}, {"an idle connection", busy, busyAt, idle}} {
		if !closedWithin(c.nc, 5*time.Second) {
			t.Fatalf("%s was not closed", c.name)
		}
		if took := time.Since(c.from); took < c.d-50*time.Millisecond {
			t.Fatalf("%s was closed %v after its wait began, before its timeout %v", c.name, took, c.d)
		}
	}
}

func TestSlowBodyClosedAtReadTimeout(t *testing.T) {
	iomuxtest.CheckLeaks(t)
	bodyErr := make(chan error, 1)
	s := Server{ReadTimeout: 300 * time.Millisecond}
	addr := serve(t, &s, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, err := io.ReadAll(r.Body)
		bodyErr <- err
	}))
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	fmt.Fprint(nc, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\nabc")
	if !closedWithin(nc, 3*time.Second) {
		t.Fatal("a slow body was not closed")
	}
	if err := <-bodyErr; err == nil {
		t.Fatal("the handler read a cut body without an error")
	}
}

func TestRefusals(t *testing.T) {
	iomuxtest.CheckLeaks(t)
	s := Server{MaxHeaderBytes: 4096}
	addr := serve(t, &s, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	for _, tc := range []struct {
		name, req string
		status    int
	}{
		{"huge head", "GET / HTTP/1.1\r\nHost: x\r\nX: " + strings.Repeat("a", 20000) + "\r\n\r\n", 431},
		{"no Host", "GET / HTTP/1.1\r\n\r\n", 400},
		{"TE gzip", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", 501},
		{"two lengths", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd", 400},
		{"bad version", "GET / HTTP/2.5\r\nHost: x\r\n\r\n", 505},
		{"bad chunk", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 0},
	} {
		got := rawExchange(t, addr, []byte(tc.req+"GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n"))
		if strings.Contains(got, "\r\n\r\nok") && tc.status != 0 {
			t.Errorf("%s: served: %q", tc.name, got)
		}
		if tc.status != 0 && !strings.HasPrefix(got, fmt.Sprintf("HTTP/1.1 %d ", tc.status)) {
			t.Errorf("%s: got %q, want %d", tc.name, got, tc.status)
		}
		if strings.Count(got, "HTTP/1.1 ") > 1 {
			t.Errorf("%s: a request after a refused one was answered: %q", tc.name, got)
		}
	}
}

func TestTLSWithALPN(t *testing.T) {
	iomuxtest.CheckLeaks(t)
	cert, pool, err := devcert.Pair("localhost", "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	s := Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "tls=%v proto=%s", r.TLS != nil, r.TLS.NegotiatedProtocol)
	})}
	s.Loop.Loops = 1
	if err := s.Start("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}}); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, NextProtos: []string{"h2", "http/1.1"}}}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr}
	for range 3 {
		resp, err := c.Get("https://" + s.Addrs()[0].String() + "/")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(b) != "tls=true proto=http/1.1" {
			t.Fatalf("%q", b)
		}
	}
	if n := s.Stats().Total; n != 1 {
		t.Errorf("%d connections for 3 requests", n)
	}
}

// TestCurl serves curl over HTTP/1.0, 1.1, and TLS 1.2 and 1.3.
func TestCurl(t *testing.T) {
	if _, err := exec.LookPath("curl"); err != nil {
		t.Skip("no curl")
	}
	iomuxtest.CheckLeaks(t)
	certPEM, keyPEM, err := devcert.Generate([]string{"127.0.0.1"}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	dir := iomuxtest.TempDir(t)
	caFile := dir + "/ca.pem"
	writeFile(t, caFile, certPEM)
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		fmt.Fprintf(w, "%s %s %d", r.Method, r.Proto, len(b))
	})
	var plain, secure Server
	addr := serve(t, &plain, h)
	secure.Handler = h
	if err := secure.Start("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}}); err != nil {
		t.Fatal(err)
	}
	defer secure.Close()
	saddr := secure.Addrs()[0].String()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--http1.0", "http://" + addr + "/"}, "GET HTTP/1.0 0"},
		{[]string{"--http1.1", "-d", "hello", "http://" + addr + "/"}, "POST HTTP/1.1 5"},
		{[]string{"--http1.1", "-H", "Transfer-Encoding: chunked", "-d", "chunky", "http://" + addr + "/"}, "POST HTTP/1.1 6"},
		{[]string{"--tlsv1.2", "--tls-max", "1.2", "--cacert", caFile, "https://" + saddr + "/"}, "GET HTTP/1.1 0"},
		{[]string{"--tlsv1.3", "--cacert", caFile, "https://" + saddr + "/"}, "GET HTTP/1.1 0"},
	} {
		out, err := exec.Command("curl", append([]string{"-sS", "--max-time", "10"}, tc.args...)...).CombinedOutput()
		if err != nil || string(out) != tc.want {
			t.Errorf("curl %v: %q, %v; want %q", tc.args, out, err, tc.want)
		}
	}
}

func writeFile(t *testing.T, name string, b []byte) {
	t.Helper()
	if err := os.WriteFile(name, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestPipelinerThatNeverReads: a client that sends requests and reads no
// response is paused once its responses fill the loop's HighWater (the
// server stops reading it), then dropped at the loop's WriteTimeout; the
// server's memory for it stays bounded meanwhile.
func TestPipelinerThatNeverReads(t *testing.T) {
	iomuxtest.CheckLeaks(t)
	s := Server{}
	s.Loop.HighWater = 256 << 10
	s.Loop.WriteTimeout = 500 * time.Millisecond
	s.Loop.SocketWriteBuffer = 32 << 10
	body := strings.Repeat("x", 16<<10)
	addr := serve(t, &s, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, body) }))
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.(*net.TCPConn).SetReadBuffer(32 << 10)
	req := []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	var sent int
	nc.SetWriteDeadline(time.Now().Add(5 * time.Second))
	for sent < 64<<20 { // until TCP holds the writer: the server no longer reads
		n, err := nc.Write(bytes.Repeat(req, 1000))
		sent += n
		if err != nil {
			break
		}
	}
	if sent >= 64<<20 {
		t.Fatalf("the server read %d bytes of requests while their answers waited", sent)
	}
	if q := s.Stats().Queued; q > 2<<20 {
		t.Errorf("%d bytes queued for a client that reads nothing", q)
	}
	if !closedWithin(nc, 10*time.Second) {
		t.Fatal("the client that never reads was not dropped")
	}
}
