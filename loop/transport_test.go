package loop

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net"
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

func (f *framing) Decode(w Wire, wire, plain []byte) ([]byte, error) {
	if !f.greeted {
		f.greeted = true
		if _, err := w.Write(record([]byte(greeting))); err != nil {
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

func (f *framing) Encode(w Wire, p []byte) error {
	if f.encodes != nil {
		f.encodes.Add(1)
	}
	for len(p) > 0 {
		n := min(len(p), maxRecord)
		if _, err := w.Write(record(p[:n])); err != nil {
			return err
		}
		p = p[n:]
	}
	return nil
}

func (f *framing) Shutdown(w Wire) error {
	if f.shutdown != nil {
		f.shutdown.Add(1)
	}
	_, err := w.Write(record(nil))
	return err
}

func record(p []byte) []byte {
	return append(binary.BigEndian.AppendUint16(nil, uint16(len(p))), p...)
}

// framedClient is the test's end of a framing connection.
type framedClient struct {
	net.Conn
	r *bufio.Reader
}

func dialFramed(t *testing.T, s *Server) *framedClient {
	t.Helper()
	c := dial(t, s)
	c.SetDeadline(time.Now().Add(30 * time.Second))
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

func framingOptions(o Options) Options {
	o.Transport = func(*Conn) Transport { return &framing{} }
	return o
}

// TestTransportEcho: the handler echoes plaintext; the client sends
// records whole, byte by byte (half records wait in the transport) and
// large, and gets the plaintext back in records, after the greeting the
// transport sent through its Wire from inside Decode.
func TestTransportEcho(t *testing.T) { forEachBackend(t, testTransportEcho) }

func testTransportEcho(t *testing.T, backend string) {
	s := startServer(t, &funcHandler{}, framingOptions(Options{Loops: 1, Backend: backend}), "tcp", "127.0.0.1:0")
	c := dialFramed(t, s)
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
	if _, ok := tr.(*framing); !ok {
		t.Errorf("Conn.Transport() = %T, want *framing", tr)
	}
}

// TestTransportBackPressure: a peer that does not read fills the queue
// of wire bytes past HighWater: the loop stops reading and calls OnPause,
// and OnResume once the peer reads again; nothing is lost.
func TestTransportBackPressure(t *testing.T) {
	paused, resumed := make(chan struct{}, 1), make(chan struct{}, 1)
	h := &funcHandler{
		pause:  func(*Conn) { notify(paused, struct{}{}) },
		resume: func(*Conn) { notify(resumed, struct{}{}) },
	}
	opts := framingOptions(Options{Loops: 1, HighWater: 256 << 10, LowWater: 64 << 10, SocketWriteBuffer: 64 << 10})
	s := startServer(t, h, opts, "tcp", "127.0.0.1:0")
	c := dialFramed(t, s)
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
	big := payload(2 << 20)
	h := &funcHandler{data: func(c *Conn) {
		c.Discard(-1)
		c.Write(big) // more than the socket takes at once: most is queued
		c.Close()
		c.Close()
	}}
	opts := Options{Loops: 1, Transport: func(*Conn) Transport { return &framing{shutdown: &shutdowns} }}
	s := startServer(t, h, opts, "tcp", "127.0.0.1:0")
	c := dialFramed(t, s)
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
	got := make(chan string, 1)
	h := &funcHandler{
		data: func(c *Conn) {
			if !c.EOF() && c.Buffered() == len("bye") && string(c.Peek(-1)) == "bye" {
				c.Write(c.Next(-1))
				c.CloseWrite()
				return
			}
			if c.Buffered() >= len("after") && string(c.Peek(-1)) == "after" {
				notify(got, string(c.Next(-1)))
			}
		},
		eof: func(c *Conn) { c.Close() },
	}
	s := startServer(t, h, framingOptions(Options{Loops: 1}), "tcp", "127.0.0.1:0")
	c := dialFramed(t, s)
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
	s := startServer(t, h, framingOptions(Options{Loops: 1}), "tcp", "127.0.0.1:0")
	c := dialFramed(t, s)
	c.Write(append(record([]byte("last words")), record(nil)...)) // one write: data and end together
	r := recv(t, results, 10*time.Second, "OnEOF")
	if r.data != "last words" || r.err != nil {
		t.Fatalf("at EOF: buffered %q (err %v), want the last words", r.data, r.err)
	}
	c.expectGreeting(t)
	c.expectEnd(t) // the handler's Close: end record, then EOF

	bad := dialFramed(t, s)
	bad.Write([]byte{0xff, 0xff, 'x'})
	if r := recv(t, results, 10*time.Second, "OnClose"); !errors.Is(r.err, errBadRecord) {
		t.Fatalf("OnClose after garbage: %v, want %v", r.err, errBadRecord)
	}
}

// TestTransportWritev: Writev's buffers each go through Encode, in order.
func TestTransportWritev(t *testing.T) {
	var encodes atomic.Int64
	h := &funcHandler{data: func(c *Conn) {
		msg := c.Next(-1)
		c.Writev([][]byte{[]byte("re: "), msg, []byte("!")})
	}}
	opts := Options{Loops: 1, Transport: func(*Conn) Transport { return &framing{encodes: &encodes} }}
	s := startServer(t, h, opts, "tcp", "127.0.0.1:0")
	c := dialFramed(t, s)
	c.send(t, []byte("x"))
	c.expectGreeting(t)
	if got := c.receive(t, len("re: x!")); string(got) != "re: x!" {
		t.Fatalf("got %q", got)
	}
	if n := encodes.Load(); n != 3 {
		t.Errorf("%d Encode calls for 3 buffers", n)
	}
}
