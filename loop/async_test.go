package loop

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
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
	wakeups := l.stats.Wakeups.Load()

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
	posted := l.stats.Wakeups.Load() - wakeups
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
			t.Fatalf("Inbound() = %d outside OnData, want %d", buffered, len("half a li"))
		}
		onLoop(t, sc.Loop(), func() { buffered = sc.Inbound() })
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

// TestAsyncWriteQueueFull: AsyncWrite to a peer that does not read
// refuses with ErrQueueFull once the backlog reaches HighWater, also when
// the caller is the connection's own loop (whose Posts cannot run until it
// returns); AsyncWriteFunc with no bytes says when the backlog is sent,
// and writes are taken again. Every byte taken arrives, in order.
func TestAsyncWriteQueueFull(t *testing.T) {
	const highWater, chunk = 256 << 10, 16 << 10
	h, conns := serverConns(&funcHandler{})
	s := startServer(t, h, Options{Loops: 1, HighWater: highWater, SocketWriteBuffer: 64 << 10}, "tcp", "127.0.0.1:0")
	c := dial(t, s)
	c.(*net.TCPConn).SetReadBuffer(64 << 10)
	sc := recv(t, conns, 5*time.Second, "OnOpen")

	var sent bytes.Buffer
	next := func() []byte { // numbered chunks, so order shows
		p := bytes.Repeat(fmt.Appendf(nil, "%07d\n", sent.Len()/chunk), chunk/8)
		return p
	}
	take := func(p []byte) { sent.Write(p) }
	refused := false
	for sent.Len() < 64<<20 {
		p := next()
		err := sc.AsyncWrite(p)
		if errors.Is(err, ErrQueueFull) {
			refused = true
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		take(p)
	}
	if !refused {
		t.Fatalf("AsyncWrite took %d bytes for a peer that reads nothing, never ErrQueueFull", sent.Len())
	}
	t.Logf("AsyncWrite from a goroutine took %d KiB before ErrQueueFull", sent.Len()>>10)
	// What the loop queued plus the socket buffers: HighWater, one
	// chunk over, and a few hundred KiB in the kernel.
	if sent.Len() > highWater+chunk+2<<20 {
		t.Fatalf("AsyncWrite took %d bytes before refusing, HighWater %d", sent.Len(), highWater)
	}
	// The loop itself writing asynchronously to its own connection: the
	// Posts wait for it to return, but the backlog counts them.
	onLoop(t, sc.Loop(), func() {
		line := append(bytes.Repeat([]byte("x"), 1023), '\n')
		for range 64 << 10 { // 64 MiB, or 64 Ki Posts: far past HighWater, within MaxPosts
			if err := sc.AsyncWrite(line); err != nil {
				if !errors.Is(err, ErrQueueFull) {
					t.Errorf("AsyncWrite on the loop: %v", err)
				}
				return
			}
			sent.Write(line)
		}
		t.Errorf("AsyncWrite on its own loop never refused")
	})
	drained := make(chan error, 1)
	if err := sc.AsyncWriteFunc(nil, func(c *Conn, err error) { drained <- err }); err != nil {
		t.Fatalf("AsyncWriteFunc(nil) on a full queue: %v, want it taken", err)
	}
	select {
	case <-drained:
		t.Fatal("drained before the client read anything")
	case <-time.After(50 * time.Millisecond):
	}
	got := make([]byte, sent.Len())
	c.SetReadDeadline(time.Now().Add(30 * time.Second))
	if _, err := io.ReadFull(c, got); err != nil {
		t.Fatal(err)
	}
	if err := recv(t, drained, 10*time.Second, "the drain callback"); err != nil {
		t.Fatalf("drain callback: %v", err)
	}
	if !bytes.Equal(got, sent.Bytes()) {
		t.Fatalf("received bytes differ from offset %d", firstDiff(got, sent.Bytes()))
	}
	if err := sc.AsyncWrite([]byte("again\n")); err != nil {
		t.Fatalf("AsyncWrite after the drain: %v", err)
	}
	if st := s.Stats(); st.Refused < 2 {
		t.Fatalf("Stats.Refused = %d, want the 2 refusals", st.Refused)
	}
}

// TestAsyncWriteFunc: each callback runs once its bytes are written, in
// the order written; on a connection closed with output queued, with
// ErrClosed.
func TestAsyncWriteFunc(t *testing.T) {
	h, conns := serverConns(&funcHandler{})
	s := startServer(t, h, Options{Loops: 1}, "tcp", "127.0.0.1:0")
	c := dial(t, s)
	sc := recv(t, conns, 5*time.Second, "OnOpen")
	var mu sync.Mutex
	var order []int
	dones := make(chan error, 100)
	for i := range 100 {
		err := sc.AsyncWriteFunc(fmt.Appendf(nil, "%03d\n", i), func(cc *Conn, err error) {
			if cc != sc {
				err = fmt.Errorf("callback for %p, want %p", cc, sc)
			}
			mu.Lock()
			order = append(order, i)
			mu.Unlock()
			dones <- err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	readN(t, c, 400)
	for range 100 {
		if err := recv(t, dones, 10*time.Second, "a write callback"); err != nil {
			t.Fatal(err)
		}
	}
	for i, v := range order {
		if v != i {
			t.Fatalf("callbacks ran in the order %v", order)
		}
	}

	// A client that reads nothing: 8 MiB stay queued; CloseNow drops them
	// and tells the callback.
	failed := make(chan error, 1)
	if err := sc.AsyncWriteFunc(payload(8<<20), func(_ *Conn, err error) { failed <- err }); err != nil {
		t.Fatal(err)
	}
	onLoop(t, sc.Loop(), func() {
		if sc.Outbound() == 0 {
			t.Error("8 MiB all written to a client that reads nothing")
		}
		sc.CloseNow()
	})
	if err := recv(t, failed, 10*time.Second, "the callback of the dropped write"); !errors.Is(err, ErrClosed) {
		t.Fatalf("callback of a write dropped by CloseNow: %v, want ErrClosed", err)
	}
	if err := sc.AsyncWriteFunc([]byte("x"), func(*Conn, error) { t.Error("callback of a refused write ran") }); !errors.Is(err, ErrClosed) {
		t.Fatalf("AsyncWriteFunc on a closed Conn: %v", err)
	}
}

// TestPostBound: Post refuses with ErrQueueFull once MaxPosts functions
// wait for a loop that is behind, and Stats show the depth; the loop's own
// work (here AsyncClose) is never refused, and every function taken runs.
func TestPostBound(t *testing.T) {
	const maxPosts = 100
	h, conns := serverConns(&funcHandler{})
	s := startServer(t, h, Options{Loops: 1, MaxPosts: maxPosts}, "tcp", "127.0.0.1:0")
	c := dial(t, s)
	sc := recv(t, conns, 5*time.Second, "OnOpen")
	l := s.Loops()[0]
	held, release := make(chan struct{}), make(chan struct{})
	releaseOnce := sync.OnceFunc(func() { close(release) })
	defer releaseOnce()
	if err := l.Post(func() { close(held); <-release }); err != nil {
		t.Fatal(err)
	}
	recv(t, held, 10*time.Second, "the loop to be held")
	var ran atomic.Int64
	for i := range maxPosts {
		if err := l.Post(func() { ran.Add(1) }); err != nil {
			t.Fatalf("Post %d: %v", i, err)
		}
	}
	if err := l.Post(func() { ran.Add(1) }); !errors.Is(err, ErrQueueFull) {
		t.Fatalf("Post past MaxPosts: %v, want ErrQueueFull", err)
	}
	if err := sc.AsyncWrite([]byte("x")); !errors.Is(err, ErrQueueFull) {
		t.Fatalf("AsyncWrite past MaxPosts: %v, want ErrQueueFull", err)
	}
	if st, ls := s.Stats(), l.Stats(); st.Posted != maxPosts || ls.Posted != maxPosts || st.Refused != 2 {
		t.Fatalf("Stats Posted %d (loop %d), Refused %d; want %d, %d, 2", st.Posted, ls.Posted, st.Refused, maxPosts, maxPosts)
	}
	if err := sc.AsyncClose(); err != nil {
		t.Fatalf("AsyncClose on a loop that is behind: %v", err)
	}
	releaseOnce()
	expectClosed(t, c, 10*time.Second)
	if st := settled(t, s); ran.Load() != maxPosts || st.Posted != 0 {
		t.Fatalf("%d of %d posted functions ran, %d still counted waiting", ran.Load(), maxPosts, st.Posted)
	}
}
