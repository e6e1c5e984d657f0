package loop

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

// The Handshaker seam, through the test's shaking transport (see
// transport_test.go): what TLS relies on, held for any Transport.

// shakingServer serves h with shaking transports, each with hold as its
// beforeSend; it returns the Server and the transports as they are made.
func shakingServer(t *testing.T, h Handler, opts Options, hold chan struct{}) (*Server, <-chan *shaking) {
	made := make(chan *shaking, 16)
	opts.Transport = func(w Wire) Transport {
		s := newShaking(w)
		s.beforeSend = hold
		notify(made, s)
		return s
	}
	opts.Loops = 1
	return startServer(t, h, opts, "tcp", "127.0.0.1:0"), made
}

// TestHandshakeTimeout: a client that never says hello is closed at
// HandshakeTimeout; the Handler hears nothing of it (no OnOpen, no
// OnClose); it counts as a failed handshake, with ErrHandshakeTimeout in
// its event; the handshake's goroutine ends (the leak check).
func TestHandshakeTimeout(t *testing.T) {
	const timeout = 200 * time.Millisecond
	heard := make(chan string, 2)
	failed := make(chan error, 1)
	h := &funcHandler{
		open:  func(*Conn) { notify(heard, "OnOpen") },
		close: func(*Conn, error) { notify(heard, "OnClose") },
	}
	opts := Options{HandshakeTimeout: timeout, Observe: func(e Event) {
		if e.Kind == EventHandshakeFailed {
			notify(failed, e.Err)
		}
	}}
	s, _ := shakingServer(t, h, opts, nil)
	start := time.Now() // before the connect: the timeout counts from the accept
	c := dial(t, s)
	if got := expectClosed(t, c, 5*time.Second); len(got) != 0 {
		t.Fatalf("a silent client got %q", got)
	}
	if took := time.Since(start); took < timeout || took > timeout+lateness {
		t.Errorf("closed after %v, HandshakeTimeout %v", took, timeout)
	}
	if err := recv(t, failed, 5*time.Second, "EventHandshakeFailed"); !errors.Is(err, ErrHandshakeTimeout) {
		t.Errorf("EventHandshakeFailed with %v, want ErrHandshakeTimeout", err)
	}
	st := settledWhen(t, s, func(st Stats) bool { return st.HandshakeErrors == 1 })
	if st.HandshakeErrors != 1 || st.Handshakes != 0 || st.Handshaking != 0 || st.Open != 0 {
		t.Errorf("Stats: %+v, want 1 handshake failed, none running or open", st)
	}
	select {
	case what := <-heard:
		t.Fatalf("the Handler heard %s of a handshake that failed", what)
	default:
	}
}

// TestHandshakeFailure: a wrong hello (the Transport's Wire.Fail) and an
// EOF before the hello is whole (HandshakeEOF) each close the connection
// without the Handler hearing of it, counted as failed handshakes.
func TestHandshakeFailure(t *testing.T) {
	heard := make(chan string, 2)
	h := &funcHandler{open: func(*Conn) { notify(heard, "OnOpen") }}
	s, _ := shakingServer(t, h, Options{}, nil)
	bad := dial(t, s)
	bad.Write(record([]byte("howdy")))
	expectClosed(t, bad, 5*time.Second)
	short := dial(t, s)
	short.Write(record([]byte(hello))[:3])
	short.(*net.TCPConn).CloseWrite()
	expectClosed(t, short, 5*time.Second)
	if st := settledWhen(t, s, func(st Stats) bool { return st.HandshakeErrors == 2 }); st.HandshakeErrors != 2 || st.Open != 0 {
		t.Errorf("Stats: %+v, want 2 failed handshakes", st)
	}
	select {
	case what := <-heard:
		t.Fatalf("the Handler heard %s of a failed handshake", what)
	default:
	}
}

// TestHandshakeEndsWithData: the hello, data and the client's FIN in one
// write: the connection opens, then OnData has the data, then OnEOF runs,
// in that order, and the reply reaches the client.
func TestHandshakeEndsWithData(t *testing.T) {
	events := make(chan string, 8)
	h := &funcHandler{
		open: func(*Conn) { notify(events, "open") },
		data: func(c *Conn) {
			notify(events, "data "+string(c.Peek(-1)))
			c.Write(c.Next(-1))
		},
		eof: func(c *Conn) {
			notify(events, "eof")
			c.Close()
		},
	}
	s, _ := shakingServer(t, h, Options{}, nil)
	c := dial(t, s)
	c.Write(append(record([]byte(hello)), record([]byte("early bird"))...))
	c.(*net.TCPConn).CloseWrite()
	for _, want := range []string{"open", "data early bird", "eof"} {
		if got := recv(t, events, 5*time.Second, want); got != want {
			t.Fatalf("event %q, want %q", got, want)
		}
	}
	fc := &framedClient{Conn: c, r: bufioReader(c)}
	fc.expectGreeting(t)
	if got := fc.receive(t, len("early bird")); string(got) != "early bird" {
		t.Fatalf("reply %q", got)
	}
	fc.expectEnd(t)
}

// TestHandshakeRoom: while a handshake holds what came (its goroutine
// busy), the loop reads no more than HandshakeRoom, stops reading at 0,
// and reads on once the connection opens: nothing is lost.
func TestHandshakeRoom(t *testing.T) {
	hold := make(chan struct{})
	var mu sync.Mutex
	var got []byte
	h := &funcHandler{data: func(c *Conn) {
		mu.Lock()
		got = append(got, c.Next(-1)...)
		mu.Unlock()
	}}
	s, made := shakingServer(t, h, Options{}, hold)
	c := dial(t, s)
	c.Write(record([]byte(hello)))
	tr := recv(t, made, 5*time.Second, "the transport")
	flood := payload(4 * maxHello)
	fc := &framedClient{Conn: c}
	sent := fc.sendInBackground(flood) // the goroutine waits at hold: the flood is held
	deadline := time.Now().Add(5 * time.Second)
	for {
		var room int
		var reading bool
		onLoop(t, s.Loops()[0], func() {
			room = tr.HandshakeRoom()
			reading = tr.w.Conn().flags&flagWatchRead != 0
		})
		if room < 0 {
			t.Fatalf("the handshake holds %d bytes, more than its room (%d)", maxHello-room, maxHello)
		}
		if room == 0 && !reading {
			break // full, and the loop stopped reading
		}
		if time.Now().After(deadline) {
			t.Fatalf("room %d, reading %v: the loop did not stop at the handshake's room", room, reading)
		}
		time.Sleep(5 * time.Millisecond)
	}
	close(hold)
	if err := sent(); err != nil {
		t.Fatal(err)
	}
	deadline = time.Now().Add(10 * time.Second)
	for {
		mu.Lock()
		n := len(got)
		mu.Unlock()
		if n == len(flood) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("OnData had %d of %d bytes sent during the handshake", n, len(flood))
		}
		time.Sleep(5 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	if !bytes.Equal(got, flood) {
		t.Fatal("what came during the handshake differs")
	}
}

// TestHandshakeSendsDirectly: Wire.Send writes a handshake's reply from
// its goroutine while the loop is busy elsewhere, with Options.Observe set
// or not (tracing changes nothing of how a handshake writes), and Observe
// sees what Send wrote, on the loop.
func TestHandshakeSendsDirectly(t *testing.T) {
	for _, observed := range []bool{false, true} {
		t.Run(map[bool]string{false: "plain", true: "observed"}[observed], func(t *testing.T) {
			hold := make(chan struct{})
			writes := make(chan []byte, 64)
			var opts Options
			if observed {
				opts.Observe = func(e Event) {
					if e.Kind == EventWrite {
						notify(writes, append([]byte(nil), e.Data...))
					}
				}
			}
			s, _ := shakingServer(t, &funcHandler{}, opts, hold)
			c := dial(t, s)
			c.Write(record([]byte(hello)))
			settledWhen(t, s, func(st Stats) bool { return st.BytesIn > 0 })
			busy, release := make(chan struct{}), make(chan struct{})
			s.Loops()[0].Post(func() { close(busy); <-release })
			<-busy // the loop is held: only the handshake's goroutine can write
			close(hold)
			fc := &framedClient{Conn: c, r: bufioReader(c)}
			c.SetDeadline(time.Now().Add(5 * time.Second))
			fc.expectGreeting(t)
			close(release)
			if observed {
				if w := recv(t, writes, 5*time.Second, "EventWrite"); !bytes.Equal(w, record([]byte(greeting))) {
					t.Errorf("Observe saw %q written, want the greeting", w)
				}
			}
			roundTrip(t, c, record([]byte("after")))
		})
	}
}

// TestDialContextBoundsHandshake: DialOptions.Transport's handshake (TLS)
// is bounded by Dial's context: against a server that accepts and says
// nothing, Dial returns the context's error, and the connection never
// opened.
func TestDialContextBoundsHandshake(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close()
			io.Copy(io.Discard, c)
		}
	}()
	opened := make(chan struct{}, 1)
	d := startServer(t, &funcHandler{open: func(*Conn) { notify(opened, struct{}{}) }}, Options{Loops: 1}, "", "")
	const timeout = 200 * time.Millisecond
	start := time.Now()
	c, err := d.Dial(within(t, timeout), "tcp", ln.Addr().String(), &DialOptions{Transport: TLSClient(clientTLS(tls.VersionTLS13))})
	if err == nil {
		c.AsyncClose()
		t.Fatal("a TLS Dial to a silent server succeeded")
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Dial: %v, want context.DeadlineExceeded", err)
	}
	if took := time.Since(start); took < timeout || took > timeout+lateness {
		t.Errorf("Dial gave up after %v, the context's timeout %v", took, timeout)
	}
	if st := settledWhen(t, d, func(st Stats) bool { return st.HandshakeErrors == 1 }); st.HandshakeErrors != 1 || st.Open != 0 {
		t.Errorf("Stats: %+v, want one failed handshake, nothing open", st)
	}
	select {
	case <-opened:
		t.Fatal("OnOpen ran for a Dial whose handshake never ended")
	default:
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := d.Dial(ctx, "tcp", ln.Addr().String(), nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("Dial with a cancelled context: %v, want context.Canceled", err)
	}
}

// TestDialOnLoop: DialOptions.Loop puts the dialed connection on the loop
// asked for: a handler dials from its own loop, and the two connections
// share it.
func TestDialOnLoop(t *testing.T) {
	upstream := startServer(t, echoHandler{}, Options{Loops: 1}, "tcp", "127.0.0.1:0")
	same := make(chan bool, 8)
	h := &funcHandler{open: func(c *Conn) {
		if c.RemoteAddr().String() == upstream.Addrs()[0].String() {
			return // the dialed one
		}
		l := c.Loop()
		err := l.Server().DialAsync(context.Background(), "tcp", upstream.Addrs()[0].String(), &DialOptions{Loop: l}, func(d *Conn, err error) {
			notify(same, err == nil && d.Loop() == l)
			if d != nil {
				d.Close()
			}
		})
		if err != nil {
			notify(same, false)
		}
	}}
	srv := startServer(t, h, Options{Loops: 4}, "tcp", "127.0.0.1:0")
	for range 8 {
		dial(t, srv)
		if !recv(t, same, 5*time.Second, "the dial's callback") {
			t.Fatal("the dialed connection is not on the loop asked for")
		}
	}
	other := startServer(t, echoHandler{}, Options{Loops: 1}, "", "")
	if err := srv.DialAsync(context.Background(), "tcp", upstream.Addrs()[0].String(), &DialOptions{Loop: other.Loops()[0]}, func(*Conn, error) {}); err == nil {
		t.Fatal("DialOptions.Loop of another Server was taken")
	}
}

func bufioReader(c net.Conn) *bufio.Reader { return bufio.NewReaderSize(c, 64<<10) }
