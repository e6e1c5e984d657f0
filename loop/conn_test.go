package loop

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"
)

// lineEcho echoes complete lines only, leaving a partial line buffered for
// the next OnData (the asynchat pattern).
func lineEcho(c *Conn) {
	for {
		i := bytes.IndexByte(c.Peek(-1), '\n')
		if i < 0 {
			return
		}
		c.Write(c.Next(i + 1))
	}
}

// TestPartialInput: lines of random length (some longer than the loop's
// read buffer) arrive in random chunks; what OnData leaves unconsumed is
// kept, in order, for the next call.
func TestPartialInput(t *testing.T) {
	for _, readBuf := range []int{0, 1000} { // default 64 KiB, and tiny
		t.Run(fmt.Sprintf("ReadBufferSize=%d", readBuf), func(t *testing.T) {
			s := startServer(t, &funcHandler{data: lineEcho}, Options{Loops: 1, ReadBufferSize: readBuf}, "tcp", "127.0.0.1:0")
			c := dial(t, s)
			rng := rand.New(rand.NewPCG(1, uint64(readBuf)))
			var stream []byte
			for len(stream) < 2<<20 {
				n := rng.IntN(200)
				if rng.IntN(20) == 0 {
					n = rng.IntN(150 << 10) // longer than the read buffer
				}
				line := bytes.Repeat([]byte{'a' + byte(len(stream)%26)}, n)
				stream = append(append(stream, line...), '\n')
			}
			c.SetDeadline(time.Now().Add(60 * time.Second))
			werr := make(chan error, 1)
			go func() {
				for rest := stream; len(rest) > 0; {
					n := min(len(rest), 1+rng.IntN(3000))
					if _, err := c.Write(rest[:n]); err != nil {
						werr <- err
						return
					}
					rest = rest[n:]
				}
				werr <- nil
			}()
			got := make([]byte, len(stream))
			if _, err := io.ReadFull(c, got); err != nil {
				t.Fatal(err)
			}
			if err := <-werr; err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, stream) {
				t.Fatalf("echoed lines differ from offset %d of %d", firstDiff(got, stream), len(stream))
			}
		})
	}
}

// TestNextDiscard checks the input view: Peek does not consume, Next and
// Discard do, and Buffered follows.
func TestNextDiscard(t *testing.T) {
	report := make(chan string, 4)
	h := &funcHandler{data: func(c *Conn) {
		if c.Inbound() < 10 {
			return // wait for all ten bytes
		}
		var b bytes.Buffer
		fmt.Fprintf(&b, "%s|", c.Peek(3))
		fmt.Fprintf(&b, "%s|", c.Peek(-1))
		fmt.Fprintf(&b, "%s|", c.Next(4))
		fmt.Fprintf(&b, "%d|", c.Discard(2))
		fmt.Fprintf(&b, "%d|", c.Inbound())
		fmt.Fprintf(&b, "%s|", c.Next(100))
		fmt.Fprintf(&b, "%d|%d|%q", c.Inbound(), c.Discard(-1), c.Peek(5))
		notify(report, b.String())
	}}
	s := startServer(t, h, Options{Loops: 1}, "tcp", "127.0.0.1:0")
	c := dial(t, s)
	c.Write([]byte("01234"))
	time.Sleep(10 * time.Millisecond) // two reads, most likely: both must count
	c.Write([]byte("56789"))
	want := `012|0123456789|0123|2|4|6789|0|0|""`
	if got := recv(t, report, 5*time.Second, "OnData"); got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
}

// TestWritev: several buffers in one call arrive in order, also when the
// socket takes only part of them and the rest is queued.
func TestWritev(t *testing.T) {
	big := payload(4 << 20)
	h := &funcHandler{data: func(c *Conn) {
		msg := c.Next(-1)
		if string(msg) == "big\n" {
			c.Writev([][]byte{[]byte("head:"), big, nil, []byte(":tail")})
			return
		}
		c.Writev([][]byte{[]byte("<"), msg, []byte(">")})
		c.Writev([][]byte{[]byte("!")}) // a single buffer
	}}
	s := startServer(t, h, Options{Loops: 1}, "tcp", "127.0.0.1:0")
	c := dial(t, s)
	c.SetDeadline(time.Now().Add(30 * time.Second))
	c.Write([]byte("x"))
	got := make([]byte, 4)
	if _, err := io.ReadFull(c, got); err != nil || string(got) != "<x>!" {
		t.Fatalf("got %q, %v", got, err)
	}
	c.Write([]byte("big\n"))
	want := append(append([]byte("head:"), big...), ":tail"...)
	got = make([]byte, len(want))
	if _, err := io.ReadFull(c, got); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("writev output differs at %d", firstDiff(got, want))
	}
}

// TestWritevIdle: a connection whose server only pushes, with Writev, is
// not idle: the bytes writev sends count as write activity (an IdleTimeout
// closed it after one period when they did not).
func TestWritevIdle(t *testing.T) {
	const idle = 300 * time.Millisecond
	closed := make(chan error, 1)
	h := &funcHandler{
		open: func(c *Conn) {
			var tick *Timer
			tick = c.Loop().Every(idle/10, func() {
				if _, err := c.Writev([][]byte{[]byte("ti"), []byte("ck")}); err != nil {
					tick.Stop()
				}
			})
		},
		close: func(c *Conn, err error) { notify(closed, err) },
	}
	s := startServer(t, h, Options{Loops: 1, IdleTimeout: idle}, "tcp", "127.0.0.1:0")
	c := dial(t, s)
	// Read for several idle periods, sending nothing.
	buf := make([]byte, 64)
	got := 0
	for end := time.Now().Add(4 * idle); time.Now().Before(end); {
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		n, err := c.Read(buf)
		if err != nil {
			t.Fatalf("after %d bytes: %v (OnClose: %v)", got, err, recv(t, closed, 5*time.Second, "OnClose"))
		}
		got += n
	}
	select {
	case err := <-closed:
		t.Fatalf("a connection pushing with Writev was closed: %v", err)
	default:
	}
	if st := s.Stats(); st.Open != 1 {
		t.Fatalf("%d connections open, want 1", st.Open)
	}
}

// TestWritevOneBuffer: Writev of one buffer is a Write: no copy, so no
// allocation.
func TestWritevOneBuffer(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	h, conns := serverConns(&funcHandler{})
	s := startServer(t, h, Options{Loops: 1}, "tcp", "127.0.0.1:0")
	c := dial(t, s)
	sc := recv(t, conns, 5*time.Second, "OnOpen")
	bufs := [][]byte{[]byte("0123456789")}
	var allocs float64
	onLoop(t, sc.Loop(), func() {
		allocs = testing.AllocsPerRun(100, func() { sc.Writev(bufs) })
	})
	if allocs != 0 {
		t.Fatalf("Writev of one buffer: %v allocations per call, want 0", allocs)
	}
	readN(t, c, 101*len(bufs[0])) // AllocsPerRun runs it once more to warm up
}

// TestServerHalfClose: CloseWrite sends queued output, then EOF, while the
// server still reads what the client sends.
func TestServerHalfClose(t *testing.T) { forEachBackend(t, testServerHalfClose) }

func testServerHalfClose(t *testing.T, backend string) {
	const size = 2 << 20
	got := make(chan int, 1)
	received := 0
	h := &funcHandler{
		open: func(c *Conn) {
			c.Write(payload(size))
			c.CloseWrite()
			if _, err := c.Write([]byte("x")); err == nil {
				t.Error("Write after CloseWrite succeeded")
			}
		},
		data: func(c *Conn) { received += c.Discard(-1) },
		eof: func(c *Conn) {
			notify(got, received)
			c.Close()
		},
	}
	s := startServer(t, h, Options{Loops: 1, Backend: backend}, "tcp", "127.0.0.1:0")
	c := dial(t, s).(*net.TCPConn)
	data := expectClosed(t, c, 30*time.Second) // everything, then EOF
	if !bytes.Equal(data, payload(size)) {
		t.Fatalf("got %d bytes before EOF, want %d", len(data), size)
	}
	// Our half is still open: the server reads it.
	if _, err := c.Write([]byte("after your EOF")); err != nil {
		t.Fatal(err)
	}
	c.CloseWrite()
	if n := recv(t, got, 5*time.Second, "OnEOF"); n != len("after your EOF") {
		t.Fatalf("server read %d bytes after its CloseWrite, want %d", n, len("after your EOF"))
	}
}

// TestReplyAfterEOF: a handler that keeps the connection after the peer's
// EOF can still answer, later, from a timer.
func TestReplyAfterEOF(t *testing.T) {
	h := &funcHandler{
		data: func(c *Conn) {}, // keep the request buffered
		eof: func(c *Conn) {
			req := string(c.Peek(-1))
			c.Loop().AfterFunc(20*time.Millisecond, func() {
				c.Write([]byte("reply to " + req))
				c.Close()
			})
		},
	}
	s := startServer(t, h, Options{Loops: 1}, "tcp", "127.0.0.1:0")
	c := dial(t, s).(*net.TCPConn)
	c.Write([]byte("my request"))
	c.CloseWrite()
	if got := expectClosed(t, c, 5*time.Second); string(got) != "reply to my request" {
		t.Fatalf("got %q", got)
	}
}

// TestCloseNow drops queued output; Close (tested elsewhere) sends it.
func TestCloseNow(t *testing.T) {
	const size = 8 << 20
	h := &funcHandler{data: func(c *Conn) {
		c.Discard(-1)
		c.Write(payload(size))
		c.CloseNow()
	}}
	s := startServer(t, h, Options{Loops: 1}, "tcp", "127.0.0.1:0")
	c := dial(t, s)
	c.Write([]byte("go"))
	got := expectClosed(t, c, 10*time.Second)
	if len(got) >= size {
		t.Fatalf("CloseNow delivered all %d queued bytes", len(got))
	}
	t.Logf("CloseNow: %d of %d bytes reached the peer (what the kernel already had)", len(got), size)
}

// TestConnAccessors: Context, addresses, Fd and Closed.
func TestConnAccessors(t *testing.T) {
	type state struct{ n int }
	report := make(chan string, 2)
	h := &funcHandler{
		open: func(c *Conn) { c.SetContext(&state{}) },
		data: func(c *Conn) {
			st := c.Context().(*state)
			st.n += c.Discard(-1)
			notify(report, fmt.Sprintf("%d %v %v %v %v", st.n, c.LocalAddr(), c.RemoteAddr(), c.Fd() > 2, c.Closed()))
		},
	}
	s := startServer(t, h, Options{Loops: 1}, "tcp", "127.0.0.1:0")
	c := dial(t, s)
	c.Write([]byte("abc"))
	want := fmt.Sprintf("3 %v %v true false", c.RemoteAddr(), c.LocalAddr())
	if got := recv(t, report, 5*time.Second, "OnData"); got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
	c.Write([]byte("de"))
	if got := recv(t, report, 5*time.Second, "OnData"); got[0] != '5' {
		t.Fatalf("context lost between calls: %q", got)
	}
}

// TestWriteInterest: the loop asks for writability only while output is
// queued (the Python select tutorials' pattern), so a steady echo makes no
// Selector call per message: the loop's count of Register/Modify/Unregister
// calls does not move during 100 echoes.
func TestWriteInterest(t *testing.T) { forEachBackend(t, testWriteInterest) }

func testWriteInterest(t *testing.T, backend string) {
	h, conns := serverConns(&funcHandler{})
	// A small send buffer, so that output queues in the loop.
	s := startServer(t, h, Options{Loops: 1, Backend: backend, SocketWriteBuffer: 16 << 10}, "tcp", "127.0.0.1:0")
	c := dial(t, s)
	c.(*net.TCPConn).SetReadBuffer(16 << 10)
	sc := recv(t, conns, 5*time.Second, "OnOpen")
	interest := func() (ev string) {
		onLoop(t, sc.Loop(), func() { ev = sc.watching().String() })
		return ev
	}
	changes := func() (n int64) {
		onLoop(t, sc.Loop(), func() { n = sc.Loop().stats.interest.Load() })
		return n
	}
	roundTrip(t, c, []byte("warm-up"))
	before := changes()
	for range 100 {
		roundTrip(t, c, []byte("small"))
	}
	if n := changes() - before; n != 0 {
		t.Fatalf("%d Selector calls (Register/Modify/Unregister) in 100 steady-state echoes, want 0", n)
	}
	if ev := interest(); ev != "Readable" {
		t.Fatalf("interest after 100 echoes: %s, want Readable", ev)
	}
	for _, q := range []struct {
		size int
		want string
	}{
		{256 << 10, "Readable|Writable"}, // queued: wait for writability
		{4 << 20, "Writable"},            // above HighWater: paused too
	} {
		onLoop(t, sc.Loop(), func() { sc.Write(payload(q.size)) })
		if ev := interest(); ev != q.want {
			t.Fatalf("interest with %d KiB queued: %s, want %s", q.size>>10, ev, q.want)
		}
		readN(t, c, q.size)
		if ev := interest(); ev != "Readable" {
			t.Fatalf("interest once drained: %s, want Readable", ev)
		}
	}
}

// TestConnSize: an idle connection costs one Conn in the 144-byte size
// class on 64-bit systems, as conn.go's comments say.
func TestConnSize(t *testing.T) {
	if unsafe.Sizeof(uintptr(0)) != 8 {
		t.Skip("the size is stated for 64-bit systems")
	}
	if got := unsafe.Sizeof(Conn{}); got != 144 {
		t.Fatalf("Conn is %d bytes, the comments say 144: fix one or the other", got)
	}
}

// TestQueueGrow: the output queue reuses the room its sent part leaves
// before it allocates, and a new buffer keeps every unsent byte in order.
func TestQueueGrow(t *testing.T) {
	c := &Conn{loop: &Loop{srv: &Server{opts: Options{HighWater: 1 << 20, ReadBufferSize: 64 << 10}}}}
	c.out = make([]byte, 100, 128)
	for i := range c.out {
		c.out[i] = byte(i)
	}
	c.head = 60 // 40 bytes unsent: 60..99
	buf := &c.out[:1][0]
	c.grow(50) // 40 + 50 fits in 128
	if &c.out[:1][0] != buf || cap(c.out) != 128 || c.head != 0 || len(c.out) != 40 {
		t.Fatalf("in place: cap %d, head %d, len %d, same buffer %v", cap(c.out), c.head, len(c.out), &c.out[:1][0] == buf)
	}
	for i, b := range c.out {
		if b != byte(60+i) {
			t.Fatalf("in place: byte %d = %d, want %d", i, b, 60+i)
		}
	}
	c.head = 10 // 30 unsent: 70..99
	c.grow(200) // 230 > 128: a new buffer, twice the old one or the need
	if cap(c.out) != 256 || c.head != 0 || len(c.out) != 30 || c.out[0] != 70 || c.out[29] != 99 {
		t.Fatalf("new buffer: cap %d, head %d, len %d, first %d, last %d", cap(c.out), c.head, len(c.out), c.out[0], c.out[len(c.out)-1])
	}
}

// TestNoReentrantCallbacks: no handler callback runs inside a Conn call
// of another. A Write that passes HighWater marks the connection paused
// at once, but OnPause runs after the callback that wrote; an OnPause that
// closes the connection (editing a set the writer may iterate) then makes
// the next Write fail with ErrClosed. A Write that meets a reset returns
// the error, the connection is closed at once, and OnClose comes after.
func TestNoReentrantCallbacks(t *testing.T) {
	var inCall atomic.Bool
	reentered := make(chan string, 4)
	paused, closed := make(chan *Conn, 2), make(chan error, 2)
	h, conns := serverConns(&funcHandler{
		data: func(c *Conn) { c.Discard(-1) },
		pause: func(c *Conn) {
			if inCall.Load() {
				notify(reentered, "OnPause inside Write")
			}
			c.CloseNow()
			notify(paused, c)
		},
		close: func(c *Conn, err error) {
			if inCall.Load() {
				notify(reentered, "OnClose inside the call that closed")
			}
			notify(closed, err)
		},
	})
	s := startServer(t, h, Options{Loops: 1, HighWater: 64 << 10, SocketWriteBuffer: 32 << 10}, "tcp", "127.0.0.1:0")
	dial(t, s) // reads nothing
	sc := recv(t, conns, 5*time.Second, "OnOpen")
	onLoop(t, sc.Loop(), func() {
		inCall.Store(true)
		defer inCall.Store(false)
		n, err := sc.Write(payload(1 << 20))
		if n != 1<<20 || err != nil || !sc.Congested() || sc.Closed() {
			t.Errorf("Write past HighWater: %d, %v, paused %v, closed %v; want all taken, paused, open", n, err, sc.Congested(), sc.Closed())
		}
	})
	if c := recv(t, paused, 5*time.Second, "OnPause"); c != sc {
		t.Fatal("OnPause for another connection")
	}
	if err := recv(t, closed, 5*time.Second, "OnClose after OnPause's CloseNow"); err != nil {
		t.Fatalf("OnClose after CloseNow: %v", err)
	}
	onLoop(t, sc.Loop(), func() {
		if _, err := sc.Write([]byte("x")); !errors.Is(err, ErrClosed) {
			t.Errorf("Write after OnPause closed it: %v, want ErrClosed", err)
		}
	})

	// A peer that resets while the loop is not reading it: the Write that
	// meets the reset reports it.
	c := dial(t, s).(*net.TCPConn)
	sc = recv(t, conns, 5*time.Second, "OnOpen")
	onLoop(t, sc.Loop(), sc.PauseRead)
	c.SetLinger(0)
	c.Close()
	deadline := time.Now().Add(10 * time.Second)
	for failed := false; !failed; {
		if time.Now().After(deadline) {
			t.Fatal("Writes to a reset connection kept succeeding")
		}
		onLoop(t, sc.Loop(), func() {
			inCall.Store(true)
			defer inCall.Store(false)
			_, err := sc.Write([]byte("into the void"))
			if err == nil {
				return // the RST is not there yet
			}
			failed = true
			if !sc.Closed() {
				t.Errorf("Write failed with %v, but the connection is not closed", err)
			}
			if _, err := sc.Write([]byte("x")); !errors.Is(err, ErrClosed) {
				t.Errorf("second Write: %v, want ErrClosed", err)
			}
		})
	}
	if err := recv(t, closed, 5*time.Second, "OnClose of the reset connection"); err == nil {
		t.Fatal("OnClose of a reset connection got nil")
	}
	select {
	case what := <-reentered:
		t.Fatal(what)
	default:
	}
}

// TestLoopConns: Loop.Conns yields every connection of the loop, and the
// one yielded may be closed.
func TestLoopConns(t *testing.T) {
	opened := make(chan struct{}, 3)
	s := startServer(t, &funcHandler{open: func(*Conn) { opened <- struct{}{} }}, Options{Loops: 1}, "tcp", "127.0.0.1:0")
	for range 3 {
		dial(t, s)
		recv(t, opened, 5*time.Second, "OnOpen")
	}
	l := s.Loops()[0]
	count := func(closeSecond bool) (n int) {
		onLoop(t, l, func() {
			for c := range l.Conns() {
				if n++; n == 2 && closeSecond {
					c.Close()
				}
			}
		})
		return n
	}
	if n := count(true); n != 3 {
		t.Fatalf("Conns yielded %d connections, want 3", n)
	}
	if n := count(false); n != 2 {
		t.Fatalf("after one Close, Conns yielded %d connections, want 2", n)
	}
}
