package loophttp

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"github.com/iomux/iomux/internal/iomuxtest"
	"github.com/iomux/iomux/loop"
)

// serve starts s on a loopback port with h, and stops it when the test ends.
func serve(t testing.TB, s *Server, h http.Handler) string {
	t.Helper()
	s.Handler = h
	if s.Loop.Loops == 0 {
		s.Loop.Loops = 2
	}
	if err := s.Start("tcp", "127.0.0.1:0", nil); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s.Addrs()[0].String()
}

// client is an http.Client of its own, so tests do not share idle
// connections, closed when the test ends.
func client(t testing.TB) *http.Client {
	tr := &http.Transport{MaxIdleConnsPerHost: 64, DisableCompression: true}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 20 * time.Second}
}

func TestNetHTTPClient(t *testing.T) {
	iomuxtest.CheckLeaks(t)
	mux := http.NewServeMux()
	mux.HandleFunc("/hello", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Method", r.Method)
		io.WriteString(w, "hello "+r.URL.Query().Get("name"))
	})
	mux.HandleFunc("/sum", func(w http.ResponseWriter, r *http.Request) {
		h := sha256.New()
		n, err := io.Copy(h, r.Body)
		if err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		fmt.Fprintf(w, "%d %x %v", n, h.Sum(nil), r.Trailer)
	})
	mux.HandleFunc("/big", func(w http.ResponseWriter, r *http.Request) {
		chunk := bytes.Repeat([]byte("x"), 10000)
		for range 100 {
			w.Write(chunk)
		}
	})
	mux.HandleFunc("/nocontent", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) })
	mux.HandleFunc("/trailer", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Trailer", "X-Sum")
		io.WriteString(w, "body")
		w.Header().Set("X-Sum", "42")
	})
	var s Server
	addr := serve(t, &s, mux)
	c := client(t)
	base := "http://" + addr

	for i := range 5 {
		resp, err := c.Get(fmt.Sprintf("%s/hello?name=n%d", base, i))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(b) != fmt.Sprintf("hello n%d", i) || resp.ContentLength != int64(len(b)) || resp.Header.Get("X-Method") != "GET" {
			t.Fatalf("GET: %q, length %d, %v", b, resp.ContentLength, resp.Header)
		}
	}
	if got := s.Stats().Total; got != 1 {
		t.Errorf("5 GETs took %d connections, want 1 (keep-alive)", got)
	}

	// Bodies with a length and chunked (unknown length), with a trailer.
	payload := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB
	want := sha256.Sum256(payload)
	for _, chunked := range []bool{false, true} {
		var body io.Reader = bytes.NewReader(payload)
		if chunked {
			body = io.MultiReader(body) // hides the length
		}
		req, _ := http.NewRequest("POST", base+"/sum", body)
		if chunked {
			req.Trailer = http.Header{"X-T": {"v"}}
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		wantText := fmt.Sprintf("%d %s", len(payload), hex.EncodeToString(want[:]))
		if !strings.HasPrefix(string(b), wantText) || (chunked && !strings.Contains(string(b), "X-T:[v]")) {
			t.Fatalf("POST chunked=%v: %q", chunked, b)
		}
	}

	resp, err := c.Get(base + "/big")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if len(b) != 1e6 || resp.TransferEncoding[0] != "chunked" {
		t.Fatalf("big: %d bytes, %v", len(b), resp.TransferEncoding)
	}

	resp, err = c.Head(base + "/hello")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.ContentLength != int64(len("hello ")) {
		t.Errorf("HEAD: Content-Length %d", resp.ContentLength)
	}
	resp, err = c.Get(base + "/nocontent")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 204 || resp.ContentLength > 0 {
		t.Errorf("204: %d, %d", resp.StatusCode, resp.ContentLength)
	}
	resp, err = c.Get(base + "/trailer")
	if err != nil {
		t.Fatal(err)
	}
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "body" || resp.Trailer.Get("X-Sum") != "42" {
		t.Errorf("trailer: %q %v", b, resp.Trailer)
	}
	resp, err = c.Get(base + "/missing")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 404 {
		t.Errorf("missing: %d", resp.StatusCode)
	}
}

// rawExchange writes req to addr in the given pieces and returns what the
// server sends until it closes or goes quiet.
func rawExchange(t *testing.T, addr string, pieces ...[]byte) string {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	for _, p := range pieces {
		if _, err := nc.Write(p); err != nil {
			t.Fatal(err)
		}
	}
	var out bytes.Buffer
	buf := make([]byte, 64<<10)
	for {
		nc.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
		n, err := nc.Read(buf)
		out.Write(buf[:n])
		if err != nil {
			return out.String()
		}
	}
}

func TestPipelinedInOrder(t *testing.T) {
	iomuxtest.CheckLeaks(t)
	var s Server
	addr := serve(t, &s, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			time.Sleep(50 * time.Millisecond)
		}
		io.WriteString(w, r.URL.Path)
	}))
	var reqs bytes.Buffer
	want := []string{}
	for i := range 40 {
		path := fmt.Sprintf("/r%d", i)
		if i == 0 {
			path = "/slow"
		}
		fmt.Fprintf(&reqs, "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", path)
		want = append(want, path)
	}
	partial := []byte("GET /partial HTTP/1.1\r\nHo")
	// Whole, then byte by byte: the same responses in the same order, and
	// the partial request does not hold them back.
	for _, split := range []string{"whole", "bytes"} {
		var pieces [][]byte
		all := append(reqs.Bytes(), partial...)
		if split == "whole" {
			pieces = [][]byte{all}
		} else {
			for i := range all {
				pieces = append(pieces, all[i:i+1])
			}
		}
		got := rawExchange(t, addr, pieces...)
		br := bufio.NewReader(strings.NewReader(got))
		for i, path := range want {
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatalf("%s: response %d: %v (got %q)", split, i, err, got)
			}
			b, _ := io.ReadAll(resp.Body)
			if string(b) != path {
				t.Fatalf("%s: response %d is %q, want %q", split, i, b, path)
			}
		}
		if rest, _ := io.ReadAll(br); len(rest) != 0 {
			t.Fatalf("%s: more than the responses: %q", split, rest)
		}
	}
}

func TestBodyFlowControl(t *testing.T) {
	iomuxtest.CheckLeaks(t)
	release := make(chan struct{})
	var read atomic.Int64
	s := Server{MaxBodyBuffer: 32 << 10}
	addr := serve(t, &s, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-release
		n, err := io.Copy(io.Discard, r.Body)
		read.Store(n)
		if err != nil {
			t.Errorf("body: %v", err)
		}
		fmt.Fprint(w, n)
	}))
	const size = 64 << 20
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	sent := make(chan int64, 1)
	go func() {
		fmt.Fprintf(nc, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n", size)
		n, _ := io.CopyN(nc, zeros{}, size)
		sent <- n
	}()
	// While the handler does not read, the client is held by TCP: it cannot
	// have sent much more than the socket buffers and MaxBodyBuffer.
	time.Sleep(300 * time.Millisecond)
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	select {
	case n := <-sent:
		t.Fatalf("the client sent all %d bytes to a handler that does not read", n)
	default:
	}
	if in := s.Stats().BytesIn; in > 16<<20 {
		t.Fatalf("the server read %d bytes of a body nobody reads", in)
	}
	close(release)
	br := bufio.NewReader(nc)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	if string(b) != fmt.Sprint(size) {
		t.Fatalf("handler read %q, want %d", b, size)
	}
	if n := <-sent; n != size {
		t.Fatalf("client sent %d", n)
	}
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

func TestSlowReaderBlocksTheHandler(t *testing.T) {
	iomuxtest.CheckLeaks(t)
	var written atomic.Int64
	done := make(chan error, 1)
	s := Server{Loop: loop.Options{HighWater: 256 << 10, SocketWriteBuffer: 64 << 10}}
	addr := serve(t, &s, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		chunk := make([]byte, 32<<10)
		for range 1024 { // 32 MiB
			if _, err := w.Write(chunk); err != nil {
				done <- err
				return
			}
			written.Add(int64(len(chunk)))
		}
		done <- nil
	}))
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.(*net.TCPConn).SetReadBuffer(64 << 10)
	fmt.Fprint(nc, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	time.Sleep(300 * time.Millisecond)
	if w := written.Load(); w > 8<<20 {
		t.Fatalf("the handler wrote %d bytes to a client that reads nothing", w)
	}
	n, err := io.Copy(io.Discard, io.LimitReader(nc, 32<<20))
	if err != nil || n != 32<<20+0 && n < 32<<20 {
		t.Fatalf("read %d, %v", n, err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestPanicClosesTheConnection(t *testing.T) {
	iomuxtest.CheckLeaks(t)
	var logs syncBuf
	s := Server{ErrorLog: log.New(&logs, "", 0)}
	addr := serve(t, &s, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/abort" {
			panic(http.ErrAbortHandler)
		}
		panic("boom")
	}))
	for _, path := range []string{"/boom", "/abort"} {
		got := rawExchange(t, addr, []byte("GET "+path+" HTTP/1.1\r\nHost: x\r\n\r\nGET /next HTTP/1.1\r\nHost: x\r\n\r\n"))
		if got != "" {
			t.Errorf("%s: the client got %q, want nothing and a close", path, got)
		}
	}
	if l := logs.String(); !strings.Contains(l, "panic serving") || !strings.Contains(l, "boom") || strings.Count(l, "panic serving") != 1 {
		t.Errorf("log: %q", l)
	}
}

func TestContextCancelledWhenTheClientGoes(t *testing.T) {
	iomuxtest.CheckLeaks(t)
	started := make(chan struct{})
	cancelled := make(chan error, 1)
	var s Server
	addr := serve(t, &s, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(started)
		select {
		case <-r.Context().Done():
			cancelled <- r.Context().Err()
		case <-time.After(5 * time.Second):
			cancelled <- errors.New("not cancelled in 5 s")
		}
	}))
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprint(nc, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	<-started
	nc.Close()
	if err := <-cancelled; !errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}
}

func TestShutdownLetsRequestsFinish(t *testing.T) {
	iomuxtest.CheckLeaks(t)
	started := make(chan struct{})
	var s Server
	addr := serve(t, &s, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			close(started)
			time.Sleep(200 * time.Millisecond)
		}
		io.WriteString(w, "done")
	}))
	idle, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	fmt.Fprint(idle, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	br := bufio.NewReader(idle)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	io.ReadAll(resp.Body)
	var wg sync.WaitGroup
	wg.Add(1)
	var slowBody string
	go func() {
		defer wg.Done()
		resp, err := client(t).Get("http://" + addr + "/slow")
		if err != nil {
			slowBody = err.Error()
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		slowBody = string(b)
	}()
	<-started
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	if slowBody != "done" {
		t.Errorf("the request in flight got %q", slowBody)
	}
	idle.SetReadDeadline(time.Now().Add(2 * time.Second))
	if n, err := br.Read(make([]byte, 1)); err != io.EOF {
		t.Errorf("the idle connection: %d, %v; want EOF", n, err)
	}
	if _, err := net.Dial("tcp", addr); err == nil {
		t.Errorf("a connection was accepted after Shutdown")
	}
}

func TestExpectContinue(t *testing.T) {
	iomuxtest.CheckLeaks(t)
	var s Server
	addr := serve(t, &s, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/reject" {
			http.Error(w, "no", http.StatusForbidden)
			return
		}
		b, _ := io.ReadAll(r.Body)
		w.Write(b)
	}))
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	br := bufio.NewReader(nc)
	fmt.Fprint(nc, "POST / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n")
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != 100 {
		t.Fatalf("want 100 Continue first: %v %v", resp, err)
	}
	fmt.Fprint(nc, "hello")
	resp, err = http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	if string(b) != "hello" {
		t.Fatalf("echo %q", b)
	}
	// Refused without reading: no 100, and the connection closes.
	fmt.Fprint(nc, "POST /reject HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n")
	resp, err = http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != 403 || !resp.Close {
		t.Fatalf("reject: %v %v", resp, err)
	}
}

func TestIdleConnectionsHoldNoGoroutine(t *testing.T) {
	iomuxtest.CheckLeaks(t)
	var s Server
	addr := serve(t, &s, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	before := runtime.NumGoroutine()
	const n = 500
	conns := make([]net.Conn, 0, n)
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for range n {
		nc, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, nc)
		fmt.Fprint(nc, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
		if _, err := http.ReadResponse(bufio.NewReader(nc), nil); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(50 * time.Millisecond)
	if after := runtime.NumGoroutine(); after > before+5 {
		t.Fatalf("%d goroutines with %d idle keep-alive connections, %d before", after, n, before)
	}
}

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestRequestContext(t *testing.T) {
	iomuxtest.CheckLeaks(t)
	type key struct{}
	for _, withBase := range []bool{false, true} {
		s := Server{}
		if withBase {
			s.BaseContext = func(net.Listener) context.Context { return context.WithValue(context.Background(), key{}, "base") }
		}
		seen := make(chan string, 1)
		addr := serve(t, &s, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			ctx := r.Context()
			child, cancel := context.WithTimeout(ctx, time.Hour) // derived: follows ctx without a goroutine
			defer cancel()
			fired := make(chan struct{})
			context.AfterFunc(ctx, func() { close(fired) })
			go func() {
				<-child.Done()
				<-fired
				seen <- fmt.Sprintf("%v %v %v %v", ctx.Value(http.LocalAddrContextKey) != nil, ctx.Value(key{}), context.Cause(ctx), child.Err())
			}()
			io.WriteString(w, "ok")
		}))
		resp, err := client(t).Get("http://" + addr + "/")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		want := "true <nil> context canceled context canceled"
		if withBase {
			want = "true base context canceled context canceled"
		}
		if got := <-seen; got != want {
			t.Errorf("base=%v: %q, want %q", withBase, got, want)
		}
	}
}

// TestNonBlocking: with Server.NonBlocking, requests without a body are
// served on the loop (no worker goroutine), pipelined ones in order, a
// body among them, or one it does not name (/g7), goes to a worker, and
// Hijack works there too.
func TestNonBlocking(t *testing.T) {
	iomuxtest.CheckLeaks(t)
	s := Server{NonBlocking: func(r *http.Request) bool { return r.URL.Path != "/g7" }}
	addr := serve(t, &s, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/hijack" {
			nc, _, err := w.(http.Hijacker).Hijack()
			if err != nil {
				t.Error(err)
				return
			}
			nc.Write([]byte("HTTP/1.1 200 OK\r\nContent-Length: 8\r\nConnection: close\r\n\r\nhijacked"))
			nc.Close()
			return
		}
		b, _ := io.ReadAll(r.Body)
		fmt.Fprintf(w, "%s %d;", r.URL.Path, len(b))
	}))
	var reqs bytes.Buffer
	var want []string
	for i := range 30 {
		if i%10 == 5 {
			fmt.Fprintf(&reqs, "POST /p%d HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc", i)
			want = append(want, fmt.Sprintf("/p%d 3;", i))
			continue
		}
		fmt.Fprintf(&reqs, "GET /g%d HTTP/1.1\r\nHost: x\r\n\r\n", i)
		want = append(want, fmt.Sprintf("/g%d 0;", i))
	}
	reqs.WriteString("GET /hijack HTTP/1.1\r\nHost: x\r\n\r\n")
	want = append(want, "hijacked")
	for _, bytewise := range []bool{false, true} {
		var pieces [][]byte
		if bytewise {
			for _, b := range reqs.Bytes() {
				pieces = append(pieces, []byte{b})
			}
		} else {
			pieces = [][]byte{reqs.Bytes()}
		}
		got := rawExchange(t, addr, pieces...)
		br := bufio.NewReader(strings.NewReader(got))
		for i, w := range want {
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatalf("bytewise=%v: response %d: %v in %q", bytewise, i, err, got)
			}
			b, _ := io.ReadAll(resp.Body)
			if string(b) != w {
				t.Fatalf("bytewise=%v: response %d: %q, want %q", bytewise, i, b, w)
			}
		}
	}
}

// TestConnStateAndConnContext: a connection goes New, Active, Idle,
// Active, Idle, Closed, as with net/http; ConnContext's value reaches the
// handler.
func TestConnStateAndConnContext(t *testing.T) {
	iomuxtest.CheckLeaks(t)
	type key struct{}
	var mu sync.Mutex
	var states []string
	closed := make(chan struct{})
	s := Server{
		ConnState: func(c net.Conn, st http.ConnState) {
			mu.Lock()
			states = append(states, st.String())
			mu.Unlock()
			if st == http.StateClosed {
				close(closed)
			}
		},
		ConnContext: func(ctx context.Context, c net.Conn) context.Context {
			return context.WithValue(ctx, key{}, c.RemoteAddr().String())
		},
	}
	addr := serve(t, &s, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Context().Value(key{}) != r.RemoteAddr {
			t.Errorf("ConnContext's value %v, RemoteAddr %s", r.Context().Value(key{}), r.RemoteAddr)
		}
		io.WriteString(w, "ok")
	}))
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(nc)
	for range 2 {
		fmt.Fprint(nc, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		io.ReadAll(resp.Body)
	}
	time.Sleep(20 * time.Millisecond)
	nc.Close()
	<-closed
	mu.Lock()
	defer mu.Unlock()
	if got := strings.Join(states, " "); got != "new active idle active idle closed" {
		t.Errorf("states: %s", got)
	}
}

// TestConnSize: an idle keep-alive connection keeps one conn in the
// 144-byte size class on 64-bit systems, as conn.go's comments say.
func TestConnSize(t *testing.T) {
	if unsafe.Sizeof(uintptr(0)) != 8 {
		t.Skip("the size is stated for 64-bit systems")
	}
	if got := unsafe.Sizeof(conn{}); got != 144 {
		t.Fatalf("conn is %d bytes, the comments say 144: fix one or the other", got)
	}
}

// TestHeaderSnapshot: the head is made of the header map as it was at
// WriteHeader (later changes do not count, trailers aside, also when the
// handler asks for the map only after WriteHeader); a key set to nil
// suppresses the field (Date); an invalid Content-Length is dropped: all
// as net/http.Server does, in pipelined responses that share the
// snapshot's array.
func TestHeaderSnapshot(t *testing.T) {
	iomuxtest.CheckLeaks(t)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/changed":
			w.Header().Set("X-A", "before")
			w.Header()["X-Many"] = []string{"1", "2", "3"}
			io.WriteString(w, "body")
			w.Header().Set("X-A", "after")
			w.Header().Set("X-B", "added")
			w.Header()["X-Many"][0] = "changed"
		case "/late":
			w.WriteHeader(http.StatusAccepted)
			w.Header().Set("X-Late", "counted")
			io.WriteString(w, "late")
		case "/nodate":
			w.Header()["Date"] = nil
			w.Header().Set("Connection", "keep-alive, x")
			io.WriteString(w, "no date")
		case "/badlength":
			w.Header().Set("Content-Length", "abc")
			w.Header().Set(http.TrailerPrefix+"X-T", "trailer")
			io.WriteString(w, "bad length")
		}
	})
	var s Server
	s.ErrorLog = log.New(io.Discard, "", 0)
	ours := serve(t, &s, h)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	std := &http.Server{Handler: h, ErrorLog: log.New(io.Discard, "", 0)}
	go std.Serve(ln)
	defer std.Close()
	var reqs []byte
	paths := []string{"/changed", "/late", "/nodate", "/badlength", "/changed"}
	for _, p := range paths {
		reqs = append(reqs, "GET "+p+" HTTP/1.1\r\nHost: x\r\n\r\n"...)
	}
	read := func(addr string) []*http.Response {
		br := bufio.NewReader(strings.NewReader(rawExchange(t, addr, reqs)))
		var out []*http.Response
		for range paths {
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatalf("%s: %v", addr, err)
			}
			io.ReadAll(resp.Body)
			out = append(out, resp)
		}
		return out
	}
	want, got := read(ln.Addr().String()), read(ours)
	for i, p := range paths {
		w, g := want[i], got[i]
		_, wDate := w.Header["Date"]
		_, gDate := g.Header["Date"]
		delete(w.Header, "Date")
		delete(g.Header, "Date")
		if w.StatusCode != g.StatusCode || wDate != gDate || fmt.Sprint(w.Header) != fmt.Sprint(g.Header) || fmt.Sprint(w.Trailer) != fmt.Sprint(g.Trailer) {
			t.Errorf("%s: net/http: %d %v Date %v trailer %v; loophttp: %d %v Date %v trailer %v",
				p, w.StatusCode, w.Header, wDate, w.Trailer, g.StatusCode, g.Header, gDate, g.Trailer)
		}
	}
}
