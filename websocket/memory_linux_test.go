package websocket_test

import (
	"bytes"
	"net/netip"
	"runtime"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/iomux/iomux/loop"
	"github.com/iomux/iomux/websocket"
)

// idleConns opens n WebSocket connections to addr from raw sockets (so
// that only the server's memory counts), each with one message echoed,
// and returns them. With deflate each offers permessage-deflate as
// browsers do.
func idleConns(t testing.TB, addr string, n int, deflate bool) []int {
	ap := netip.MustParseAddrPort(addr)
	sa := &unix.SockaddrInet4{Port: int(ap.Port()), Addr: ap.Addr().As4()}
	head := "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
	if deflate {
		head += "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"
	}
	req := []byte(head + "\r\n")
	var fw websocket.FrameWriter
	fw.Role = websocket.Client
	req = fw.AppendMessage(req, websocket.OpText, []byte("Hello, World!"))
	fds := make([]int, 0, n)
	t.Cleanup(func() {
		for _, fd := range fds {
			unix.Close(fd)
		}
	})
	buf := make([]byte, 4096)
	for range n {
		fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		fds = append(fds, fd)
		if err := unix.Connect(fd, sa); err != nil {
			t.Fatal(err)
		}
		if _, err := unix.Write(fd, req); err != nil {
			t.Fatal(err)
		}
		for got := []byte(nil); !bytes.HasSuffix(got, []byte("Hello, World!")); {
			k, err := unix.Read(fd, buf)
			if err != nil || k == 0 {
				t.Fatalf("read: %d, %v", k, err)
			}
			got = append(got, buf[:k]...)
		}
	}
	return fds
}

// BenchmarkIdleMemory: the Go heap one idle WebSocket connection holds
// after one echoed message, and the goroutines it keeps, upgraded from
// loophttp and served by ServeLoop, with the default keepalive; and
// upgraded from loophttp with permessage-deflate agreed (the server's
// default policy: no compression context).
func BenchmarkIdleMemory(b *testing.B) {
	const conns = 2000
	for _, how := range []string{"loophttp", "serveloop", "loophttp-deflate"} {
		b.Run(how, func(b *testing.B) {
			var before, after runtime.MemStats
			var addr string
			switch how {
			case "loophttp":
				addr = serveHTTP(b, &echo{}, nil, loop.Options{Loops: 1}, nil)
			case "serveloop":
				addr, _ = serveLoop(b, &echo{}, nil, loop.Options{Loops: 1})
			case "loophttp-deflate":
				addr = serveHTTP(b, &echo{}, &websocket.Options{Compression: true}, loop.Options{Loops: 1}, nil)
			}
			runtime.GC()
			runtime.ReadMemStats(&before)
			goroutines := runtime.NumGoroutine()
			idleConns(b, addr, conns, how == "loophttp-deflate")
			runtime.GC()
			runtime.ReadMemStats(&after)
			b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/conns, "live-B/conn")
			b.ReportMetric(float64(runtime.NumGoroutine()-goroutines), "goroutines")
			for range b.N {
			}
		})
	}
}

// TestIdleGoroutines: 1,000 idle connections hold no goroutine each.
func TestIdleGoroutines(t *testing.T) {
	for _, how := range []string{"loophttp", "serveloop"} {
		t.Run(how, func(t *testing.T) {
			var addr string
			if how == "loophttp" {
				addr = serveHTTP(t, &echo{}, nil, loop.Options{Loops: 2}, nil)
			} else {
				addr, _ = serveLoop(t, &echo{}, nil, loop.Options{Loops: 2})
			}
			before := runtime.NumGoroutine()
			idleConns(t, addr, 1000, false)
			if d := runtime.NumGoroutine() - before; d > 5 {
				t.Fatalf("%d more goroutines for 1,000 idle connections", d)
			}
		})
	}
}
