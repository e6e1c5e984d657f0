package loop

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// framing is a Transport shaped like TLS for the tests: the wire carries
// records (a 2-byte big-endian length, then that many bytes of plaintext,
// at most maxRecord), the server speaks first (a greeting record, sent
// from inside Decode through the Wire, as a handshake reply is), and an
// empty record ends the stream (close_notify). A record longer than
// maxRecord is garbage: Decode fails.
type framing struct {
	w        Wire
	pending  []byte // the start of a record not yet whole
	greeted  bool
	encodes  *atomic.Int64 // counts Encode calls, if set
	shutdown *atomic.Int64 // counts Shutdown calls, if set
}

const (
	maxRecord = 1000
	greeting  = "hello from the transport"
)

var errBadRecord = errors.New("framing: record too long")

func (f *framing) Decode(wire, plain []byte) ([]byte, error) {
	if !f.greeted {
		f.greeted = true
		if _, err := f.w.Write(record([]byte(greeting))); err != nil {
			return plain, err
		}
	}
	f.pending = append(f.pending, wire...)
	for len(f.pending) >= 2 {
		n := int(binary.BigEndian.Uint16(f.pending))
		if n > maxRecord {
			return plain, errBadRecord
		}
		if len(f.pending) < 2+n {
			break // half a record: wait for the rest
		}
		if n == 0 {
			f.pending = nil
			return plain, io.EOF
		}
		plain = append(plain, f.pending[2:2+n]...)
		f.pending = f.pending[2+n:]
	}
	if len(f.pending) == 0 {
		f.pending = nil
	}
	return plain, nil
}

func (f *framing) Encode(p []byte) error {
	if f.encodes != nil {
		f.encodes.Add(1)
	}
	for len(p) > 0 {
		n := min(len(p), maxRecord)
		if _, err := f.w.Write(record(p[:n])); err != nil {
			return err
		}
		p = p[n:]
	}
	return nil
}

func (f *framing) Shutdown() error {
	if f.shutdown != nil {
		f.shutdown.Add(1)
	}
	_, err := f.w.Write(record(nil))
	return err
}

func record(p []byte) []byte {
	return append(binary.BigEndian.AppendUint16(nil, uint16(len(p))), p...)
}

// shaking is framing with a handshake run off the loop, as TLS's is: the
// second Transport the Transport seam's tests run, written with nothing
// but what the seam gives. The client must first send the record "hello";
// a goroutine reads it from what Decode feeds, answers with the greeting
// through Wire.Send, and opens the connection through Wire.Post and
// Wire.Open. What came after the hello is decoded once the connection is
// open. It holds at most maxHello bytes before its hello is whole
// (HandshakeRoom).
type shaking struct {
	framing
	beforeSend chan struct{} // if set, the goroutine waits for it before Send

	mu      sync.Mutex // the goroutine's and the loop's
	cond    *sync.Cond
	fed     []byte
	eof     bool
	aborted bool
	// leftover is what came after the hello: the loop decodes it once
	// open, through framing.
	leftover    []byte
	established bool // on the loop: Decode is framing's
}

const (
	hello    = "hello"
	maxHello = 64 << 10
)

var errBadHello = errors.New("shaking: the first record is not the hello")

func newShaking(w Wire) *shaking {
	s := &shaking{framing: framing{w: w, greeted: true}}
	s.cond = sync.NewCond(&s.mu)
	return s
}

func (s *shaking) StartHandshake() { go s.handshake() }

func (s *shaking) HandshakeRoom() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maxHello - len(s.fed)
}

func (s *shaking) HandshakeEOF() {
	s.mu.Lock()
	s.eof = true
	s.cond.Broadcast()
	s.mu.Unlock()
}

func (s *shaking) AbortHandshake(error) {
	s.mu.Lock()
	s.aborted = true
	s.cond.Broadcast()
	s.mu.Unlock()
}

// handshake is the goroutine: it waits for the hello, sends the greeting
// straight from here, and has the loop open the connection.
func (s *shaking) handshake() {
	want := record([]byte(hello))
	s.mu.Lock()
	for len(s.fed) < len(want) && !s.eof && !s.aborted {
		s.cond.Wait()
	}
	fed, aborted := s.fed, s.aborted
	s.fed = nil
	s.mu.Unlock()
	fail := func(err error) { s.w.Post(func() { s.w.Fail(err) }) }
	switch {
	case aborted:
		return
	case len(fed) < len(want):
		fail(io.ErrUnexpectedEOF)
		return
	case !bytes.Equal(fed[:len(want)], want):
		fail(errBadHello)
		return
	}
	if s.beforeSend != nil {
		<-s.beforeSend
	}
	if err := s.w.Send(record([]byte(greeting))); err != nil {
		fail(err)
		return
	}
	s.w.Post(func() { // on the loop, so no Decode runs meanwhile
		s.mu.Lock()
		s.leftover = append(fed[len(want):], s.fed...) // and what came since
		s.fed = nil
		s.mu.Unlock()
		s.established = true
		s.w.Open()
	})
}

func (s *shaking) Decode(wire, plain []byte) ([]byte, error) {
	if !s.established {
		s.mu.Lock()
		s.fed = append(s.fed, wire...)
		s.cond.Broadcast()
		s.mu.Unlock()
		s.w.Conn().Loop().YieldBeforeWait()
		return plain, nil
	}
	if len(s.leftover) > 0 {
		wire = append(s.leftover, wire...)
		s.leftover = nil
	}
	return s.framing.Decode(wire, plain)
}

var _ Handshaker = (*shaking)(nil)

// transportCase is a Transport the seam's tests run: its factory, and
// whether a client says hello first.
type transportCase struct {
	name  string
	make  func(w Wire) Transport
	hello bool
}

// withFraming sets f's Wire; f counts what its test asks.
func withFraming(f *framing) func(w Wire) Transport {
	return func(w Wire) Transport { g := *f; g.w = w; return &g }
}

func withShaking(f *framing) func(w Wire) Transport {
	return func(w Wire) Transport {
		s := newShaking(w)
		s.encodes, s.shutdown = f.encodes, f.shutdown
		return s
	}
}

// forEachTransport runs test for framing (a Transport with no handshake)
// and shaking (one with a handshake off the loop, as TLS has).
func forEachTransport(t *testing.T, f *framing, test func(t *testing.T, tc transportCase)) {
	for _, tc := range []transportCase{
		{name: "framing", make: withFraming(f)},
		{name: "shaking", make: withShaking(f), hello: true},
	} {
		t.Run(tc.name, func(t *testing.T) { test(t, tc) })
	}
}

func (tc transportCase) options(o Options) Options {
	o.Transport = tc.make
	return o
}

// framedClient is the test's end of a framing connection.
type framedClient struct {
	net.Conn
	r *bufio.Reader
}

// dialFramed connects to s; for a transport with a handshake it says
// hello first. Either way, the greeting is the first record it reads.
func (tc transportCase) dialFramed(t *testing.T, s *Server) *framedClient {
	t.Helper()
	c := dial(t, s)
	c.SetDeadline(time.Now().Add(30 * time.Second))
	if tc.hello {
		if _, err := c.Write(record([]byte(hello))); err != nil {
			t.Fatal(err)
		}
	}
	return &framedClient{Conn: c, r: bufio.NewReaderSize(c, 64<<10)}
}

// send writes p as records of at most maxRecord bytes.
func (c *framedClient) send(t *testing.T, p []byte) {
	t.Helper()
	if err := c.write(p); err != nil {
		t.Fatal(err)
	}
}

func (c *framedClient) write(p []byte) error {
	for len(p) > 0 {
		n := min(len(p), maxRecord)
		if _, err := c.Write(record(p[:n])); err != nil {
			return err
		}
		p = p[n:]
	}
	return nil
}

// sendInBackground sends p from another goroutine (for a peer that must
// read at the same time); wait returns the write's error.
func (c *framedClient) sendInBackground(p []byte) (wait func() error) {
	done := make(chan error, 1)
	go func() { done <- c.write(p) }()
	return func() error { return <-done }
}

// next reads one record; end reports the empty one.
func (c *framedClient) next(t *testing.T) (p []byte, end bool) {
	t.Helper()
	var hdr [2]byte
	if _, err := io.ReadFull(c.r, hdr[:]); err != nil {
		t.Fatalf("reading a record: %v", err)
	}
	p = make([]byte, binary.BigEndian.Uint16(hdr[:]))
	if _, err := io.ReadFull(c.r, p); err != nil {
		t.Fatalf("reading a record: %v", err)
	}
	return p, len(p) == 0
}

// expectGreeting reads the record the server's transport sends first.
func (c *framedClient) expectGreeting(t *testing.T) {
	t.Helper()
	if p, _ := c.next(t); string(p) != greeting {
		t.Fatalf("first record %q, want the greeting %q", p, greeting)
	}
}

// receive reads records until n bytes of plaintext came.
func (c *framedClient) receive(t *testing.T, n int) []byte {
	t.Helper()
	var got []byte
	for len(got) < n {
		p, end := c.next(t)
		if end {
			t.Fatalf("end of stream after %d of %d bytes", len(got), n)
		}
		got = append(got, p...)
	}
	return got
}

// expectEnd reads the end-of-stream record, then the socket's EOF.
func (c *framedClient) expectEnd(t *testing.T) {
	t.Helper()
	if p, end := c.next(t); !end {
		t.Fatalf("record %q, want the end of the stream", p)
	}
	if b, err := c.r.ReadByte(); err != io.EOF {
		t.Fatalf("after the end record: %q, %v; want EOF", b, err)
	}
}

// TestTransportEcho: the handler echoes plaintext; the client sends
// records whole, byte by byte (half records wait in the transport) and
// large, and gets the plaintext back in records, after the greeting the
// transport sent through its Wire (from inside Decode, or from its
// handshake's goroutine).
func TestTransportEcho(t *testing.T) {
	forEachBackend(t, func(t *testing.T, backend string) {
		forEachTransport(t, &framing{}, func(t *testing.T, tc transportCase) { testTransportEcho(t, backend, tc) })
	})
}

func testTransportEcho(t *testing.T, backend string, tc transportCase) {
	s := startServer(t, &funcHandler{}, tc.options(Options{Loops: 1, Backend: backend}), "tcp", "127.0.0.1:0")
	c := tc.dialFramed(t, s)
	c.send(t, []byte("first"))
	c.expectGreeting(t)
	if got := c.receive(t, 5); string(got) != "first" {
		t.Fatalf("echo %q, want %q", got, "first")
	}
	for _, b := range record([]byte("byte by byte")) {
		if _, err := c.Write([]byte{b}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Millisecond) // let each byte be its own read
	}
	if got := c.receive(t, 12); string(got) != "byte by byte" {
		t.Fatalf("echo %q, want %q", got, "byte by byte")
	}
	big := payload(4 << 20)
	sent := c.sendInBackground(big)
	if got := c.receive(t, len(big)); !bytes.Equal(got, big) {
		t.Fatal("4 MiB echo through the transport differs")
	}
	if err := sent(); err != nil {
		t.Fatal(err)
	}
	var tr Transport
	onLoop(t, s.Loops()[0], func() {
		for _, conn := range s.Loops()[0].conns {
			if conn != nil {
				tr = conn.Transport()
			}
		}
	})
	switch tr.(type) {
	case *framing, *shaking:
	default:
		t.Errorf("Conn.Transport() = %T, want the test's", tr)
	}
}

// TestTransportBackPressure: a peer that does not read fills the queue
// of wire bytes past HighWater: the loop stops reading and calls OnPause,
// and OnResume once the peer reads again; nothing is lost.
func TestTransportBackPressure(t *testing.T) {
	forEachTransport(t, &framing{}, testTransportBackPressure)
}

func testTransportBackPressure(t *testing.T, tc transportCase) {
	paused, resumed := make(chan struct{}, 1), make(chan struct{}, 1)
	h := &funcHandler{
		pause:  func(*Conn) { notify(paused, struct{}{}) },
		resume: func(*Conn) { notify(resumed, struct{}{}) },
	}
	opts := tc.options(Options{Loops: 1, HighWater: 256 << 10, LowWater: 64 << 10, SocketWriteBuffer: 64 << 10})
	s := startServer(t, h, opts, "tcp", "127.0.0.1:0")
	c := tc.dialFramed(t, s)
	big := payload(8 << 20)
	sent := c.sendInBackground(big) // echoed into a queue nobody reads yet
	recv(t, paused, 30*time.Second, "OnPause")
	c.expectGreeting(t)
	if got := c.receive(t, len(big)); !bytes.Equal(got, big) {
		t.Fatal("echo after back-pressure differs")
	}
	if err := sent(); err != nil {
		t.Fatal(err)
	}
	recv(t, resumed, 30*time.Second, "OnResume")
}

// TestTransportClose: Close runs the transport's Shutdown once, sends
// everything queued before it, then the end record, then closes.
func TestTransportClose(t *testing.T) {
	var shutdowns atomic.Int64
	forEachTransport(t, &framing{shutdown: &shutdowns}, func(t *testing.T, tc transportCase) {
		shutdowns.Store(0)
		testTransportClose(t, tc, &shutdowns)
	})
}

func testTransportClose(t *testing.T, tc transportCase, shutdowns *atomic.Int64) {
	big := payload(2 << 20)
	h := &funcHandler{data: func(c *Conn) {
		c.Discard(-1)
		c.Write(big) // more than the socket takes at once: most is queued
		c.Close()
		c.Close()
	}}
	s := startServer(t, h, tc.options(Options{Loops: 1}), "tcp", "127.0.0.1:0")
	c := tc.dialFramed(t, s)
	c.send(t, []byte("go"))
	c.expectGreeting(t)
	if got := c.receive(t, len(big)); !bytes.Equal(got, big) {
		t.Fatal("output queued before Close was not all sent")
	}
	c.expectEnd(t)
	if n := shutdowns.Load(); n != 1 {
		t.Errorf("Shutdown ran %d times, want once", n)
	}
}

// TestTransportCloseWrite: CloseWrite sends the end record and the FIN,
// and the connection still reads what the peer sends after it.
func TestTransportCloseWrite(t *testing.T) {
	forEachTransport(t, &framing{}, testTransportCloseWrite)
}

func testTransportCloseWrite(t *testing.T, tc transportCase) {
	got := make(chan string, 1)
	h := &funcHandler{
		data: func(c *Conn) {
			if !c.EOF() && c.Inbound() == len("bye") && string(c.Peek(-1)) == "bye" {
				c.Write(c.Next(-1))
				c.CloseWrite()
				return
			}
			if c.Inbound() >= len("after") && string(c.Peek(-1)) == "after" {
				notify(got, string(c.Next(-1)))
			}
		},
		eof: func(c *Conn) { c.Close() },
	}
	s := startServer(t, h, tc.options(Options{Loops: 1}), "tcp", "127.0.0.1:0")
	c := tc.dialFramed(t, s)
	c.send(t, []byte("bye"))
	c.expectGreeting(t)
	if p := c.receive(t, 3); string(p) != "bye" {
		t.Fatalf("got %q before the half-close", p)
	}
	c.expectEnd(t)
	c.send(t, []byte("after"))
	if s := recv(t, got, 10*time.Second, "input after CloseWrite"); s != "after" {
		t.Fatalf("read %q after CloseWrite", s)
	}
}

// TestTransportPeerEnd: the peer's end record is EOF for the handler,
// after the plaintext that came with it; Decode's error closes the
// connection with that error.
func TestTransportPeerEnd(t *testing.T) {
	forEachTransport(t, &framing{}, testTransportPeerEnd)
}

func testTransportPeerEnd(t *testing.T, tc transportCase) {
	type ended struct {
		data string
		err  error
	}
	results := make(chan ended, 2)
	h := &funcHandler{
		data: func(c *Conn) {},
		eof: func(c *Conn) {
			notify(results, ended{data: string(c.Next(-1))})
			c.Close()
		},
		close: func(c *Conn, err error) {
			if err != nil {
				notify(results, ended{err: err})
			}
		},
	}
	s := startServer(t, h, tc.options(Options{Loops: 1}), "tcp", "127.0.0.1:0")
	c := tc.dialFramed(t, s)
	c.Write(append(record([]byte("last words")), record(nil)...)) // one write: data and end together
	r := recv(t, results, 10*time.Second, "OnEOF")
	if r.data != "last words" || r.err != nil {
		t.Fatalf("at EOF: buffered %q (err %v), want the last words", r.data, r.err)
	}
	c.expectGreeting(t)
	c.expectEnd(t) // the handler's Close: end record, then EOF

	bad := tc.dialFramed(t, s)
	bad.Write([]byte{0xff, 0xff, 'x'})
	if r := recv(t, results, 10*time.Second, "OnClose"); !errors.Is(r.err, errBadRecord) {
		t.Fatalf("OnClose after garbage: %v, want %v", r.err, errBadRecord)
	}
}

// TestTransportWritev: Writev's buffers each go through Encode, in order.
func TestTransportWritev(t *testing.T) {
	var encodes atomic.Int64
	forEachTransport(t, &framing{encodes: &encodes}, func(t *testing.T, tc transportCase) {
		encodes.Store(0)
		h := &funcHandler{data: func(c *Conn) {
			msg := c.Next(-1)
			c.Writev([][]byte{[]byte("re: "), msg, []byte("!")})
		}}
		s := startServer(t, h, tc.options(Options{Loops: 1}), "tcp", "127.0.0.1:0")
		c := tc.dialFramed(t, s)
		c.send(t, []byte("x"))
		c.expectGreeting(t)
		if got := c.receive(t, len("re: x!")); string(got) != "re: x!" {
			t.Fatalf("got %q", got)
		}
		if n := encodes.Load(); n != 3 {
			t.Errorf("%d Encode calls for 3 buffers", n)
		}
	})
}
