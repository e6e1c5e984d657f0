package loop

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"sync/atomic"
	"testing"
	"time"
)

// TestStopDrains: Stop lets queued output reach the peer before closing,
// then returns nil, closes Done and runs OnShutdown once.
func TestStopDrains(t *testing.T) {
	const size = 4 << 20
	var shutdowns atomic.Int32
	queued := make(chan int, 4)
	h := &funcHandler{
		data: func(c *Conn) {
			c.Discard(-1)
			c.Write(payload(size)) // far more than the socket buffers hold
			notify(queued, c.Outbound())
		},
		shutdown: func(*Server) { shutdowns.Add(1) },
	}
	s := startServer(t, h, Options{Loops: 2}, "tcp", "127.0.0.1:0")
	clients := []int{0, 1}
	got := make([]chan []byte, len(clients))
	for i := range clients {
		c := dial(t, s)
		c.Write([]byte("send me 4 MiB"))
		if q := recv(t, queued, 10*time.Second, "the server's write"); q == 0 {
			t.Fatal("nothing queued; the test proves nothing")
		}
		got[i] = make(chan []byte, 1)
		go func() {
			// The peer starts reading only once Stop is under way.
			<-stopBegun(s)
			got[i] <- expectClosed(t, c, 30*time.Second)
		}()
	}
	stopped := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		stopped <- s.Stop(ctx)
	}()
	for i := range clients {
		b := recv(t, got[i], 30*time.Second, "a client's data")
		if !bytes.Equal(b, payload(size)) {
			t.Fatalf("client %d got %d bytes before the close, want %d", i, len(b), size)
		}
	}
	if err := recv(t, stopped, 30*time.Second, "Stop"); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	select {
	case <-s.Done():
	default:
		t.Fatal("Done not closed after Stop returned")
	}
	if st := s.Stats(); st.Open != 0 {
		t.Fatalf("%d connections open after Stop", st.Open)
	}
	if err := s.Stop(context.Background()); !errors.Is(err, ErrServerClosed) {
		t.Fatalf("second Stop: %v, want ErrServerClosed", err)
	}
	if n := shutdowns.Load(); n != 1 {
		t.Fatalf("OnShutdown ran %d times", n)
	}
}

// TestStopStopsAccepting: once Stop has begun, and while it is still in
// progress (a connection has output queued for a peer that does not read
// yet), a new dial is refused, or reads EOF or a reset: it never reaches
// OnOpen. With a listener per loop (SO_REUSEPORT) and with one shared
// acceptor.
func TestStopStopsAccepting(t *testing.T) {
	for _, balance := range []Balance{BalanceByKernel, RoundRobin} {
		t.Run(balance.String(), func(t *testing.T) { testStopStopsAccepting(t, balance) })
	}
}

func testStopStopsAccepting(t *testing.T, balance Balance) {
	const size = 8 << 20
	var opened atomic.Int32
	queued := make(chan int, 1)
	h := &funcHandler{
		open: func(*Conn) { opened.Add(1) },
		data: func(c *Conn) {
			c.Discard(-1)
			c.Write(payload(size))
			notify(queued, c.Outbound())
		},
	}
	s := startServer(t, h, Options{Loops: 2, Balance: balance}, "tcp", "127.0.0.1:0")
	c := dial(t, s)
	c.Write([]byte("send me 8 MiB"))
	if q := recv(t, queued, 10*time.Second, "the server's write"); q == 0 {
		t.Fatal("nothing queued; Stop would not stay in progress")
	}
	stopped := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		stopped <- s.Stop(ctx)
	}()
	<-stopBegun(s)
	select {
	case err := <-stopped:
		t.Fatalf("Stop returned (%v) with output still queued; the test proves nothing", err)
	default:
	}

	late, err := net.DialTimeout("tcp", s.Addrs()[0].String(), 5*time.Second)
	switch {
	case err == nil:
		got := expectClosed(t, late, 10*time.Second) // EOF or a reset
		late.Close()
		if len(got) > 0 {
			t.Fatalf("a dial after Stop began was served: it read %q", got)
		}
		t.Log("the late dial connected, then read EOF or a reset")
	case !errors.Is(err, errRefused):
		t.Fatalf("a dial after Stop began: %v, want it refused", err)
	}

	// Stop is still waiting for the first connection's output: read it.
	if got := expectClosed(t, c, 30*time.Second); !bytes.Equal(got, payload(size)) {
		t.Fatalf("the first client got %d bytes before the close, want %d", len(got), size)
	}
	if err := recv(t, stopped, 30*time.Second, "Stop"); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if n := opened.Load(); n != 1 {
		t.Fatalf("OnOpen ran %d times, want 1: a dial after Stop began reached the handler", n)
	}
}

// stopBegun returns a channel closed once Stop has begun on every loop
// (or after 10 s, when the test's own timeouts take over).
func stopBegun(s *Server) <-chan struct{} {
	ch := make(chan struct{})
	go func() {
		defer close(ch)
		deadline := time.After(10 * time.Second)
		for _, l := range s.loops {
			for {
				begun := make(chan bool, 1)
				if l.Post(func() { begun <- l.stopping }) != nil {
					break // already finished
				}
				select {
				case b := <-begun:
					if b {
						break
					}
					time.Sleep(time.Millisecond)
					continue
				case <-deadline:
					return
				}
				break
			}
		}
	}()
	return ch
}

// TestStopTimeout: a peer that never reads cannot hold Stop beyond its
// context: Stop closes everything and returns the context's error.
func TestStopTimeout(t *testing.T) {
	closed := make(chan error, 1)
	wrote := make(chan struct{}, 1)
	var shutdowns atomic.Int32
	h := &funcHandler{
		data: func(c *Conn) {
			c.Discard(-1)
			c.Write(payload(8 << 20))
			notify(wrote, struct{}{})
		},
		close:    func(c *Conn, err error) { notify(closed, err) },
		shutdown: func(*Server) { shutdowns.Add(1) },
	}
	s := startServer(t, h, Options{Loops: 1}, "tcp", "127.0.0.1:0")
	c := dial(t, s)
	c.Write([]byte("send me 8 MiB, which I shall not read"))
	recv(t, wrote, 5*time.Second, "the server's write")
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := s.Stop(ctx)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Stop: %v, want context.DeadlineExceeded", err)
	}
	if d := time.Since(start); d > 200*time.Millisecond+lateness {
		t.Fatalf("Stop took %v with a 200ms context", d)
	}
	recv(t, closed, time.Second, "OnClose") // already ran: Stop has returned
	<-s.Done()
	if st := s.Stats(); st.Open != 0 || st.Congested != 0 {
		t.Fatalf("Stats after Stop: %+v", st)
	}
	if n := shutdowns.Load(); n != 1 {
		t.Fatalf("OnShutdown ran %d times", n)
	}
	got := expectClosed(t, c, 10*time.Second) // the client sees the close
	t.Logf("client read %d KiB before the close", len(got)>>10)
}

// TestStopRunsPosts: a function Post'ed while the loop is ending (here from
// OnClose, as Stop closes the connection) still runs: Post returned nil,
// so it must, or a DialAsync's callback or a handed-off connection would be
// lost.
func TestStopRunsPosts(t *testing.T) {
	ran := make(chan struct{})
	posted := make(chan error, 1)
	h := &funcHandler{close: func(c *Conn, err error) {
		notify(posted, c.Loop().Post(func() { close(ran) }))
	}}
	s := startServer(t, h, Options{Loops: 1}, "tcp", "127.0.0.1:0")
	roundTrip(t, dial(t, s), []byte("hello"))
	stop(t, s)
	if err := <-posted; err != nil {
		return // refused: fine too
	}
	select {
	case <-ran:
	default:
		t.Fatal("a Post that returned nil never ran")
	}
}

// TestStopBeforeStart and a Stop with no connections return at once.
func TestStopIdle(t *testing.T) {
	s := NewServer(echoHandler{}, Options{})
	if err := s.Stop(context.Background()); err != nil {
		t.Fatalf("Stop before Start: %v", err)
	}
	s = startServer(t, echoHandler{}, Options{Loops: 3}, "tcp", "127.0.0.1:0")
	stop(t, s)
	<-s.Done()
	if err := s.Loops()[0].Post(func() {}); !errors.Is(err, ErrServerClosed) {
		t.Fatalf("Post after Stop: %v, want ErrServerClosed", err)
	}
}

// TestStopBeforeStart: a Stop before Start leaves the Server closed: Start
// then fails with ErrServerClosed and opens nothing, as it does after any
// Stop; a Stop racing with Start stops what Start started.
func TestStopBeforeStart(t *testing.T) {
	fds := countFDs(t)
	s := NewServer(echoHandler{}, Options{Loops: 2})
	s.Listen("tcp", "127.0.0.1:0")
	if err := s.Stop(context.Background()); err != nil {
		t.Fatalf("Stop before Start: %v", err)
	}
	if err := s.Start(); !errors.Is(err, ErrServerClosed) {
		t.Fatalf("Start after Stop: %v, want ErrServerClosed", err)
	}
	checkFDs(t, fds)

	started := startServer(t, echoHandler{}, Options{Loops: 1}, "tcp", "127.0.0.1:0")
	stop(t, started)
	if err := started.Start(); !errors.Is(err, ErrServerClosed) {
		t.Fatalf("Start after a Stop of a running Server: %v, want ErrServerClosed", err)
	}

	for range 20 {
		r := NewServer(echoHandler{}, Options{Loops: 2})
		r.Listen("tcp", "127.0.0.1:0")
		startErr := make(chan error, 1)
		go func() { startErr <- r.Start() }()
		if err := r.Stop(context.Background()); err != nil {
			t.Fatalf("Stop racing with Start: %v", err)
		}
		if err := <-startErr; err != nil && !errors.Is(err, ErrServerClosed) {
			t.Fatalf("Start racing with Stop: %v", err)
		}
		select {
		case <-r.Done():
		case <-time.After(10 * time.Second):
			t.Fatal("the Server did not stop")
		}
	}
	checkFDs(t, fds)
}

// stopGreeter says goodbye to each connection when Stop begins.
type stopGreeter struct {
	funcHandler
	conns map[*Conn]bool // all loops': guarded by the test running one loop
}

func (h *stopGreeter) OnStop(l *Loop) {
	for c := range h.conns {
		c.Write([]byte("server stopping: bye\n"))
	}
}

// TestOnStop: a StopHandler's OnStop runs when Stop begins, before the
// connections are closed: what it writes reaches the client, then EOF.
func TestOnStop(t *testing.T) {
	h := &stopGreeter{conns: map[*Conn]bool{}}
	h.open = func(c *Conn) { h.conns[c] = true }
	h.close = func(c *Conn, err error) { delete(h.conns, c) }
	s := startServer(t, h, Options{Loops: 1}, "tcp", "127.0.0.1:0")
	c := dial(t, s)
	roundTrip(t, c, []byte("hi"))
	done := make(chan error, 1)
	go func() { done <- s.Stop(context.Background()) }()
	if got := expectClosed(t, c, 10*time.Second); string(got) != "server stopping: bye\n" {
		t.Fatalf("read %q before the close, want the goodbye", got)
	}
	if err := recv(t, done, 10*time.Second, "Stop"); err != nil {
		t.Fatal(err)
	}
}

// TestStopAccepting: the listeners close, the connections stay and are
// served; Stop ends them later.
func TestStopAccepting(t *testing.T) {
	h := &funcHandler{data: func(c *Conn) { c.Write(c.Next(-1)) }}
	s := startServer(t, h, Options{Loops: 2}, "tcp", "127.0.0.1:0")
	c := dial(t, s)
	if err := s.StopAccepting(); err != nil {
		t.Fatal(err)
	}
	if nc, err := net.DialTimeout("tcp", s.Addrs()[0].String(), time.Second); err == nil {
		nc.Close()
		t.Fatal("a connection was accepted after StopAccepting")
	}
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write([]byte("still served")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 12)
	if _, err := io.ReadFull(c, buf); err != nil || string(buf) != "still served" {
		t.Fatalf("%q, %v", buf, err)
	}
	if err := s.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := s.StopAccepting(); !errors.Is(err, ErrServerClosed) {
		t.Fatalf("StopAccepting after Stop: %v", err)
	}
}
