package proxy

import (
	"context"
	"runtime"
	"testing"
	"time"

	"github.com/iomux/iomux/internal/sock"
	"github.com/iomux/iomux/loop"
)

// BenchmarkIdlePairMemory reports the live heap an idle pair costs the
// proxy (after a GC; with the default --idle timer on each), with the
// clients and the upstream on raw sockets, so that only the proxy's
// allocations count. RSS (what bench/run's proxy-idle measures) is about
// twice the live heap, more below Go's 4 MB minimum heap goal.
func BenchmarkIdlePairMemory(b *testing.B) {
	const pairs = 2000
	upstream, upAddr := listenRaw(b)
	s, p := startProxyB(b, Config{Upstreams: []string{upAddr}, IdleTimeout: 5 * time.Minute})
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	var clients []int
	for range pairs {
		clients = append(clients, connectRaw(b, s.Addrs()[0].String()))
	}
	deadline := time.Now().Add(30 * time.Second)
	for p.Stats().Pairs != pairs {
		acceptRaw(upstream)
		if time.Now().After(deadline) {
			b.Fatalf("%d pairs of %d", p.Stats().Pairs, pairs)
		}
		time.Sleep(time.Millisecond)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/pairs, "live-B/pair")
	b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/pairs, "alloc-B/pair")
	for _, fd := range clients {
		sock.Close(fd)
	}
	for range b.N {
	}
}

func startProxyB(b *testing.B, cfg Config) (*loop.Server, *Proxy) {
	p, err := New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	s := loop.NewServer(p, loop.Options{Loops: 1})
	if err := s.Listen("tcp", "127.0.0.1:0"); err != nil {
		b.Fatal(err)
	}
	if err := s.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Stop(context.Background()) })
	return s, p
}

// rawListener is a listening socket of internal/sock's and what it
// accepted: an upstream that costs the Go heap next to nothing.
type rawListener struct {
	fd       int
	accepted []int
}

func listenRaw(b *testing.B) (*rawListener, string) {
	e, err := sock.Resolve("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	fd, err := sock.Open(e)
	if err != nil {
		b.Fatal(err)
	}
	ln := &rawListener{fd: fd}
	b.Cleanup(func() {
		for _, c := range ln.accepted {
			sock.Close(c)
		}
		sock.Close(fd)
	})
	if err := sock.Bind(fd, e); err != nil {
		b.Fatal(err)
	}
	if err := sock.Listen(fd, 4096); err != nil {
		b.Fatal(err)
	}
	bound, err := sock.Bound(fd, e)
	if err != nil {
		b.Fatal(err)
	}
	return ln, bound.Addr().String()
}

// acceptRaw accepts what is waiting.
func acceptRaw(ln *rawListener) {
	for {
		fd, _, err := sock.Accept(ln.fd)
		if err != nil {
			return
		}
		ln.accepted = append(ln.accepted, fd)
	}
}

// connectRaw starts a connect to address.
func connectRaw(b *testing.B, address string) int {
	e, err := sock.Resolve("tcp", address)
	if err != nil {
		b.Fatal(err)
	}
	fd, err := sock.Open(e)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := sock.Connect(fd, e); err != nil {
		b.Fatal(err)
	}
	return fd
}
