package loop

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"testing"
	"time"

	"github.com/iomux/iomux"
	"go.uber.org/goleak"
)

// TestMain runs the subprocess servers some tests need (see emfile_test.go)
// and checks that no goroutine outlives the tests.
func TestMain(m *testing.M) {
	// Start Go's own netpoller (an epoll fd and an eventfd that stay open
	// for the life of the process) before any test counts descriptors, and
	// before a child server runs out of them.
	if ln, err := net.Listen("tcp", "127.0.0.1:0"); err == nil {
		ln.Close()
	}
	if os.Getenv(childEnv) != "" {
		os.Exit(runChild(os.Getenv(childEnv)))
	}
	goleak.VerifyTestMain(m)
}

// funcHandler is a Handler built from functions; a nil OnData echoes, the
// other nil functions fall back to BaseHandler.
type funcHandler struct {
	BaseHandler
	open      func(c *Conn)
	data      func(c *Conn)
	eof       func(c *Conn)
	close     func(c *Conn, err error)
	pause     func(c *Conn)
	resume    func(c *Conn)
	timeout   func(l *Loop)
	loopStart func(l *Loop)
	shutdown  func(s *Server)
	packet    func(pc *PacketConn, data []byte, from netip.AddrPort)
}

func (h *funcHandler) OnOpen(c *Conn) {
	if h.open != nil {
		h.open(c)
	}
}

func (h *funcHandler) OnData(c *Conn) {
	if h.data != nil {
		h.data(c)
		return
	}
	c.Write(c.Next(-1))
}

func (h *funcHandler) OnEOF(c *Conn) {
	if h.eof != nil {
		h.eof(c)
		return
	}
	c.Close()
}

func (h *funcHandler) OnClose(c *Conn, err error) {
	if h.close != nil {
		h.close(c, err)
	}
}

func (h *funcHandler) OnPause(c *Conn) {
	if h.pause != nil {
		h.pause(c)
	}
}

func (h *funcHandler) OnResume(c *Conn) {
	if h.resume != nil {
		h.resume(c)
	}
}

func (h *funcHandler) OnWaitTimeout(l *Loop) {
	if h.timeout != nil {
		h.timeout(l)
	}
}

func (h *funcHandler) OnLoopStart(l *Loop) {
	if h.loopStart != nil {
		h.loopStart(l)
	}
}

func (h *funcHandler) OnShutdown(s *Server) {
	if h.shutdown != nil {
		h.shutdown(s)
	}
}

// OnPacket echoes a datagram, unless packet is set.
func (h *funcHandler) OnPacket(pc *PacketConn, data []byte, from netip.AddrPort) {
	if h.packet != nil {
		h.packet(pc, data, from)
		return
	}
	pc.WriteTo(data, from)
}

// echoHandler echoes streams and datagrams.
type echoHandler struct{ BaseHandler }

func (echoHandler) OnData(c *Conn) { c.Write(c.Next(-1)) }

func (echoHandler) OnPacket(pc *PacketConn, data []byte, from netip.AddrPort) { pc.WriteTo(data, from) }

// startServer starts a Server listening on one address and stops it when
// the test ends, then checks that the descriptors and goroutines it used
// are gone (the test's own clients, closed by earlier cleanups, included).
func startServer(t testing.TB, h Handler, opts Options, network, addr string) *Server {
	t.Helper()
	s := NewServer(h, opts)
	if network != "" {
		if err := s.Listen(network, addr); err != nil {
			t.Fatal(err)
		}
	}
	return start(t, s)
}

// start starts s and registers its Stop and the leak checks as cleanups.
func start(t testing.TB, s *Server) *Server {
	t.Helper()
	fds := countFDs(t)
	goroutines := goleak.IgnoreCurrent()
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := s.Stop(ctx); err != nil && !errors.Is(err, ErrServerClosed) {
			t.Errorf("Stop: %v", err)
		}
		checkFDs(t, fds)
		if err := goleak.Find(goroutines); err != nil {
			t.Errorf("goroutines left after Stop: %v", err)
		}
	})
	return s
}

// countFDs counts the process's open descriptors.
func countFDs(t testing.TB) int {
	t.Helper()
	if !countsDescriptors {
		return -1 // checkFDs checks nothing
	}
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("cannot count descriptors: %v", err)
	}
	return len(ents)
}

// checkFDs fails the test unless the descriptor count returns to want. A
// Go net.Conn closed while another goroutine reads it is closed when that
// reader returns, so the count is given a moment to settle.
func checkFDs(t testing.TB, want int) {
	t.Helper()
	if want < 0 {
		return
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		got := countFDs(t)
		if got <= want {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("%d descriptors open after Stop, %d before Start", got, want)
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// dial connects a client to the server's first address; the test's
// cleanup closes it.
func dial(t testing.TB, s *Server) net.Conn {
	t.Helper()
	a := s.Addrs()[0]
	c, err := net.DialTimeout(a.Network(), a.String(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// roundTrip writes msg and expects it back.
func roundTrip(t testing.TB, c net.Conn, msg []byte) {
	t.Helper()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	defer c.SetDeadline(time.Time{})
	if _, err := c.Write(msg); err != nil {
		t.Fatalf("write: %v", err)
	}
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(c, got); err != nil {
		t.Fatalf("read: %v (got %q)", err, got)
	}
	if !bytes.Equal(got, msg) {
		t.Fatalf("echo mismatch: sent %q, got %q", msg, got)
	}
}

// payload returns n bytes of a pattern that shows reordering and loss
// (a byte's value depends on its offset, with a period that is not a
// power of two).
func payload(n int) []byte {
	p := make([]byte, n)
	for i := range min(n, 251) {
		p[i] = byte(i)
	}
	for done := min(n, 251); done < n; done *= 2 {
		copy(p[done:], p[:done]) // doubling keeps the period: done is a multiple of 251
	}
	return p
}

// recv waits for a value on ch, failing the test after d.
func recv[T any](t testing.TB, ch <-chan T, d time.Duration, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(d):
		t.Fatalf("timed out after %v waiting for %s", d, what)
		panic("unreachable")
	}
}

// onLoop runs fn on l and waits for it.
func onLoop(t testing.TB, l *Loop, fn func()) {
	t.Helper()
	done := make(chan struct{})
	if err := l.Post(func() { fn(); close(done) }); err != nil {
		t.Fatal(err)
	}
	recv(t, done, 10*time.Second, "a posted function")
}

// settled returns s's Stats once every loop has finished what it was
// doing: a loop counts bytes after the write that sent them, so a client
// can see its echo before the counter moves.
func settled(t testing.TB, s *Server) Stats {
	t.Helper()
	for _, l := range s.Loops() {
		onLoop(t, l, func() {})
	}
	return s.Stats()
}

// settledWhen is settled, asked again until ok holds of the Stats (or 5
// seconds have passed, and then it returns the last): a TLS server's
// handshake goroutine writes its alert to the socket itself, so a client
// can see its handshake refused before the loop has counted the failure.
func settledWhen(t testing.TB, s *Server, ok func(Stats) bool) Stats {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		st := settled(t, s)
		if ok(st) || time.Now().After(deadline) {
			return st
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// expectClosed reads from c until EOF or an error and returns what it read;
// it fails the test if the peer does not close within d.
func expectClosed(t testing.TB, c net.Conn, d time.Duration) []byte {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(d))
	// Not io.ReadAll: its small first reads make multi-MiB reads crawl
	// under -race (seconds for 8 MiB).
	var got []byte
	buf := make([]byte, 256<<10)
	var err error
	for {
		var n int
		n, err = c.Read(buf)
		got = append(got, buf[:n]...)
		if err == io.EOF {
			err = nil
		}
		if err != nil || n == 0 {
			break
		}
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("connection still open after %v", d)
	}
	return got
}

// readN reads and discards n bytes from c.
func readN(t *testing.T, c net.Conn, n int) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(30 * time.Second))
	buf := make([]byte, 256<<10)
	for n > 0 {
		k, err := c.Read(buf[:min(n, len(buf))])
		if err != nil {
			t.Fatal(err)
		}
		n -= k
	}
}

// forEachBackend runs test once per Selector backend this OS has, as
// subtests named after the backends.
func forEachBackend(t *testing.T, test func(t *testing.T, backend string)) {
	for _, b := range iomux.Backends() {
		t.Run(b, func(t *testing.T) { test(t, b) })
	}
}

// notify sends v on ch without blocking: handlers run on the loop, and a
// handler blocked on a full channel would stall the loop (and Stop) for
// good. Channels are sized for what a test expects; extra events are
// dropped.
func notify[T any](ch chan<- T, v T) {
	select {
	case ch <- v:
	default:
	}
}

// RaceEnabled is raceEnabled for the tests of package loop_test.
const RaceEnabled = raceEnabled

// SkipUnderWine skips a test of package loop_test under Wine only, saying
// why; on Windows itself and elsewhere it runs.
func SkipUnderWine(t *testing.T, why string) {
	t.Helper()
	if underWine {
		t.Skip("under Wine: " + why)
	}
}
