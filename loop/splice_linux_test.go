package loop

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"testing"
	"time"
)

// spliceTo is a one-pair relay whose client is paired with a connection to
// upstream on its first input, which it leaves buffered meanwhile; once
// the upstream end is open, prelude is written to it (queued, if the
// upstream does not read), then the two are spliced. OnData relays what
// the loop does not splice.
type spliceTo struct {
	BaseHandler
	upstream string
	prelude  []byte
	spliced  chan bool
}

func (h *spliceTo) OnData(c *Conn) {
	if p := peerOf(c); p != nil {
		p.Write(c.Next(-1))
		return
	}
	if c.Dialed() || c.ReadPaused() {
		return
	}
	c.PauseRead() // the first input stays buffered until the pair is spliced
	err := c.Loop().Server().DialAsync(context.Background(), "tcp", h.upstream, &DialOptions{Loop: c.Loop()}, func(u *Conn, err error) {
		if err != nil {
			c.Close()
			return
		}
		u.Write(h.prelude)
		c.SetContext(u)
		u.SetContext(c)
		notify(h.spliced, c.Splice(u))
		c.ResumeRead()
	})
	if err != nil {
		c.Close()
	}
}

func (h *spliceTo) OnEOF(c *Conn) {
	if p := peerOf(c); p != nil {
		p.CloseWrite()
		if p.EOF() {
			p.Close()
			c.Close()
		}
		return
	}
	c.Close()
}

func (h *spliceTo) OnClose(c *Conn, err error) {
	if p := peerOf(c); p != nil {
		p.Close()
	}
}

// listenTCP listens on an ephemeral loopback port, closed at the test's end.
func listenTCP(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln
}

// TestSpliceOrder: what the sink had queued before the splice began (8 MiB
// its peer did not read yet) goes first, then the input the source had
// buffered, then the spliced stream (8 MiB, some of it copied through
// OnData while the sink's queue drains, the rest spliced), then the EOF:
// the upstream reads them in that order, byte for byte.
func TestSpliceOrder(t *testing.T) {
	ln := listenTCP(t)
	prelude := bytes.Repeat([]byte("prelude."), 1<<20)
	h := &spliceTo{upstream: ln.Addr().String(), prelude: prelude, spliced: make(chan bool, 1)}
	s := startServer(t, h, Options{Loops: 1, SocketReadBuffer: 32 << 10, SocketWriteBuffer: 32 << 10}, "tcp", "127.0.0.1:0")
	c := dial(t, s).(*net.TCPConn)
	c.SetDeadline(time.Now().Add(60 * time.Second))
	if _, err := c.Write([]byte("early.")); err != nil {
		t.Fatal(err)
	}
	up, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer up.Close()
	if !recv(t, h.spliced, 5*time.Second, "Splice") {
		t.Fatal("Splice refused a plain TCP pair on one loop")
	}
	stream := payload(8 << 20)
	sent := make(chan error, 1)
	go func() {
		_, err := c.Write(stream)
		if err == nil {
			err = c.CloseWrite()
		}
		sent <- err
	}()
	time.Sleep(100 * time.Millisecond) // the upstream reads late: the prelude waits in the sink's queue
	up.SetDeadline(time.Now().Add(60 * time.Second))
	got, err := io.ReadAll(up)
	if err != nil {
		t.Fatal(err)
	}
	if err := <-sent; err != nil {
		t.Fatal(err)
	}
	want := append(append(append([]byte(nil), prelude...), "early."...), stream...)
	if !bytes.Equal(got, want) {
		t.Fatalf("the upstream read %d bytes, want %d, in the order prelude, early input, stream", len(got), len(want))
	}
	if st := s.Stats(); st.Spliced == 0 || st.Spliced > int64(len(stream)) {
		t.Fatalf("%d bytes spliced of the %d-byte stream", st.Spliced, len(stream))
	} else {
		t.Logf("%d of %d bytes of the stream spliced, the rest copied while the queue drained", st.Spliced, len(stream))
	}
}

// TestSpliceHalfCloses: the upstream's half-close reaches the client
// (EOF) while the client still sends, and the client's half-close then
// reaches the upstream; both are spliced.
func TestSpliceHalfCloses(t *testing.T) {
	ln := listenTCP(t)
	h := &spliceTo{upstream: ln.Addr().String(), spliced: make(chan bool, 1)}
	s := startServer(t, h, Options{Loops: 1}, "tcp", "127.0.0.1:0")
	c := dial(t, s).(*net.TCPConn)
	c.SetDeadline(time.Now().Add(10 * time.Second))
	c.Write([]byte("hello."))
	up, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer up.Close()
	up.SetDeadline(time.Now().Add(10 * time.Second))
	if !recv(t, h.spliced, 5*time.Second, "Splice") {
		t.Fatal("Splice refused")
	}
	readN(t, up, len("hello."))
	up.Write([]byte("from upstream, then its FIN"))
	up.(*net.TCPConn).CloseWrite()
	if got, err := io.ReadAll(c); err != nil || string(got) != "from upstream, then its FIN" {
		t.Fatalf("the client read %q, %v; want the upstream's bytes, then EOF", got, err)
	}
	c.Write([]byte("still sending"))
	c.CloseWrite()
	if got, err := io.ReadAll(up); err != nil || string(got) != "still sending" {
		t.Fatalf("the upstream read %q, %v; want the client's bytes, then EOF", got, err)
	}
	if st := settledWhen(t, s, func(st Stats) bool { return st.Open == 0 }); st.Open != 0 || st.Spliced == 0 {
		t.Fatalf("%d connections open after both halves closed, %d bytes spliced", st.Open, st.Spliced)
	}
}

// TestSpliceResetMidStream: a reset in the middle of a spliced stream
// reaches the other end as a reset, each way.
func TestSpliceResetMidStream(t *testing.T) {
	for _, from := range []string{"upstream", "client"} {
		t.Run("from the "+from, func(t *testing.T) {
			ln := listenTCP(t)
			s, r := startRelay(t, ln.Addr().String(), pairing{loops: 1, splice: true}, Options{})
			c := dial(t, s).(*net.TCPConn)
			up, err := ln.Accept()
			if err != nil {
				t.Fatal(err)
			}
			defer up.Close()
			c.SetDeadline(time.Now().Add(10 * time.Second))
			up.SetDeadline(time.Now().Add(10 * time.Second))
			sender, receiver := up.(*net.TCPConn), c
			if from == "client" {
				sender, receiver = c, up.(*net.TCPConn)
			}
			go sender.Write(payload(1 << 20)) // fails once it resets
			readN(t, receiver, 256<<10)       // mid-stream
			sender.SetLinger(0)
			sender.Close()
			if _, err := io.ReadAll(receiver); !errors.Is(err, errReset) {
				t.Fatalf("after the %s's reset the other end read %v, want ECONNRESET", from, err)
			}
			if r.resets.Load() != 1 {
				t.Errorf("%d resets passed on, want 1", r.resets.Load())
			}
		})
	}
}

// TestSplicePipePerLoop: a loop's spliced pairs share one pipe (two
// descriptors, however many pairs), which Stop closes (startServer checks
// that every descriptor is closed).
func TestSplicePipePerLoop(t *testing.T) {
	before := countPipes(t)
	upstream := startServer(t, echoHandler{}, Options{Loops: 1}, "tcp", "127.0.0.1:0")
	s, _ := startRelay(t, upstream.Addrs()[0].String(), pairing{loops: 1, splice: true}, Options{})
	for i := range 50 {
		roundTrip(t, dial(t, s), payload(1000+i))
	}
	if got := countPipes(t) - before; got != 2 {
		t.Fatalf("%d more pipe descriptors with 50 spliced pairs on one loop, want 2", got)
	}
}

// countPipes counts the process's pipe descriptors.
func countPipes(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("cannot list descriptors: %v", err)
	}
	n := 0
	for _, e := range ents {
		if to, err := os.Readlink("/proc/self/fd/" + e.Name()); err == nil && strings.HasPrefix(to, "pipe:") {
			n++
		}
	}
	return n
}

// TestSpliceRefused: Splice says false, and changes nothing, where the
// loop would not splice: with Options.Observe (which sees every byte),
// for a pair across two loops, with itself.
func TestSpliceRefused(t *testing.T) {
	opened := make(chan *Conn, 2)
	h := &funcHandler{open: func(c *Conn) { opened <- c }}
	twoOpen := func(s *Server) (a, b *Conn) {
		dial(t, s)
		dial(t, s)
		return recv(t, opened, 5*time.Second, "OnOpen"), recv(t, opened, 5*time.Second, "OnOpen")
	}
	var refused []bool
	observed := startServer(t, h, Options{Loops: 1, Observe: func(Event) {}}, "tcp", "127.0.0.1:0")
	a, b := twoOpen(observed)
	onLoop(t, a.Loop(), func() { refused = append(refused, !a.Splice(b), !a.Splice(a), a.Source() == nil) })
	two := startServer(t, h, Options{Loops: 2}, "tcp", "127.0.0.1:0")
	for a, b = twoOpen(two); a.Loop() == b.Loop(); a, b = twoOpen(two) {
	}
	onLoop(t, a.Loop(), func() { refused = append(refused, !a.Splice(b), a.Source() == nil) })
	for i, ok := range refused {
		if !ok {
			t.Fatalf("check %d of %v: Splice took a pair it cannot splice, or changed it", i, refused)
		}
	}
}
