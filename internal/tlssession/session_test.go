package tlssession

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/iomux/iomux/internal/devcert"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func configs(t testing.TB, version uint16) (server, client *tls.Config) {
	t.Helper()
	cert, pool, err := devcert.Pair("localhost", "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	server = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: version, MaxVersion: version}
	client = &tls.Config{RootCAs: pool, ServerName: "localhost", MinVersion: version, MaxVersion: version}
	return server, client
}

// modeConn is a TCP connection for the handshake that then turns into an
// in-memory one: reads come from in and, when it is empty, fail with a
// Temporary error instead of blocking; writes go to out.
type modeConn struct {
	net.Conn
	memory bool
	in     bytes.Buffer
	out    bytes.Buffer
}

type tempErr struct{}

func (tempErr) Error() string   { return "nothing yet" }
func (tempErr) Timeout() bool   { return true }
func (tempErr) Temporary() bool { return true }

func (c *modeConn) Read(b []byte) (int, error) {
	if !c.memory {
		return c.Conn.Read(b)
	}
	if c.in.Len() == 0 {
		return 0, tempErr{}
	}
	return c.in.Read(b)
}

func (c *modeConn) Write(b []byte) (int, error) {
	if !c.memory {
		return c.Conn.Write(b)
	}
	return c.out.Write(b)
}

// tcpPair returns both ends of a loopback TCP connection.
func tcpPair(t *testing.T) (client, server net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	server, err = ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close(); server.Close() })
	return client, server
}

// TestTemporaryIsNotSticky pins the behaviour of crypto/tls that Session
// rests on: after the handshake, a net.Error with Temporary() true from
// the underlying conn, even in the middle of a record, is returned by
// Read without poisoning the tls.Conn, and the next Read, once the rest of
// the record is there, returns the plaintext. If a Go release changes
// this, this test fails, and so would every TLS connection of the loop.
func TestTemporaryIsNotSticky(t *testing.T) {
	for _, version := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		t.Run(tls.VersionName(version), func(t *testing.T) {
			serverConf, clientConf := configs(t, version)
			cc, sc := tcpPair(t)
			cm, sm := &modeConn{Conn: cc}, &modeConn{Conn: sc}
			server, client := tls.Server(sm, serverConf), tls.Client(cm, clientConf)
			done := make(chan error, 1)
			go func() { done <- server.Handshake() }()
			if err := client.Handshake(); err != nil {
				t.Fatal(err)
			}
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			cm.memory, sm.memory = true, true
			if _, err := client.Write([]byte("hello after a pause")); err != nil {
				t.Fatal(err)
			}
			wire := cm.out.Bytes()
			buf := make([]byte, 64)
			sm.in.Write(wire[:len(wire)/2]) // half a record
			if n, err := server.Read(buf); n != 0 || !isTemporary(err) {
				t.Fatalf("Read of half a record = %d, %v; want 0 and the Temporary error", n, err)
			}
			sm.in.Write(wire[len(wire)/2:])
			n, err := server.Read(buf)
			if err != nil || string(buf[:n]) != "hello after a pause" {
				t.Fatalf("Read after the rest of the record = %q, %v; crypto/tls made the Temporary error sticky", buf[:n], err)
			}
		})
	}
}

// isTemporary reports err's Temporary(): deprecated for users, and exactly
// what crypto/tls tests and what this test pins.
func isTemporary(err error) bool {
	var ne interface{ Temporary() bool }
	return errors.As(err, &ne) && ne.Temporary()
}

// sessions connects a server and a client Session in memory: what one
// sends, the other is fed, by goroutines standing in for the sockets.
// Both handshakes run; it returns once both are done.
type linked struct {
	server, client *Session
	mu             sync.Mutex
	toServer       [][]byte // what the client sent once established, for the test to feed
	toClient       [][]byte
	established    bool
}

func link(t testing.TB, serverConf, clientConf *tls.Config) *linked {
	t.Helper()
	l := &linked{}
	var sv, cl *Session
	sendTo := func(peer **Session, queue *[][]byte) func([]byte) error {
		return func(p []byte) error {
			l.mu.Lock()
			defer l.mu.Unlock()
			if l.established {
				*queue = append(*queue, append([]byte(nil), p...))
				return nil
			}
			return (*peer).Feed(p)
		}
	}
	sv = Server(serverConf, sendTo(&cl, &l.toClient), nil)
	cl = Client(clientConf, sendTo(&sv, &l.toServer), nil)
	l.server, l.client = sv, cl
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	errs := make(chan error, 2)
	go func() { errs <- sv.Handshake(ctx) }()
	go func() { errs <- cl.Handshake(ctx) }()
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatalf("handshake: %v", err)
		}
	}
	l.mu.Lock()
	l.established = true
	sv, cl = nil, nil // sends are queued now: neither Session keeps the other
	l.mu.Unlock()
	return l
}

// take returns what was sent towards one side since the last take.
func (l *linked) take(queue *[][]byte) []byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := bytes.Join(*queue, nil)
	*queue = nil
	return out
}

// TestSessionEcho: after a real handshake (TLS 1.2 and 1.3), plaintext
// crosses in both directions, fed whole, byte by byte (half records give
// nothing until they are whole) and 1 MiB at once; close_notify is io.EOF.
func TestSessionEcho(t *testing.T) {
	for _, version := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		t.Run(tls.VersionName(version), func(t *testing.T) {
			serverConf, clientConf := configs(t, version)
			serverConf.NextProtos = []string{"echo"}
			clientConf.NextProtos = []string{"echo"}
			l := link(t, serverConf, clientConf)
			if st := l.server.ConnectionState(); !st.HandshakeComplete || st.Version != version || st.NegotiatedProtocol != "echo" {
				t.Fatalf("server state: complete %v, version %x, ALPN %q", st.HandshakeComplete, st.Version, st.NegotiatedProtocol)
			}
			if err := l.client.Write([]byte("byte by byte")); err != nil {
				t.Fatal(err)
			}
			var plain []byte
			for _, b := range l.take(&l.toServer) {
				if err := l.server.Feed([]byte{b}); err != nil {
					t.Fatal(err)
				}
				var err error
				if plain, err = l.server.Read(plain); err != nil {
					t.Fatal(err)
				}
			}
			if string(plain) != "byte by byte" {
				t.Fatalf("server read %q", plain)
			}
			// Decrypt lends its input instead of copying it: whole, byte
			// by byte (what a call leaves waits for the next) and in halves.
			if err := l.client.Write([]byte("lent, not fed")); err != nil {
				t.Fatal(err)
			}
			wire := l.take(&l.toServer)
			plain = nil
			for _, b := range wire[:len(wire)/2] {
				var err error
				if plain, err = l.server.Decrypt([]byte{b}, plain); err != nil {
					t.Fatal(err)
				}
			}
			rest := append([]byte(nil), wire[len(wire)/2:]...)
			plain, err := l.server.Decrypt(rest, plain)
			clear(rest) // Decrypt keeps nothing of it
			if err != nil || string(plain) != "lent, not fed" {
				t.Fatalf("Decrypt gave %q, %v", plain, err)
			}
			big := bytes.Repeat([]byte("0123456789abcdef"), 64<<10)
			if err := l.server.Write(big); err != nil {
				t.Fatal(err)
			}
			var got []byte
			wire = l.take(&l.toClient)
			for len(wire) > 0 { // fed in chunks of at most MaxPending
				n := min(len(wire), MaxPending)
				if err := l.client.Feed(wire[:n]); err != nil {
					t.Fatal(err)
				}
				wire = wire[n:]
				var err error
				if got, err = l.client.Read(got); err != nil {
					t.Fatal(err)
				}
			}
			if !bytes.Equal(got, big) {
				t.Fatalf("client read %d bytes, want the %d sent", len(got), len(big))
			}
			if err := l.server.CloseWrite(); err != nil {
				t.Fatal(err)
			}
			l.client.Feed(l.take(&l.toClient))
			if rest, err := l.client.Read(nil); err != io.EOF || len(rest) != 0 {
				t.Fatalf("after close_notify: %q, %v; want io.EOF", rest, err)
			}
		})
	}
}

// TestSessionCloseAbortsHandshake: a peer that says nothing holds a
// Handshake until Close, which ends it at once with an error.
func TestSessionCloseAbortsHandshake(t *testing.T) {
	serverConf, _ := configs(t, tls.VersionTLS13)
	s := Server(serverConf, func([]byte) error { return nil }, nil)
	done := make(chan error, 1)
	go func() { done <- s.Handshake(context.Background()) }()
	select {
	case err := <-done:
		t.Fatalf("Handshake returned %v with no peer", err)
	case <-time.After(50 * time.Millisecond):
	}
	s.Close()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("Handshake succeeded after Close")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not end the Handshake")
	}
	if err := s.Feed([]byte("x")); err == nil {
		t.Error("Feed after Close succeeded")
	}
}

// TestSessionBoundsInput: garbage or a flood before the handshake
// consumes it is refused past MaxPending, and plain text where a
// ClientHello belongs fails the handshake.
func TestSessionBoundsInput(t *testing.T) {
	serverConf, _ := configs(t, tls.VersionTLS13)
	s := Server(serverConf, func([]byte) error { return nil }, nil)
	defer s.Close()
	if err := s.Feed(make([]byte, MaxPending)); err != nil {
		t.Fatalf("Feed of MaxPending bytes: %v", err)
	}
	if err := s.Feed([]byte("x")); !errors.Is(err, ErrTooMuchInput) {
		t.Fatalf("Feed past MaxPending: %v, want ErrTooMuchInput", err)
	}
	if s.Pending() != MaxPending {
		t.Errorf("Pending = %d after a refused Feed, want %d", s.Pending(), MaxPending)
	}

	g := Server(serverConf, func([]byte) error { return nil }, nil)
	defer g.Close()
	g.Feed([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := g.Handshake(ctx); err == nil || ctx.Err() != nil {
		t.Fatalf("Handshake on plain text: %v (context: %v), want a TLS error at once", err, ctx.Err())
	}
}

// TestFirstRecordIn: a server's Handshake can start without waiting once a
// whole first record is fed, or bytes no TLS record starts with, or EOF;
// not on nothing or part of a record.
func TestFirstRecordIn(t *testing.T) {
	serverConf, _ := configs(t, tls.VersionTLS13)
	record := append([]byte{22, 3, 1, 0, 200}, make([]byte, 200)...)
	cases := []struct {
		name string
		feed [][]byte
		eof  bool
		want bool
	}{
		{"nothing", nil, false, false},
		{"part of a header", [][]byte{record[:3]}, false, false},
		{"a header", [][]byte{record[:5]}, false, false},
		{"all but a byte", [][]byte{record[:len(record)-1]}, false, false},
		{"a whole record", [][]byte{record}, false, true},
		{"a whole record, in pieces", [][]byte{record[:4], record[4:100], record[100:]}, false, true},
		{"a record and more", [][]byte{record, record[:7]}, false, true},
		{"plain text", [][]byte{[]byte("GET / HTTP/1.1\r\n")}, false, true},
		{"an SSLv2 hello", [][]byte{{0x80, 0x2e, 0x01, 0x00, 0x02}}, false, true},
		{"a record too long for TLS", [][]byte{{22, 3, 1, 0xff, 0xff}}, false, true},
		{"EOF on nothing", nil, true, true},
		{"EOF in a record", [][]byte{record[:50]}, true, true},
	}
	for _, tc := range cases {
		s := Server(serverConf, func([]byte) error { return nil }, nil)
		for _, p := range tc.feed {
			if err := s.Feed(p); err != nil {
				t.Fatal(err)
			}
		}
		if tc.eof {
			s.FeedEOF()
		}
		if got := s.FirstRecordIn(); got != tc.want {
			t.Errorf("%s: FirstRecordIn = %v, want %v", tc.name, got, tc.want)
		}
		s.Close()
		if !s.FirstRecordIn() {
			t.Errorf("%s: FirstRecordIn = false after Close, want true (a Handshake would fail at once)", tc.name)
		}
	}
}

// TestCutFirstRecord: a server's first record, a handshake record longer
// than maxFragment and whole, reaches crypto/tls as 2, 4, 8… records of
// equal length, one per Read, with the same type and version and the same
// payload in order; what came after it is untouched. Anything else is
// read as it came.
func TestCutFirstRecord(t *testing.T) {
	record := func(typ byte, n int) []byte {
		r := []byte{typ, 3, 1, byte(n >> 8), byte(n)}
		for i := range n {
			r = append(r, byte(i*7))
		}
		return r
	}
	after := []byte{20, 3, 3, 0, 1, 1} // a ChangeCipherSpec record
	cases := []struct {
		name  string
		fed   []byte
		parts int // records the first is cut into; 0: not cut
	}{
		{"a ClientHello of 1500 bytes", append(record(22, 1500), after...), 4},
		{"one of 513 bytes", record(22, 513), 2},
		{"one of 4000 bytes", append(record(22, 4000), after...), 8},
		{"the longest record", record(22, 16384), 32},
		{"one of 512 bytes", record(22, 512), 0},
		{"not a handshake record", record(23, 1500), 0},
		{"a record not yet whole", record(22, 1500)[:1000], 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := newPipe(func([]byte) error { return nil }, nil)
			p.recut = true
			p.feed(tc.fed)
			p.feedEOF()
			var reads [][]byte
			for {
				b := make([]byte, 1<<20)
				n, err := p.Read(b)
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				reads = append(reads, b[:n])
			}
			if tc.parts == 0 {
				if len(reads) != 1 || !bytes.Equal(reads[0], tc.fed) {
					t.Fatalf("read %d pieces, want what was fed in one", len(reads))
				}
				return
			}
			if len(reads) != tc.parts+min(1, len(tc.fed)-recordHeaderLen-int(tc.fed[3])<<8-int(tc.fed[4])) {
				t.Fatalf("read %d pieces, want %d records and what came after", len(reads), tc.parts)
			}
			n := int(tc.fed[3])<<8 | int(tc.fed[4])
			size := (n + tc.parts - 1) / tc.parts
			var payload []byte
			for i, r := range reads[:tc.parts] {
				m := int(r[3])<<8 | int(r[4])
				if !bytes.Equal(r[:3], tc.fed[:3]) || len(r) != recordHeaderLen+m || m > maxFragment || m == 0 ||
					(i < tc.parts-1 && m != size) {
					t.Fatalf("record %d of the cut: header % x, %d bytes", i, r[:5], len(r))
				}
				payload = append(payload, r[recordHeaderLen:]...)
			}
			if !bytes.Equal(payload, tc.fed[recordHeaderLen:recordHeaderLen+n]) {
				t.Fatal("the cut records' payload is not the record's")
			}
			if rest := tc.fed[recordHeaderLen+n:]; len(rest) > 0 && !bytes.Equal(reads[tc.parts], rest) {
				t.Fatalf("after the cut: % x, want % x", reads[tc.parts], rest)
			}
		})
	}
}

// TestSessionBigClientHello: a ClientHello of several KiB (many ALPN
// protocols), cut into records by the server, makes a handshake like any
// other, in TLS 1.2 and 1.3.
func TestSessionBigClientHello(t *testing.T) {
	for _, version := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		t.Run(tls.VersionName(version), func(t *testing.T) {
			serverConf, clientConf := configs(t, version)
			for i := range 60 {
				clientConf.NextProtos = append(clientConf.NextProtos, fmt.Sprintf("protocol-%02d-%s", i, strings.Repeat("p", 50)))
			}
			serverConf.NextProtos = clientConf.NextProtos[59:]
			l := link(t, serverConf, clientConf)
			if st := l.server.ConnectionState(); st.NegotiatedProtocol != serverConf.NextProtos[0] {
				t.Fatalf("ALPN %q, want %q", st.NegotiatedProtocol, serverConf.NextProtos[0])
			}
			if err := l.client.Write([]byte("after a big hello")); err != nil {
				t.Fatal(err)
			}
			plain, err := l.server.Decrypt(l.take(&l.toServer), nil)
			if err != nil || string(plain) != "after a big hello" {
				t.Fatalf("server read %q, %v", plain, err)
			}
		})
	}
}

// BenchmarkSessionMemory reports the live heap of an established server
// Session (TLS 1.3, a Go client's ClientHello with its post-quantum key
// share, about 1.5 KiB), its first record cut into records or read whole:
// what crypto/tls keeps per connection, and the pipe under it.
func BenchmarkSessionMemory(b *testing.B) {
	serverConf, clientConf := configs(b, tls.VersionTLS13)
	for _, cut := range []bool{true, false} {
		name := "whole"
		if cut {
			name = "cut"
		}
		b.Run(name, func(b *testing.B) {
			defer func(was bool) { cutFirstRecords = was }(cutFirstRecords)
			cutFirstRecords = cut
			const n = 200
			var perSession float64
			for b.Loop() {
				var before, after runtime.MemStats
				runtime.GC()
				runtime.ReadMemStats(&before)
				servers := make([]*Session, n)
				for i := range servers {
					l := link(b, serverConf, clientConf)
					servers[i] = l.server
					l.client, l.toClient = nil, nil // the server's send still holds l
				}
				runtime.GC()
				runtime.ReadMemStats(&after)
				perSession = float64(after.HeapAlloc-before.HeapAlloc) / n
				runtime.KeepAlive(servers)
			}
			b.ReportMetric(perSession, "B/session")
		})
	}
}
