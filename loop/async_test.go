package loop

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// serverConns is a handler that hands each opened Conn to the test.
func serverConns(h *funcHandler) (*funcHandler, <-chan *Conn) {
	ch := make(chan *Conn, 16)
	open := h.open
	h.open = func(c *Conn) {
		if open != nil {
			open(c)
		}
		notify(ch, c)
	}
	return h, ch
}

// TestAsyncWrite: 100 goroutines write to one connection at once, while
// its loop is held busy; every message arrives, each writer's messages in
// the order written, and the whole burst costs a handful of wake-ups (the
// first Post into the empty queue), not one per AsyncWrite.
func TestAsyncWrite(t *testing.T) {
	const writers, each = 100, 200
	h, conns := serverConns(&funcHandler{})
	s := startServer(t, h, Options{Loops: 2}, "tcp", "127.0.0.1:0")
	c := dial(t, s)
	sc := recv(t, conns, 5*time.Second, "OnOpen")
	l := sc.Loop()
	// Hold the loop in a posted function until the burst is over, so the
	// AsyncWrites queue up behind it: only coalescing keeps the wake-ups few.
	held, release := make(chan struct{}), make(chan struct{})
	releaseOnce := sync.OnceFunc(func() { close(release) })
	defer releaseOnce() // also if the test fails first: Stop needs the loop
	if err := l.Post(func() { close(held); <-release }); err != nil {
		t.Fatal(err)
	}
	recv(t, held, 10*time.Second, "the loop to be held")
	wakeups := l.stats.wakeups.Load()

	var wg sync.WaitGroup
	var failed atomic.Int64
	for w := range writers {
		wg.Go(func() {
			for seq := range each {
				if err := sc.AsyncWrite(fmt.Appendf(nil, "w%03d s%05d\n", w, seq)); err != nil {
					failed.Add(1)
				}
			}
		})
	}
	wg.Wait()
	posted := l.stats.wakeups.Load() - wakeups
	releaseOnce()
	if n := failed.Load(); n > 0 {
		t.Fatalf("%d AsyncWrites failed", n)
	}
	t.Logf("%d AsyncWrites cost %d wake-ups", writers*each, posted)
	if posted == 0 || posted > 4 {
		t.Fatalf("%d wake-ups for %d AsyncWrites to a busy loop, want a handful", posted, writers*each)
	}

	c.SetReadDeadline(time.Now().Add(30 * time.Second))
	next := make([]int, writers)
	in := bufio.NewScanner(c)
	for got := 0; got < writers*each; got++ {
		if !in.Scan() {
			t.Fatalf("after %d messages: %v", got, in.Err())
		}
		var w, seq int
		if _, err := fmt.Sscanf(in.Text(), "w%03d s%05d", &w, &seq); err != nil || w >= writers {
			t.Fatalf("message %d garbled: %q", got, in.Text())
		}
		if seq != next[w] {
			t.Fatalf("writer %d: got message %d, want %d", w, seq, next[w])
		}
		next[w]++
	}
}

// TestAsyncOnData: AsyncOnData runs OnData with what is buffered (here, an unfinished
// line the handler left unconsumed) from another goroutine.
func TestAsyncOnData(t *testing.T) {
	var woken atomic.Bool
	h, conns := serverConns(&funcHandler{data: func(c *Conn) {
		if i := bytes.IndexByte(c.Peek(-1), '\n'); i >= 0 {
			c.Write(c.Next(i + 1))
		}
		if woken.Swap(false) {
			c.Write(fmt.Appendf(nil, "woken with %q\n", c.Peek(-1)))
		}
	}})
	s := startServer(t, h, Options{Loops: 1}, "tcp", "127.0.0.1:0")
	c := dial(t, s)
	sc := recv(t, conns, 5*time.Second, "OnOpen")
	r := bufio.NewReader(c)
	c.SetDeadline(time.Now().Add(10 * time.Second))

	roundTrip(t, c, []byte("a whole line\n"))
	c.Write([]byte("half a li"))
	// Wait until the loop has the partial line buffered.
	deadline := time.Now().Add(10 * time.Second)
	for buffered := 0; buffered != len("half a li"); {
		if time.Now().After(deadline) {
			t.Fatalf("Buffered() = %d outside OnData, want %d", buffered, len("half a li"))
		}
		onLoop(t, sc.Loop(), func() { buffered = sc.Buffered() })
	}
	woken.Store(true)
	if err := sc.AsyncOnData(); err != nil {
		t.Fatal(err)
	}
	line, err := r.ReadString('\n')
	if err != nil || line != "woken with \"half a li\"\n" {
		t.Fatalf("got %q, %v", line, err)
	}
	c.Write([]byte("ne\n"))
	line, err = r.ReadString('\n')
	if err != nil || line != "half a line\n" {
		t.Fatalf("got %q, %v", line, err)
	}
}

// TestAsyncClose: AsyncClose flushes what AsyncWrite queued before it,
// then closes; later calls fail cleanly.
func TestAsyncClose(t *testing.T) {
	closed := make(chan error, 1)
	h, conns := serverConns(&funcHandler{close: func(c *Conn, err error) { notify(closed, err) }})
	s := startServer(t, h, Options{Loops: 1}, "tcp", "127.0.0.1:0")
	c := dial(t, s)
	sc := recv(t, conns, 5*time.Second, "OnOpen")
	p := payload(4 << 20)
	if err := sc.AsyncWrite(p); err != nil {
		t.Fatal(err)
	}
	if err := sc.AsyncClose(); err != nil {
		t.Fatal(err)
	}
	got := expectClosed(t, c, 30*time.Second)
	if !bytes.Equal(got, p) {
		t.Fatalf("got %d bytes before the close, want %d", len(got), len(p))
	}
	if err := recv(t, closed, 5*time.Second, "OnClose"); err != nil {
		t.Fatalf("OnClose err = %v, want nil", err)
	}
	if st := s.Stats(); st.Open != 0 {
		t.Fatalf("%d connections open after AsyncClose", st.Open)
	}
	// Calls on the closed Conn are harmless.
	onLoop(t, sc.Loop(), func() {
		if _, err := sc.Write([]byte("x")); !errors.Is(err, ErrClosed) {
			t.Errorf("Write after close: %v, want ErrClosed", err)
		}
	})
	// The async calls say the connection is gone, instead of queuing for
	// nobody.
	for name, err := range map[string]error{
		"AsyncWrite":  sc.AsyncWrite([]byte("x")),
		"AsyncClose":  sc.AsyncClose(),
		"AsyncOnData": sc.AsyncOnData(),
	} {
		if !errors.Is(err, ErrClosed) {
			t.Errorf("%s on a closed Conn: %v, want ErrClosed", name, err)
		}
	}
	stop(t, s)
	if err := sc.AsyncWrite([]byte("x")); !errors.Is(err, ErrClosed) {
		t.Fatalf("AsyncWrite after Stop: %v, want ErrClosed", err)
	}
}
