package loophttp

import (
	"bytes"
	"io"
	"net/http"
	"net/netip"
	"runtime"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// BenchmarkIdleKeepAliveMemory: the Go heap one idle keep-alive
// connection holds after one request, and the goroutines it keeps. The
// clients are raw sockets, so that only the server's memory counts.
// "timeouts" have iomux http-server's: ReadHeaderTimeout 5 s, IdleTimeout
// 2 min.
func BenchmarkIdleKeepAliveMemory(b *testing.B) {
	for _, timeouts := range []bool{false, true} {
		name := ""
		if timeouts {
			name = "timeouts/"
		}
		b.Run(name+"after-a-request", func(b *testing.B) { idleMemory(b, false, timeouts) })
		b.Run(name+"half-a-request", func(b *testing.B) { idleMemory(b, true, timeouts) })
	}
}

// idleMemory holds 2,000 connections after one request each, or each with
// half a request's head sent (what a slowloris holds until
// ReadHeaderTimeout).
func idleMemory(b *testing.B, half, timeouts bool) {
	const conns = 2000
	s := Server{}
	if timeouts {
		s.ReadHeaderTimeout, s.IdleTimeout = 5*time.Second, 2*time.Minute
	}
	s.Loop.Loops = 1
	addr := serve(b, &s, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "Hello, World!") }))
	ap := netip.MustParseAddrPort(addr)
	sa := &unix.SockaddrInet4{Port: int(ap.Port()), Addr: ap.Addr().As4()}
	req := []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	goroutines := runtime.NumGoroutine()
	fds := make([]int, 0, conns)
	defer func() {
		for _, fd := range fds {
			unix.Close(fd)
		}
	}()
	buf := make([]byte, 4096)
	for range conns {
		fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			b.Fatal(err)
		}
		fds = append(fds, fd)
		if err := unix.Connect(fd, sa); err != nil {
			b.Fatal(err)
		}
		if half {
			if _, err := unix.Write(fd, req[:len(req)-6]); err != nil {
				b.Fatal(err)
			}
			continue
		}
		if _, err := unix.Write(fd, req); err != nil {
			b.Fatal(err)
		}
		for got := []byte(nil); !bytes.HasSuffix(got, []byte("Hello, World!")); {
			n, err := unix.Read(fd, buf)
			if err != nil || n == 0 {
				b.Fatalf("read: %d, %v", n, err)
			}
			got = append(got, buf[:n]...)
		}
	}
	if half { // until the server has read them all
		for deadline := time.Now().Add(10 * time.Second); s.Stats().BytesIn < int64(conns*(len(req)-6)) && time.Now().Before(deadline); {
			time.Sleep(time.Millisecond)
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/conns, "live-B/conn")
	b.ReportMetric(float64(runtime.NumGoroutine()-goroutines), "goroutines")
	for range b.N {
	}
}
