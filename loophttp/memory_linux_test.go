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
		for _, half := range []bool{false, true} {
			what := "after-a-request"
			if half {
				what = "half-a-request"
			}
			b.Run(name+what, func(b *testing.B) {
				live, goroutines, conns := idleMemory(b, half, timeouts)
				b.ReportMetric(live, "live-B/conn")
				b.ReportMetric(float64(goroutines), "goroutines")
				b.ReportMetric(float64(conns), "conns")
				for range b.N {
				}
			})
		}
	}
}

// TestIdleConnectionsKeepNoGoroutine: 9,000 idle keep-alive connections
// (iomux http-server's timeouts) keep no goroutine each: the goroutines
// added are the idle workers the requests left (at most maxIdleWorkers,
// whatever the number of connections; each exits after workerIdle).
func TestIdleConnectionsKeepNoGoroutine(t *testing.T) {
	_, goroutines, conns := idleMemory(t, false, true)
	t.Logf("%d idle keep-alive connections: %d goroutines more", conns, goroutines)
	if goroutines > 8 {
		t.Fatalf("%d idle keep-alive connections kept %d goroutines", conns, goroutines)
	}
}

// idleMemory holds 9,000 connections (fewer if the process may not open
// twice as many descriptors: client and server are both here) after one
// request each, or each with half a request's head sent (what a slowloris
// holds until ReadHeaderTimeout). It returns the Go heap they hold, per
// connection, the goroutines added since they were opened, and their
// number.
func idleMemory(b testing.TB, half, timeouts bool) (live float64, goroutines, conns int) {
	conns = 9000
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &lim); err == nil && lim.Cur < uint64(2*conns+100) {
		conns = max(int(lim.Cur)/2-50, 1)
	}
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
	goroutines = runtime.NumGoroutine()
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
	return float64(after.HeapAlloc-before.HeapAlloc) / float64(conns), runtime.NumGoroutine() - goroutines, conns
}
