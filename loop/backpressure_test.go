package loop

import (
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/iomux/iomux"
)

// TestBackPressure: a client sends 16 MiB and does not read. The server
// stops reading it once its queue passes HighWater, so its queue stays
// bounded; when the client reads, every byte arrives in order. (The
// server's memory is measured alone, in a subprocess: TestBackPressureRSS.)
func TestBackPressure(t *testing.T) {
	const total = 16 << 20
	var maxQueued atomic.Int64
	paused := make(chan struct{}, 1)
	resumed := make(chan struct{}, 1)
	h := &funcHandler{
		data: func(c *Conn) {
			c.Write(c.Next(-1))
			if q := int64(c.Outbound()); q > maxQueued.Load() {
				maxQueued.Store(q)
			}
		},
		// Never block the loop: pauses and resumes may repeat as the
		// client drains.
		pause:  func(c *Conn) { notify(paused, struct{}{}) },
		resume: func(c *Conn) { notify(resumed, struct{}{}) },
	}
	opts := Options{Loops: 1, HighWater: 1 << 20, LowWater: 256 << 10}
	s := startServer(t, h, opts, "tcp", "127.0.0.1:0")
	c := dial(t, s)
	p := payload(total)

	werr := writeAll(c, p)
	recv(t, paused, 20*time.Second, "OnPause")
	if st := s.Stats(); st.Congested != 1 {
		t.Fatalf("Stats().Congested = %d after OnPause, want 1", st.Congested)
	}
	// The server no longer reads: its input stops growing well short of
	// 16 MiB, and the writer stays blocked.
	in := waitSteady(func() int64 { return s.Stats().BytesIn })
	if in >= total {
		t.Fatalf("server read all %d bytes while paused", in)
	}
	stillWriting(t, werr)
	t.Logf("paused after reading %d KiB; queue peaked at %d KiB", in>>10, maxQueued.Load()>>10)
	if q := maxQueued.Load(); q > int64(opts.HighWater+s.Options().ReadBufferSize) {
		t.Fatalf("queue reached %d bytes, above HighWater+ReadBufferSize", q)
	}

	readEcho(t, c, p, werr)
	recv(t, resumed, 5*time.Second, "OnResume")
	if st := settled(t, s); st.Congested != 0 || st.BytesIn != total || st.BytesOut != total {
		t.Fatalf("Stats after the drain: %+v", st)
	}
}

// TestBackPressureRSS: the server runs alone in a subprocess, and a client
// sends it 16 MiB without reading. The server stops reading once its queue
// passes HighWater, so its resident memory (VmRSS) grows by far less than
// 16 MiB; once the client reads, every byte arrives in order.
func TestBackPressureRSS(t *testing.T) {
	const total = 16 << 20
	ch := startChild(t, "echo")
	pid := ch.cmd.Process.Pid
	c, err := net.DialTimeout("tcp", ch.addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// Warm up what any busy connection touches (the loop's read buffer,
	// the runtime's first spans), so that the growth measured is the queue.
	roundTrip(t, c, payload(128<<10))
	before := vmRSS(t, pid)

	p := payload(total)
	werr := writeAll(c, p)
	// Wait until the server pauses (or, if it never does, reads it all),
	// and its input stops growing.
	deadline := time.Now().Add(20 * time.Second)
	for st := ch.stats(t); st.Congested == 0 && st.BytesIn < total; st = ch.stats(t) {
		if time.Now().After(deadline) {
			t.Fatalf("the server neither paused nor read everything: %+v", st)
		}
		time.Sleep(10 * time.Millisecond)
	}
	in := waitSteady(func() int64 { return ch.stats(t).BytesIn })
	grown := vmRSS(t, pid) - before
	t.Logf("server read %d KiB; its RSS grew %d KiB (from %d KiB)", in>>10, grown>>10, before>>10)
	// Well under 16 MiB: the queue (HighWater 1 MiB), the garbage its
	// growth left for the GC, and under the race detector the shadow
	// memory that covers them (about as much again).
	limit := int64(8 << 20)
	if raceEnabled {
		limit = 12 << 20
	}
	if grown > limit {
		t.Fatalf("server RSS grew by %d KiB (limit %d KiB) with a client that sent 16 MiB and read nothing", grown>>10, limit>>10)
	}
	if st := ch.stats(t); st.Congested != 1 || in >= total {
		t.Fatalf("server read %d of %d bytes, Stats %+v: want it paused, short of the end", in, total, st)
	}
	stillWriting(t, werr)
	readEcho(t, c, p, werr)
}

// writeAll writes p to c from a goroutine of its own; the channel gets
// the Write's error once it returns.
func writeAll(c net.Conn, p []byte) <-chan error {
	werr := make(chan error, 1)
	go func() {
		_, err := c.Write(p)
		werr <- err
	}()
	return werr
}

// stillWriting fails the test if the writer of werr has finished: a
// paused server must leave it blocked.
func stillWriting(t *testing.T, werr <-chan error) {
	t.Helper()
	select {
	case err := <-werr:
		t.Fatalf("client finished writing to a paused server (err %v)", err)
	default:
	}
}

// readEcho reads len(p) bytes from c, waits for the writer of werr, and
// checks that the echo is p, every byte in order.
func readEcho(t *testing.T, c net.Conn, p []byte, werr <-chan error) {
	t.Helper()
	got := make([]byte, len(p))
	c.SetReadDeadline(time.Now().Add(60 * time.Second))
	if _, err := io.ReadFull(c, got); err != nil {
		t.Fatalf("read: %v", err)
	}
	if err := <-werr; err != nil {
		t.Fatalf("write: %v", err)
	}
	if !bytes.Equal(got, p) {
		t.Fatalf("echo differs from offset %d", firstDiff(got, p))
	}
}

// vmRSS returns the resident memory of process pid, in bytes.
func vmRSS(t *testing.T, pid int) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	for line := range strings.Lines(string(b)) {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err != nil {
				t.Fatalf("VmRSS line %q: %v", line, err)
			}
			return kb << 10
		}
	}
	t.Fatalf("no VmRSS in /proc/%d/status", pid)
	return 0
}

// waitSteady samples f until it stops changing for a few samples (at
// most a few seconds) and returns the last value.
func waitSteady(f func() int64) int64 {
	last, same := f(), 0
	for range 100 {
		time.Sleep(20 * time.Millisecond)
		v := f()
		if v == last {
			if same++; same == 5 {
				break
			}
			continue
		}
		last, same = v, 0
	}
	return last
}

// TestHalfClose: the client sends 1 MiB and shuts down its writing half;
// the server's echo of all of it still arrives, then EOF.
func TestHalfClose(t *testing.T) {
	eof := make(chan int, 1)
	h := &funcHandler{eof: func(c *Conn) {
		notify(eof, c.Outbound())
		c.Close()
	}}
	halfClose(t, startServer(t, h, Options{Loops: 1}, "tcp", "127.0.0.1:0"))
	recv(t, eof, 5*time.Second, "OnEOF")
}

func halfClose(t *testing.T, s *Server) {
	c := dial(t, s).(*net.TCPConn)
	p := payload(4 << 20) // more than the kernel buffers: some is queued at EOF
	werr := make(chan error, 1)
	go func() {
		_, err := c.Write(p)
		if err == nil {
			err = c.CloseWrite()
		}
		werr <- err
	}()
	c.SetReadDeadline(time.Now().Add(30 * time.Second))
	got, err := io.ReadAll(c) // up to EOF
	if err != nil {
		t.Fatalf("read: %v after %d bytes", err, len(got))
	}
	if err := <-werr; err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, p) {
		t.Fatalf("got %d bytes back, want %d; differ at %d", len(got), len(p), firstDiff(got, p))
	}
}

// eofProbe is the echo handler with BaseHandler's OnEOF, reporting how
// much output is queued when the peer's EOF arrives.
type eofProbe struct {
	echoHandler
	queued chan int
}

func (h eofProbe) OnEOF(c *Conn) {
	notify(h.queued, c.Outbound())
	c.Close() // what a Handler with no OnEOF gets: must still flush
}

// TestHalfCloseQueued: the server has output queued when the peer's EOF
// arrives (the Python select tutorials' server drops it here); it is still
// delivered.
func TestHalfCloseQueued(t *testing.T) { forEachBackend(t, testHalfCloseQueued) }

func testHalfCloseQueued(t *testing.T, backend string) {
	const size = 600 << 10 // below HighWater: the server reads on to the EOF
	h := eofProbe{queued: make(chan int, 1)}
	// Small socket buffers, so most of the echo waits in the server's queue.
	s := startServer(t, h, Options{Loops: 1, Backend: backend, SocketWriteBuffer: 16 << 10}, "tcp", "127.0.0.1:0")
	c := dial(t, s).(*net.TCPConn)
	c.SetReadBuffer(16 << 10)
	p := payload(size)
	c.SetWriteDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Write(p); err != nil {
		t.Fatal(err)
	}
	if err := c.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	if q := recv(t, h.queued, 10*time.Second, "OnEOF"); q == 0 {
		t.Fatal("nothing was queued at EOF; the test proves nothing")
	} else {
		t.Logf("%d KiB queued at EOF", q>>10)
	}
	got := expectClosed(t, c, 30*time.Second)
	if !bytes.Equal(got, p) {
		t.Fatalf("got %d bytes after the peer's EOF, want %d", len(got), size)
	}
}

// TestResetMidWrite: a client resets its connection (SO_LINGER 0) while
// the server has output queued for it. The server reports the error in
// OnClose and keeps serving others.
func TestResetMidWrite(t *testing.T) { forEachBackend(t, testResetMidWrite) }

func testResetMidWrite(t *testing.T, backend string) {
	queued := make(chan *Conn, 1)
	closed := make(chan error, 1)
	var victim atomic.Pointer[Conn]
	h := &funcHandler{
		data: func(c *Conn) {
			c.Write(c.Next(-1))
			if c.Outbound() > 0 && victim.CompareAndSwap(nil, c) {
				queued <- c
			}
		},
		close: func(c *Conn, err error) {
			if c == victim.Load() {
				notify(closed, err)
			}
		},
	}
	s := startServer(t, h, Options{Loops: 1, Backend: backend}, "tcp", "127.0.0.1:0")
	other := dial(t, s)
	roundTrip(t, other, []byte("before"))

	c := dial(t, s).(*net.TCPConn)
	werr := make(chan error, 1)
	go func() { // write without reading until the server queues
		_, err := c.Write(payload(16 << 20))
		werr <- err
	}()
	recv(t, queued, 20*time.Second, "queued output")
	c.SetLinger(0)
	c.Close() // sends RST; also ends the writer
	<-werr
	err := recv(t, closed, 10*time.Second, "OnClose of the reset connection")
	if err == nil {
		t.Fatal("OnClose got nil for a reset connection, want the error")
	}
	t.Logf("OnClose: %v", err)
	roundTrip(t, other, []byte("after"))
	if st := s.Stats(); st.Open != 1 || st.Congested != 0 {
		t.Fatalf("Stats after the reset: %+v, want 1 open, 0 paused", st)
	}
}

// TestSIGPIPE: writing to a Unix socket whose peer has gone raises SIGPIPE
// with EPIPE; the process must survive it and OnClose gets the EPIPE.
func TestSIGPIPE(t *testing.T) {
	closed := make(chan error, 1)
	h := &funcHandler{
		eof: func(c *Conn) {
			// The peer closed both halves: this write meets EPIPE.
			c.Write([]byte("into the void"))
		},
		close: func(c *Conn, err error) { notify(closed, err) },
	}
	skipNoUnix(t)
	s := startServer(t, h, Options{Loops: 1}, "unix", filepath.Join(t.TempDir(), "pipe.sock"))
	c := dial(t, s)
	roundTrip(t, c, []byte("hello"))
	c.Close()
	err := recv(t, closed, 5*time.Second, "OnClose")
	if !errors.Is(err, errPipe) {
		t.Fatalf("OnClose err = %v, want EPIPE", err)
	}
	roundTrip(t, dial(t, s), []byte("still alive"))
}

// TestServerQueueBound: 1,000 clients that send and never read cannot
// make the server hold their echoes: past Options.MaxQueued (64 MiB by
// default) each connection that queues more is paused, so the server's RSS
// grows by at most 256 MiB where 1 MiB of HighWater each would allow a
// GiB. (The server's socket buffers are held at 64 KiB, so that what the
// peers leave unread queues in the server and not in the kernel.) Meanwhile a client that reads is served, and one of the
// non-readers that starts reading gets every byte it sent.
func TestServerQueueBound(t *testing.T) {
	const clients, each = 1000, 1<<20 + 256<<10 // above HighWater: unbounded, 1.25 GiB queued
	ch := startChild(t, "echo-small-buffers")
	pid := ch.cmd.Process.Pid
	reader, err := net.DialTimeout("tcp", ch.addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer reader.Close()
	roundTrip(t, reader, payload(128<<10)) // warm up the loop's buffers
	before := vmRSS(t, pid)

	p := payload(each)
	conns := make([]net.Conn, clients)
	writes := make([]<-chan error, clients)
	for i := range conns {
		c, err := net.DialTimeout("tcp", ch.addr, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.(*net.TCPConn).SetReadBuffer(64 << 10) // the echo stays in the server
		conns[i] = c
		writes[i] = writeAll(c, p)
	}
	in := waitSteady(func() int64 { return ch.stats(t).BytesIn })
	grown := vmRSS(t, pid) - before
	st := ch.stats(t)
	t.Logf("%d clients sent and did not read: server read %d MiB, %d paused, %d MiB queued, RSS grew %d MiB (from %d MiB)",
		clients, in>>20, st.Congested, st.Queued>>20, grown>>20, before>>20)
	// The queue: the 64 MiB budget, and at most one more read each.
	if limit := int64(64<<20 + clients*64<<10); st.Queued > limit {
		t.Errorf("%d MiB queued for clients that never read, want at most %d MiB", st.Queued>>20, limit>>20)
	}
	if grown > 256<<20 && !raceEnabled { // the race detector's shadow memory is several times the heap
		t.Errorf("server RSS grew by %d MiB with %d clients that never read, want at most 256 MiB", grown>>20, clients)
	}
	if in >= clients*each {
		t.Errorf("the server read all %d MiB: nothing held the non-readers back", in>>20)
	}
	roundTrip(t, reader, []byte("a client that reads is still served"))
	readEcho(t, conns[0], p, writes[0]) // a non-reader that resumes gets it all
}

// TestDefaultWriteTimeout: Options.WriteTimeout closes a connection whose
// queued output makes no progress for that long, with ErrTimeout; it is
// counted only while output is queued (an idle connection is not closed
// and gets no timer), and SetWriteTimeout(0) turns it off for one
// connection.
func TestDefaultWriteTimeout(t *testing.T) {
	closed := make(chan error, 4)
	h := &funcHandler{
		data: func(c *Conn) {
			if bytes.HasPrefix(c.Peek(-1), []byte("exempt")) { // the payload may come in the same read
				c.SetWriteTimeout(0)
			}
			c.Write(c.Next(-1))
		},
		close: func(c *Conn, err error) { notify(closed, err) },
	}
	s := startServer(t, h, Options{Loops: 1, WriteTimeout: 200 * time.Millisecond, SocketWriteBuffer: 64 << 10},
		"tcp", "127.0.0.1:0")
	idle := dial(t, s)
	roundTrip(t, idle, []byte("then idle"))

	stalled := dial(t, s)
	stalled.(*net.TCPConn).SetReadBuffer(64 << 10)
	start := time.Now()
	writeAll(stalled, payload(4<<20)) // echoed into a queue nobody reads
	err := recv(t, closed, 10*time.Second, "the stalled connection's OnClose")
	if !errors.Is(err, ErrTimeout) || !strings.Contains(err.Error(), "stalled") {
		t.Fatalf("OnClose(%v), want ErrTimeout for stalled output", err)
	}
	if took := time.Since(start); took < 200*time.Millisecond {
		t.Errorf("closed after %v, before the 200ms write timeout", took)
	}

	exempt := dial(t, s)
	exempt.(*net.TCPConn).SetReadBuffer(64 << 10)
	exempt.Write([]byte("exempt"))
	writeAll(exempt, payload(4<<20))
	select {
	case err := <-closed:
		t.Fatalf("a connection closed (%v) though the idle one queued nothing and the other set no write timeout", err)
	case <-time.After(600 * time.Millisecond):
	}
	roundTrip(t, idle, []byte("the idle one is still open"))
	onLoop(t, s.Loops()[0], func() {
		for _, c := range s.Loops()[0].conns {
			if c != nil && c.Inbound() == 0 && c.Outbound() == 0 && c.limitsIfSet() != nil && c.limitsIfSet().write > 0 {
				t.Errorf("an idle connection got a write timeout")
			}
		}
	})
}

// TestPauseRead: PauseRead stops reading a connection (the peer's bytes
// stay in the kernel) until ResumeRead, and composes with back-pressure's
// pause: neither undoes the other.
func TestPauseRead(t *testing.T) {
	got := make(chan string, 16)
	conns := make(chan *Conn, 1)
	h := &funcHandler{
		open: func(c *Conn) { conns <- c },
		data: func(c *Conn) { got <- string(c.Next(-1)) },
	}
	s := startServer(t, h, Options{Loops: 1, HighWater: 64 << 10}, "tcp", "127.0.0.1:0")
	c := dial(t, s)
	sc := recv(t, conns, 5*time.Second, "OnOpen")
	onLoop(t, sc.Loop(), func() { sc.PauseRead() })
	c.Write([]byte("held"))
	select {
	case msg := <-got:
		t.Fatalf("read %q while PauseRead held the connection", msg)
	case <-time.After(100 * time.Millisecond):
	}
	onLoop(t, sc.Loop(), func() {
		if !sc.ReadPaused() {
			t.Error("ReadPaused = false after PauseRead")
		}
		sc.ResumeRead()
	})
	if msg := recv(t, got, 5*time.Second, "the held bytes"); msg != "held" {
		t.Fatalf("read %q", msg)
	}

	// Back-pressure pauses it too; ResumeRead does not undo that, and the
	// queue draining does not undo PauseRead.
	c.(*net.TCPConn).SetReadBuffer(16 << 10)
	onLoop(t, sc.Loop(), func() {
		sc.Write(payload(16 << 20)) // more than the kernel takes: past HighWater, paused
		sc.ResumeRead()
		if !sc.Congested() || sc.watching()&iomux.Readable != 0 {
			t.Errorf("ResumeRead undid back-pressure: paused %v, interest %v", sc.Congested(), sc.watching())
		}
		sc.PauseRead()
	})
	readN(t, c, 16<<20) // the queue drains: back-pressure lets go
	onLoop(t, sc.Loop(), func() {
		if sc.Congested() || sc.watching()&iomux.Readable != 0 {
			t.Errorf("the drained queue undid PauseRead: paused %v, interest %v", sc.Congested(), sc.watching())
		}
		sc.ResumeRead()
		if sc.watching()&iomux.Readable == 0 {
			t.Errorf("not read after both let go: interest %v", sc.watching())
		}
	})
}

// TestMaxInput: a handler that consumes nothing holds at most MaxInput of
// a connection's input: the loop stops reading it, and the client's write
// blocks (TCP slows it) instead of the server buffering what it sends.
// Once the handler consumes, outside OnData too, reading goes on, and
// every byte arrives in order. Over TLS alike: the bound is on the
// plaintext the handler has not consumed.
func TestMaxInput(t *testing.T) {
	t.Run("plain", func(t *testing.T) { testMaxInput(t, false) })
	t.Run("tls", func(t *testing.T) { testMaxInput(t, true) })
}

func testMaxInput(t *testing.T, overTLS bool) {
	const maxInput, size = 256 << 10, 16 << 20
	p := payload(size)
	var consuming atomic.Bool
	var mostBuffered atomic.Int64
	off := 0 // on the loop
	bad := make(chan int, 1)
	check := func(c *Conn) {
		got := c.Next(-1)
		if !bytes.Equal(got, p[off:off+len(got)]) {
			notify(bad, off)
		}
		off += len(got)
	}
	h, conns := serverConns(&funcHandler{data: func(c *Conn) {
		if int64(c.Inbound()) > mostBuffered.Load() {
			mostBuffered.Store(int64(c.Inbound()))
		}
		if consuming.Load() {
			check(c)
		}
	}})
	// Over TLS, a read may also complete a record begun in an earlier
	// one, held in the session: one record more.
	limit := int64(maxInput)
	if overTLS {
		limit += 16<<10 + 256
	}
	opts := Options{Loops: 1, MaxInput: maxInput, SocketReadBuffer: 64 << 10}
	var c net.Conn
	if overTLS {
		c = dialTLS(t, startTLSServer(t, h, opts, serverTLS()), clientTLS(tls.VersionTLS13))
	} else {
		c = dial(t, startServer(t, h, opts, "tcp", "127.0.0.1:0"))
	}
	sc := recv(t, conns, 5*time.Second, "OnOpen")
	werr := writeAll(c, p)
	deadline := time.Now().Add(20 * time.Second)
	for buffered := 0; buffered < maxInput; {
		if time.Now().After(deadline) {
			t.Fatalf("Inbound() = %d, want it to reach MaxInput %d", buffered, maxInput)
		}
		onLoop(t, sc.Loop(), func() { buffered = sc.Inbound() })
	}
	time.Sleep(100 * time.Millisecond) // would it read more?
	stillWriting(t, werr)
	if n := mostBuffered.Load(); n > limit {
		t.Fatalf("%d bytes buffered unconsumed, MaxInput %d", n, maxInput)
	}
	// Consume from outside OnData: the loop reads again.
	consuming.Store(true)
	onLoop(t, sc.Loop(), func() { check(sc) })
	if err := recv(t, werr, 30*time.Second, "the client's write"); err != nil {
		t.Fatal(err)
	}
	for done := false; !done; {
		if time.Now().After(deadline.Add(20 * time.Second)) {
			t.Fatalf("%d of %d bytes consumed", off, size)
		}
		onLoop(t, sc.Loop(), func() { done = off == size })
	}
	select {
	case at := <-bad:
		t.Fatalf("input differs from offset %d", at)
	default:
	}
	if n := mostBuffered.Load(); n > limit {
		t.Fatalf("%d bytes buffered unconsumed, MaxInput %d", n, maxInput)
	}
}
