package loop

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/iomux/iomux"
)

func TestEchoSmoke(t *testing.T) {
	s := startServer(t, echoHandler{}, Options{Loops: 2}, "tcp", "127.0.0.1:0")
	roundTrip(t, dial(t, s), []byte("This is the message. "))
}

// echoMany opens conns clients at once (all open together), each sends a
// message naming itself and expects it back; it returns the mismatches.
func echoMany(t *testing.T, s *Server, conns int) {
	t.Helper()
	a := s.Addrs()[0]
	clients := make([]net.Conn, conns)
	t.Cleanup(func() {
		for _, c := range clients {
			if c != nil {
				c.Close()
			}
		}
	})
	// A few workers open and test the connections, so 5000 clients need
	// 16 goroutines, not 5000, and the connect storm stays below the
	// listen backlog.
	const workers = 16
	var mismatches, failures atomic.Int64
	var firstErr atomic.Value
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := w; i < conns; i += workers {
				c, err := net.DialTimeout(a.Network(), a.String(), 10*time.Second)
				if err != nil {
					failures.Add(1)
					firstErr.CompareAndSwap(nil, err)
					continue
				}
				clients[i] = c
				msg := fmt.Appendf(nil, "client %05d says hello to %s\n", i, a)
				c.SetDeadline(time.Now().Add(20 * time.Second))
				got := make([]byte, len(msg))
				if _, err := c.Write(msg); err != nil {
					failures.Add(1)
					firstErr.CompareAndSwap(nil, err)
					continue
				}
				if _, err := io.ReadFull(c, got); err != nil {
					failures.Add(1)
					firstErr.CompareAndSwap(nil, err)
					continue
				}
				if !bytes.Equal(got, msg) {
					mismatches.Add(1)
				}
			}
		})
	}
	wg.Wait()
	if failures.Load() > 0 {
		t.Fatalf("%d of %d clients failed, first: %v", failures.Load(), conns, firstErr.Load())
	}
	if mismatches.Load() > 0 {
		t.Fatalf("%d of %d echoes mismatched", mismatches.Load(), conns)
	}
	// Every client is still connected: the server holds them all at once.
	if st := s.Stats(); st.Open != int64(conns) || st.Total != int64(conns) {
		t.Fatalf("Stats: Open %d, Total %d; want %d open", st.Open, st.Total, conns)
	}
}

func TestEchoConnections(t *testing.T) {
	for _, n := range []int{1, 100, 5000} {
		t.Run(fmt.Sprintf("conns=%d", n), func(t *testing.T) {
			if n > 100 && testing.Short() {
				t.Skip("-short")
			}
			s := startServer(t, echoHandler{}, Options{Loops: 2}, "tcp", "127.0.0.1:0")
			echoMany(t, s, n)
		})
	}
}

// TestEchoBackends runs the echo test on every backend this OS has. The
// select backend only takes descriptors below 1024, so the count stays
// small for all of them.
func TestEchoBackends(t *testing.T) {
	for _, b := range iomux.Backends() {
		t.Run(b, func(t *testing.T) {
			s := startServer(t, echoHandler{}, Options{Loops: 2, Backend: b}, "tcp", "127.0.0.1:0")
			for _, l := range s.Loops() {
				if l.Backend() != b {
					t.Fatalf("loop %d runs on %s, want %s", l.Index(), l.Backend(), b)
				}
			}
			echoMany(t, s, 50)
			// And a payload large enough to need queuing and writability.
			c := dial(t, s)
			echoPayload(t, c, 1<<20)
		})
	}
}

// echoPayload sends n bytes from one goroutine while reading them back.
func echoPayload(t *testing.T, c net.Conn, n int) {
	t.Helper()
	p := payload(n)
	c.SetDeadline(time.Now().Add(60 * time.Second))
	defer c.SetDeadline(time.Time{})
	werr := make(chan error, 1)
	go func() {
		_, err := c.Write(p)
		werr <- err
	}()
	got := make([]byte, n)
	if _, err := io.ReadFull(c, got); err != nil {
		t.Fatalf("read: %v", err)
	}
	if err := <-werr; err != nil {
		t.Fatalf("write: %v", err)
	}
	if !bytes.Equal(got, p) {
		t.Fatalf("payload of %d bytes differs from offset %d", n, firstDiff(got, p))
	}
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	if len(a) != len(b) {
		return min(len(a), len(b))
	}
	return -1
}

func TestEchoPayloads(t *testing.T) {
	s := startServer(t, echoHandler{}, Options{Loops: 2}, "tcp", "127.0.0.1:0")
	for _, n := range []int{1 << 20, 16 << 20} {
		t.Run(fmt.Sprintf("%dMiB", n>>20), func(t *testing.T) {
			echoPayload(t, dial(t, s), n)
		})
	}
	if st := settled(t, s); st.BytesIn != 17<<20 || st.BytesOut != 17<<20 {
		t.Fatalf("Stats: BytesIn %d, BytesOut %d; want %d each", st.BytesIn, st.BytesOut, 17<<20)
	}
}

func TestEchoUnix(t *testing.T) {
	skipNoUnix(t)
	path := filepath.Join(t.TempDir(), "echo.sock")
	s := startServer(t, echoHandler{}, Options{Loops: 2}, "unix", path)
	if a := s.Addrs()[0]; a.Network() != "unix" || a.String() != path {
		t.Fatalf("Addrs()[0] = %s %q, want unix %q", a.Network(), a, path)
	}
	echoMany(t, s, 20)
	echoPayload(t, dial(t, s), 1<<20)
	stop(t, s)
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("socket file still there after Stop: %v", err)
	}
}

func TestEchoIPv6(t *testing.T) {
	ln, err := net.Listen("tcp6", "[::1]:0")
	if err != nil {
		t.Skipf("no IPv6 loopback: %v", err)
	}
	ln.Close()
	s := startServer(t, echoHandler{}, Options{Loops: 2}, "tcp6", "[::1]:0")
	a, ok := s.Addrs()[0].(*net.TCPAddr)
	if !ok || !a.IP.Equal(net.IPv6loopback) {
		t.Fatalf("Addrs()[0] = %v, want [::1]:port", s.Addrs()[0])
	}
	echoMany(t, s, 10)
	var remote net.Addr
	done := make(chan struct{})
	s2 := startServer(t, &funcHandler{data: func(c *Conn) {
		remote = c.RemoteAddr()
		c.Write(c.Next(-1))
		close(done)
	}}, Options{Loops: 1}, "tcp6", "[::1]:0")
	roundTrip(t, dial(t, s2), []byte("v6"))
	<-done
	if ra, ok := remote.(*net.TCPAddr); !ok || !ra.IP.Equal(net.IPv6loopback) {
		t.Fatalf("RemoteAddr = %v, want [::1]:port", remote)
	}

	// Dial over IPv6 from a client-only Server.
	d := startDialer(t, 1)
	dc, err := d.Dial(within(t, 5*time.Second), "tcp6", s.Addrs()[0].String(), nil)
	if err != nil {
		t.Fatal(err)
	}
	dc.AsyncWrite([]byte("dialed over v6"))
	if got := d.expect(t, len("dialed over v6")); string(got) != "dialed over v6" {
		t.Fatalf("dialed echo: %q", got)
	}
	dc.AsyncClose()

	// UDP over IPv6.
	u := startServer(t, echoHandler{}, Options{Loops: 1}, "udp6", "[::1]:0")
	uc := dialUDP(t, "udp6", u.Addrs()[0].String())
	defer uc.Close()
	uc.Write([]byte("datagram v6"))
	uc.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 64)
	if n, err := uc.Read(buf); err != nil || string(buf[:n]) != "datagram v6" {
		t.Fatalf("udp6 echo: %q, %v", buf[:n], err)
	}
}

func TestEchoUDP(t *testing.T) { forEachBackend(t, testEchoUDP) }

func testEchoUDP(t *testing.T, backend string) {
	var peers sync.Map // the sender OnPacket saw for each datagram's text
	s := startServer(t, &funcHandler{packet: func(pc *PacketConn, msg []byte, from netip.AddrPort) {
		peers.Store(string(msg), from.String())
		pc.WriteTo(append([]byte("re: "), msg...), from) // one datagram
	}}, Options{Loops: 2, Backend: backend}, "udp", "127.0.0.1:0")
	var clients [2]net.Conn
	for i := range clients {
		c := dialUDP(t, "udp", s.Addrs()[0].String())
		t.Cleanup(func() { c.Close() })
		clients[i] = c
	}
	// Datagrams can be lost even on loopback in theory; resend until the
	// reply arrives, then check it is this client's own reply.
	for round := range 20 {
		for i, c := range clients {
			msg := fmt.Sprintf("client %d datagram %d", i, round)
			want := "re: " + msg
			buf := make([]byte, 256)
			var got string
			for attempt := 0; got == ""; attempt++ {
				if attempt == 5 {
					t.Fatalf("no reply to %q", msg)
				}
				if _, err := c.Write([]byte(msg)); err != nil {
					t.Fatal(err)
				}
				c.SetReadDeadline(time.Now().Add(2 * time.Second))
				n, err := c.Read(buf)
				if err != nil {
					continue
				}
				got = string(buf[:n])
			}
			if got != want {
				t.Fatalf("client %d got %q, want %q", i, got, want)
			}
			if p, _ := peers.Load(msg); p != c.LocalAddr().String() {
				t.Fatalf("sender of %q = %v, want %v", msg, p, c.LocalAddr())
			}
		}
	}
	if st := settled(t, s); st.BytesIn == 0 || st.BytesOut == 0 || st.Open != 0 {
		t.Fatalf("Stats after UDP echo: %+v (want bytes counted, no connections)", st)
	}
}

// stop stops s, failing the test on error.
func stop(t testing.TB, s *Server) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Stop(ctx); err != nil {
		t.Fatalf("Stop: %v", err)
	}
}
