package proxy

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/iomux/iomux/internal/devcert"
	"github.com/iomux/iomux/internal/iomuxtest"
	"github.com/iomux/iomux/internal/linetest"
	"github.com/iomux/iomux/internal/sock"
	"github.com/iomux/iomux/loop"
)

// echo is an upstream that echoes; "reset" makes it reset the connection,
// and a half-close gets "bye" before its close.
type echo struct{ loop.BaseHandler }

func (echo) OnData(c *loop.Conn) {
	if bytes.HasPrefix(c.Peek(-1), []byte("reset")) {
		c.Abort()
		return
	}
	c.Write(c.Next(-1))
}

func (echo) OnEOF(c *loop.Conn) { c.Write([]byte("bye")); c.Close() }

// serve starts a loop.Server for h on an ephemeral port, stopped at the
// test's end.
func serve(t *testing.T, h loop.Handler, opts loop.Options) *loop.Server {
	t.Helper()
	s := loop.NewServer(h, opts)
	if err := s.Listen("tcp", "127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		s.Stop(ctx)
	})
	return s
}

func addr(s *loop.Server) string { return s.Addrs()[0].String() }

// startProxy serves a Proxy for cfg on loops loops.
func startProxy(t *testing.T, cfg Config, opts loop.Options) (*loop.Server, *Proxy) {
	t.Helper()
	p, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return serve(t, p, opts), p
}

// pairing is how a test's proxy holds its pairs: on one loop (spliced
// where the OS has splice(2)), on one loop copied through OnData, or
// across two loops.
type pairing struct {
	loops        int
	across, copy bool
}

// forEachPairing runs test with each pairing.
func forEachPairing(t *testing.T, test func(t *testing.T, pg pairing)) {
	t.Run("one loop", func(t *testing.T) { test(t, pairing{loops: 1}) })
	t.Run("one loop copied", func(t *testing.T) { test(t, pairing{loops: 1, copy: true}) })
	t.Run("across two loops", func(t *testing.T) { test(t, pairing{loops: 2, across: true}) })
}

// checkSpliced fails the test unless s spliced if it should have: on one
// loop, where the OS has splice(2).
func checkSpliced(t *testing.T, s *loop.Server, pg pairing) {
	t.Helper()
	spliced := s.Stats().Spliced
	if want := spliceSupported && !pg.across && !pg.copy; want != (spliced > 0) {
		t.Errorf("%d bytes spliced; splice wanted: %v", spliced, want)
	}
}

func dial(t *testing.T, address string) *net.TCPConn {
	t.Helper()
	c, err := net.DialTimeout("tcp", address, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(60 * time.Second))
	return c.(*net.TCPConn)
}

func roundTrip(t *testing.T, c net.Conn, msg string) {
	t.Helper()
	if _, err := c.Write([]byte(msg)); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(c, got); err != nil || string(got) != msg {
		t.Fatalf("round trip through the proxy: %q, %v; want %q", got, err, msg)
	}
}

func payload(n int) []byte {
	p := make([]byte, n)
	for i := range p {
		p[i] = byte(i*7 + i/251)
	}
	return p
}

// waitFor polls ok for up to 30 s.
func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestProxyManyClients: 1,000 clients at once through the proxy, to two
// upstreams, each echoing its own bytes: every byte back to its sender,
// the pairs spread over both upstreams, no goroutine per connection.
func TestProxyManyClients(t *testing.T) {
	iomuxtest.CheckLeaks(t)
	forEachPairing(t, func(t *testing.T, pg pairing) {
		a, b := serve(t, echo{}, loop.Options{Loops: 1}), serve(t, echo{}, loop.Options{Loops: 1})
		s, p := startProxy(t, Config{Upstreams: []string{addr(a), addr(b)}, across: pg.across, copy: pg.copy}, loop.Options{Loops: pg.loops})
		clients := 1000
		if iomuxtest.UnderWine() {
			clients = 200 // every socket call is a round trip to the wineserver
		}
		goroutines := runtime.NumGoroutine()
		conns := make([]*net.TCPConn, clients)
		for i := range conns {
			conns[i] = dial(t, addr(s))
		}
		waitFor(t, "every pair", func() bool { return p.Stats().Pairs == int64(clients) })
		if n := runtime.NumGoroutine(); n > goroutines+10 {
			t.Errorf("%d goroutines with %d pairs, %d before", n, clients, goroutines)
		}
		if st := p.Stats(); st.Upstreams[0].Open != int64(clients/2) || st.Upstreams[1].Open != int64(clients/2) {
			t.Errorf("round robin: %s", st)
		}
		var wg sync.WaitGroup
		var bad atomic.Int64
		for i, c := range conns {
			wg.Go(func() {
				msg := payload(1000 + 37*i)
				if _, err := c.Write(msg); err != nil {
					bad.Add(1)
					return
				}
				got := make([]byte, len(msg))
				if _, err := io.ReadFull(c, got); err != nil || !bytes.Equal(got, msg) {
					bad.Add(1)
				}
			})
		}
		wg.Wait()
		if n := bad.Load(); n > 0 {
			t.Fatalf("%d of %d clients got a different echo", n, clients)
		}
		checkSpliced(t, s, pg)
		for _, c := range conns {
			c.Close()
		}
		waitFor(t, "every pair closed", func() bool { return p.Stats().Pairs == 0 && s.Stats().Open == 0 })
	})
}

// TestProxyFullDuplex: a 16 MiB echo through the proxy, sent while it is
// read, with small socket buffers, completes (a relay that pauses the
// congested end stalls here: each direction holds the other).
func TestProxyFullDuplex(t *testing.T) {
	forEachPairing(t, func(t *testing.T, pg pairing) {
		small := loop.Options{Loops: pg.loops, SocketReadBuffer: 32 << 10, SocketWriteBuffer: 32 << 10, HighWater: 256 << 10}
		up := serve(t, echo{}, loop.Options{Loops: 1, SocketReadBuffer: 32 << 10, SocketWriteBuffer: 32 << 10})
		s, _ := startProxy(t, Config{Upstreams: []string{addr(up)}, across: pg.across, copy: pg.copy}, small)
		c := dial(t, addr(s))
		data := payload(16 << 20)
		go c.Write(data)
		got := make([]byte, len(data))
		if _, err := io.ReadFull(c, got); err != nil || !bytes.Equal(got, data) {
			t.Fatalf("the full-duplex echo through the proxy: %v (equal %v)", err, bytes.Equal(got, data))
		}
		checkSpliced(t, s, pg)
	})
}

// source sends size bytes to each client, then closes; it reads and drops
// what it gets. It writes a chunk at a time, the next once the last is
// sent, so that it holds no more than a chunk: chunk, over and over.
type source struct {
	loop.BaseHandler
	size int
}

var chunk = payload(64 << 10)

func (s source) OnOpen(c *loop.Conn) { s.send(c, s.size) }

func (s source) send(c *loop.Conn, left int) {
	if left == 0 {
		c.Close()
		return
	}
	n := min(left, len(chunk))
	c.AsyncWriteFunc(chunk[:n], func(c *loop.Conn, err error) {
		if err == nil {
			s.send(c, left-n)
		}
	})
}

// checkChunks checks that what r reads is chunk over and over, n bytes
// of it, reading at most rate bytes a second (0: as fast as it can).
func checkChunks(t *testing.T, r io.Reader, n, rate int) {
	t.Helper()
	start := time.Now()
	buf := make([]byte, 64<<10)
	got := 0
	for {
		k, err := r.Read(buf)
		for i, b := range buf[:k] {
			if b != chunk[(got+i)%len(chunk)] {
				t.Fatalf("byte %d differs", got+i)
			}
		}
		got += k
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("after %d bytes: %v", got, err)
		}
		if rate > 0 {
			if ahead := time.Duration(got)*time.Second/time.Duration(rate) - time.Since(start); ahead > 0 {
				time.Sleep(ahead)
			}
		}
	}
	if got != n {
		t.Fatalf("read %d bytes, want %d", got, n)
	}
}

// sink reads and drops, counting.
type sink struct {
	loop.BaseHandler
	got atomic.Int64
}

func (s *sink) OnData(c *loop.Conn) { s.got.Add(int64(len(c.Next(-1)))) }

// TestProxyLargeTransfers: 256 MiB to a client that reads at 80 MB/s, and
// 128 MiB the other way from a client that sends as fast as it can, while
// the heap in use (of this process: the proxy, and the test's upstreams
// and clients, which hold a chunk each) stays bounded: the fast end waits
// for the slow one, it is not buffered for.
func TestProxyLargeTransfers(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: 384 MiB")
	}
	const down, upSize, rate = 256 << 20, 128 << 20, 80 << 20
	var heapPeak atomic.Uint64
	stop := make(chan struct{})
	var sampler sync.WaitGroup
	sampler.Go(func() {
		var ms runtime.MemStats
		for {
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
			runtime.ReadMemStats(&ms)
			heapPeak.Store(max(heapPeak.Load(), ms.HeapInuse))
		}
	})
	defer func() { close(stop); sampler.Wait() }()
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)

	from := serve(t, source{size: down}, loop.Options{Loops: 1})
	s, _ := startProxy(t, Config{Upstreams: []string{addr(from)}}, loop.Options{Loops: 1})
	c := dial(t, addr(s))
	c.SetDeadline(time.Now().Add(2 * time.Minute))
	checkChunks(t, c, down, rate)

	to := &sink{}
	up := serve(t, to, loop.Options{Loops: 1})
	s2, _ := startProxy(t, Config{Upstreams: []string{addr(up)}}, loop.Options{Loops: 1})
	c2 := dial(t, addr(s2))
	c2.SetDeadline(time.Now().Add(2 * time.Minute))
	for sent := 0; sent < upSize; sent += len(chunk) {
		if _, err := c2.Write(chunk); err != nil {
			t.Fatal(err)
		}
	}
	c2.CloseWrite()
	waitFor(t, "the upload", func() bool { return to.got.Load() == upSize })

	grew := int64(heapPeak.Load()) - int64(before.HeapInuse)
	t.Logf("heap in use peaked %d MiB above the start (%d MiB down at %d MB/s, %d MiB up)", grew>>20, down>>20, rate>>20, upSize>>20)
	if grew > 16<<20 {
		t.Errorf("the heap grew by %d MiB: the proxy buffered for the slow end", grew>>20)
	}
}

// TestProxyNeverReadingClient: a client that never reads holds its
// upstream back (the proxy queues at most about HighWater for it) until
// the proxy's write timeout drops it, and its upstream with it.
func TestProxyNeverReadingClient(t *testing.T) {
	iomuxtest.CheckLeaks(t)
	forEachPairing(t, func(t *testing.T, pg pairing) {
		from := serve(t, source{size: 64 << 20}, loop.Options{Loops: 1})
		opts := loop.Options{Loops: pg.loops, HighWater: 1 << 20, WriteTimeout: time.Second, SocketReadBuffer: 64 << 10, SocketWriteBuffer: 64 << 10}
		s, p := startProxy(t, Config{Upstreams: []string{addr(from)}, across: pg.across, copy: pg.copy}, opts)
		c := dial(t, addr(s))
		sock.SetBuffers(fdOf(t, c), 16<<10, 0)
		waitFor(t, "the pair", func() bool { return p.Stats().Pairs == 1 })
		var peak int64
		for p.Stats().Pairs == 1 {
			peak = max(peak, s.Stats().Queued)
			time.Sleep(5 * time.Millisecond)
		}
		if limit := int64(opts.HighWater + 4*64<<10); peak > limit {
			t.Errorf("the proxy queued %d bytes for a client that never reads, bound %d", peak, limit)
		}
		waitFor(t, "both ends closed", func() bool { return s.Stats().Open == 0 })
		checkSpliced(t, s, pg)
		t.Logf("peak queued %d KiB", peak>>10)
	})
}

func fdOf(t *testing.T, c *net.TCPConn) int {
	raw, err := c.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var fd int
	raw.Control(func(f uintptr) { fd = int(f) })
	return fd
}

// TestProxyHalfClose: half-closes go through both ways: the client's
// reaches the upstream, whose answer and close come back; the upstream's
// reaches the client, who can still send.
func TestProxyHalfClose(t *testing.T) {
	forEachPairing(t, func(t *testing.T, pg pairing) {
		up := serve(t, echo{}, loop.Options{Loops: 1})
		s, p := startProxy(t, Config{Upstreams: []string{addr(up)}, across: pg.across, copy: pg.copy}, loop.Options{Loops: pg.loops})
		c := dial(t, addr(s))
		roundTrip(t, c, "hello")
		c.CloseWrite()
		rest, err := io.ReadAll(c)
		if err != nil || string(rest) != "bye" {
			t.Fatalf("after the half-close: %q, %v; want the upstream's bye, then EOF", rest, err)
		}
		waitFor(t, "the pair closed", func() bool { return p.Stats().Pairs == 0 })

		// The other way: the upstream half-closes, the client still sends.
		heard := make(chan string, 8)
		closed := make(chan error, 1)
		halfer := &funcHandler{
			data: func(c *loop.Conn) {
				in := string(c.Next(-1))
				heard <- in
				if in == "half" {
					c.Write([]byte("closing my side"))
					c.CloseWrite()
				}
			},
			close: func(c *loop.Conn, err error) { closed <- err },
		}
		up2 := serve(t, halfer, loop.Options{Loops: 1})
		s2, _ := startProxy(t, Config{Upstreams: []string{addr(up2)}, across: pg.across, copy: pg.copy}, loop.Options{Loops: pg.loops})
		c = dial(t, addr(s2))
		c.Write([]byte("half"))
		if got, err := io.ReadAll(c); string(got) != "closing my side" || err != nil {
			t.Fatalf("after the upstream's half-close: %q, %v; want its words, then EOF", got, err)
		}
		<-heard
		c.Write([]byte("still talking"))
		if got := <-heard; got != "still talking" {
			t.Fatalf("the upstream heard %q after its half-close", got)
		}
		c.Close()
		select {
		case err := <-closed:
			if err != nil {
				t.Fatalf("the client's close reached the upstream as %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("the client's close did not reach the upstream")
		}
	})
}

// TestProxyResets: an upstream's reset reaches the client as a reset, and
// a client's the upstream.
func TestProxyResets(t *testing.T) {
	iomuxtest.SkipUnderWine(t, "SO_LINGER 0 sends a FIN there, not a reset")
	forEachPairing(t, func(t *testing.T, pg pairing) {
		up := serve(t, echo{}, loop.Options{Loops: 1})
		s, _ := startProxy(t, Config{Upstreams: []string{addr(up)}, across: pg.across, copy: pg.copy}, loop.Options{Loops: pg.loops})
		c := dial(t, addr(s))
		roundTrip(t, c, "hello")
		c.Write([]byte("reset"))
		if _, err := io.ReadAll(c); !isReset(err) {
			t.Fatalf("after the upstream's reset the client read %v, want a reset", err)
		}

		closed := make(chan error, 1)
		watcher := &funcHandler{data: func(c *loop.Conn) { c.Discard(-1) }, close: func(c *loop.Conn, err error) { closed <- err }}
		up2 := serve(t, watcher, loop.Options{Loops: 1})
		s2, p2 := startProxy(t, Config{Upstreams: []string{addr(up2)}, across: pg.across, copy: pg.copy}, loop.Options{Loops: pg.loops})
		c = dial(t, addr(s2))
		c.Write([]byte("hello"))
		waitFor(t, "the pair", func() bool { return p2.Stats().Pairs == 1 })
		c.SetLinger(0)
		c.Close()
		select {
		case err := <-closed:
			if !errors.Is(err, loop.ErrReset) {
				t.Fatalf("the client's reset reached the upstream as %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("the client's reset did not reach the upstream")
		}
	})
}

// funcHandler is a loop.Handler made of functions.
type funcHandler struct {
	loop.BaseHandler
	data  func(c *loop.Conn)
	close func(c *loop.Conn, err error)
}

func (h *funcHandler) OnData(c *loop.Conn) { h.data(c) }

func (h *funcHandler) OnClose(c *loop.Conn, err error) { h.close(c, err) }

// TestProxyUpstreamFailures: an upstream that refuses is skipped for
// RetryAfter (the next clients go to the other one), then tried again; one
// that does not answer is given up at ConnectTimeout; with none answering,
// the client is closed.
func TestProxyUpstreamFailures(t *testing.T) {
	iomuxtest.CheckLeaks(t)
	good := serve(t, echo{}, loop.Options{Loops: 1})
	refusing := closedPort(t)
	log := new(linetest.Output)
	s, p := startProxy(t, Config{Upstreams: []string{refusing, addr(good)}, RetryAfter: 300 * time.Millisecond, Log: log}, loop.Options{Loops: 1})
	for range 4 {
		roundTrip(t, dial(t, addr(s)), "served by the other")
	}
	if st := p.Stats(); st.Upstreams[0].Failures != 1 || !st.Upstreams[0].Down {
		t.Errorf("after 4 clients: %s; want the refusing upstream tried once, and down", st)
	}
	time.Sleep(400 * time.Millisecond)
	for range 2 { // in turn: one of them tries the refusing upstream again
		roundTrip(t, dial(t, addr(s)), "after RetryAfter")
	}
	if st := p.Stats(); st.Upstreams[0].Failures != 2 {
		t.Errorf("after RetryAfter: %s; want the refusing upstream tried again, once", st)
	}
	log.WaitFor(t, "is down", 1)

	silent := iomuxtest.HangingAddr(t)
	s2, _ := startProxy(t, Config{Upstreams: []string{silent, refusing}, ConnectTimeout: 200 * time.Millisecond, Log: log}, loop.Options{Loops: 1})
	c := dial(t, addr(s2))
	start := time.Now()
	if got, err := io.ReadAll(c); len(got) != 0 || err != nil {
		t.Fatalf("with no upstream answering the client read %q, %v; want EOF", got, err)
	}
	if took := time.Since(start); took < 200*time.Millisecond || took > 5*time.Second {
		t.Errorf("the client was closed after %v, ConnectTimeout 200ms", took)
	}
	log.WaitFor(t, "no upstream answered", 1)
}

// TestProxyTLS: TLS terminated at the proxy (a loop.ListenTLS listener)
// and originated to a TLS upstream (Config.UpstreamTLS).
func TestProxyTLS(t *testing.T) {
	cert, pool, err := devcert.Pair("localhost", "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	server := &tls.Config{Certificates: []tls.Certificate{cert}}
	up := loop.NewServer(echo{}, loop.Options{Loops: 1})
	if err := up.ListenTLS("tcp", "127.0.0.1:0", server); err != nil {
		t.Fatal(err)
	}
	if err := up.Start(); err != nil {
		t.Fatal(err)
	}
	defer up.Stop(context.Background())
	p, err := New(Config{Upstreams: []string{addr(up)}, UpstreamTLS: &tls.Config{RootCAs: pool, ServerName: "localhost"}})
	if err != nil {
		t.Fatal(err)
	}
	s := loop.NewServer(p, loop.Options{Loops: 1})
	if err := s.ListenTLS("tcp", "127.0.0.1:0", server); err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	defer s.Stop(context.Background())
	c, err := tls.Dial("tcp", addr(s), &tls.Config{RootCAs: pool, ServerName: "localhost"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	roundTrip(t, c, "TLS both ways")
	data := payload(4 << 20)
	go c.Write(data)
	got := make([]byte, len(data))
	if _, err := io.ReadFull(c, got); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("4 MiB over TLS both ways: %v", err)
	}
}

// TestNewRefuses: a Config that cannot work is refused, saying why.
func TestNewRefuses(t *testing.T) {
	for _, cfg := range []Config{
		{},
		{Upstreams: []string{"nocolon"}},
		{Upstreams: []string{"127.0.0.1:1"}, ConnectTimeout: -1},
	} {
		if _, err := New(cfg); err == nil {
			t.Errorf("New(%+v) took it", cfg)
		}
	}
	if _, err := ParseBalance("random"); err == nil {
		t.Error("ParseBalance took random")
	}
}

func isReset(err error) bool { return errors.Is(err, errReset) }

func closedPort(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	a := ln.Addr().String()
	ln.Close()
	return a
}

// spliceSupported: the loop splices a pair's bytes on Linux only.
const spliceSupported = runtime.GOOS == "linux"
