package loop

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// relay is a TCP proxy on the loop, as the README's recipe writes it: each
// accepted client is paired with a connection dialed to upstream, and
// each is the other's source (SetSource), so back-pressure holds the
// producer. With across set, the upstream connection is dialed on another
// loop than its client's, and everything between them crosses by
// WriteFrom and Post. With splice set, a pair on one loop is spliced
// (Conn.Splice): the loop moves the bytes, OnData only what it does not.
type relay struct {
	BaseHandler
	upstream string
	across   bool
	splice   bool
	resets   atomic.Int64 // resets passed on (Abort)
	spliced  atomic.Int64 // pairs Splice took
}

// peerOf is the other end of c's pair, nil until it is connected.
func peerOf(c *Conn) *Conn {
	p, _ := c.Context().(*Conn)
	return p
}

// onLoopOf runs fn on c's loop: at once from a handler of that loop,
// else posted to it.
func onLoopOf(from, c *Conn, fn func()) {
	if c.Loop() == from.Loop() {
		fn()
		return
	}
	c.Loop().post(fn, false)
}

func (r *relay) OnOpen(c *Conn) {
	if c.Dialed() {
		return // an upstream: its DialAsync callback pairs it
	}
	c.PauseRead() // until the upstream is there; what comes meanwhile waits
	l := c.Loop()
	if r.across {
		loops := l.Server().Loops()
		l = loops[(l.Index()+1)%len(loops)]
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	err := c.Loop().Server().DialAsync(ctx, "tcp", r.upstream, &DialOptions{Loop: l}, func(u *Conn, err error) {
		cancel()
		if err != nil {
			onLoopOf(c, c, func() { c.Close() })
			return
		}
		u.SetContext(c)
		u.SetSource(c)
		onLoopOf(u, c, func() {
			if c.Closed() {
				onLoopOf(c, u, func() { u.Close() })
				return
			}
			c.SetContext(u)
			if r.splice && c.Splice(u) {
				r.spliced.Add(1)
			} else {
				c.SetSource(u)
			}
			c.ResumeRead() // and OnData for what came meanwhile
		})
	})
	if err != nil {
		cancel()
		c.Close()
	}
}

func (r *relay) OnData(c *Conn) {
	if p := peerOf(c); p != nil {
		p.WriteFrom(c, c.Next(-1))
	}
}

// OnEOF passes a half-close on; the pair is closed once both halves are.
func (r *relay) OnEOF(c *Conn) {
	p := peerOf(c)
	if p == nil {
		c.Close()
		return
	}
	onLoopOf(c, p, func() {
		p.CloseWrite()
		if p.EOF() {
			p.Close()
			onLoopOf(p, c, func() { c.Close() })
		}
	})
}

// OnClose closes the other end: with a reset if c was reset, after what
// it has queued otherwise.
func (r *relay) OnClose(c *Conn, err error) {
	p := peerOf(c)
	if p == nil {
		return
	}
	reset := errors.Is(err, ErrReset)
	if reset {
		r.resets.Add(1)
	}
	onLoopOf(c, p, func() {
		if reset {
			p.Abort()
		} else {
			p.Close()
		}
	})
}

// pairing is how a relay test holds its pairs: on one loop or across two,
// spliced or copied through OnData.
type pairing struct {
	loops          int
	across, splice bool
}

// startRelay serves a relay to upstream, its pairs held as p says. A
// spliced relay's test checks, at its end, that the loop spliced.
func startRelay(t *testing.T, upstream string, p pairing, opts Options) (*Server, *relay) {
	r := &relay{upstream: upstream, across: p.across, splice: p.splice}
	opts.Loops = p.loops
	s := startServer(t, r, opts, "tcp", "127.0.0.1:0")
	if p.splice {
		t.Cleanup(func() {
			if r.spliced.Load() == 0 || s.Stats().Spliced == 0 {
				t.Errorf("%d pairs spliced, %d bytes: the relay did not splice", r.spliced.Load(), s.Stats().Spliced)
			}
		})
	}
	return s, r
}

// forEachPairing runs test with the pair on one loop, on one loop spliced
// (where the OS has splice(2)), and across two loops.
func forEachPairing(t *testing.T, test func(t *testing.T, p pairing)) {
	t.Run("one loop", func(t *testing.T) { test(t, pairing{loops: 1}) })
	if spliceSupported {
		t.Run("one loop spliced", func(t *testing.T) { test(t, pairing{loops: 1, splice: true}) })
	}
	t.Run("across two loops", func(t *testing.T) { test(t, pairing{loops: 2, across: true}) })
}

// TestRelayFullDuplex: a 16 MiB echo through the relay, sent while it is
// read, with small socket buffers everywhere, completes and arrives
// intact. A relay built on the loop's own back-pressure (the congested
// connection stops being read) stalls here: each direction's pause stops
// the other.
func TestRelayFullDuplex(t *testing.T) {
	forEachPairing(t, func(t *testing.T, p pairing) {
		small := Options{Loops: 1, SocketReadBuffer: 32 << 10, SocketWriteBuffer: 32 << 10, HighWater: 256 << 10}
		upstream := startServer(t, echoHandler{}, small, "tcp", "127.0.0.1:0")
		s, _ := startRelay(t, upstream.Addrs()[0].String(), p, small)
		c := dial(t, s)
		c.SetDeadline(time.Now().Add(60 * time.Second))
		size := 16 << 20
		if underWine {
			size = 4 << 20 // every socket call is a round trip to the wineserver
		}
		data := payload(size)
		sent := make(chan error, 1)
		go func() { _, err := c.Write(data); sent <- err }()
		got := make([]byte, len(data))
		if _, err := io.ReadFull(c, got); err != nil {
			t.Fatalf("the echo through the relay stopped: %v", err)
		}
		if err := <-sent; err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, data) {
			t.Fatal("the echo through the relay differs")
		}
	})
}

// flooder sends size bytes to each client as it connects, then closes.
func flooder(size int) *funcHandler {
	return &funcHandler{open: func(c *Conn) { c.Write(payload(size)); c.Close() }, data: func(c *Conn) { c.Discard(-1) }}
}

// TestRelayBoundsANonReader: an upstream sends 64 MiB to a client that
// never reads. What the relay queues stays bounded, by HighWater and by
// MaxQueued with HighWater off: the upstream is what waits, not memory.
// Spliced, the relay queues one read at most (its source is not read
// while the sink has anything queued).
func TestRelayBoundsANonReader(t *testing.T) {
	forEachPairing(t, func(t *testing.T, p pairing) {
		for _, o := range []struct {
			name  string
			opts  Options
			bound int64
		}{
			{"HighWater", Options{HighWater: 1 << 20}, 1 << 20},
			{"MaxQueued", Options{HighWater: -1, MaxQueued: 2 << 20 * p.loops}, 2 << 20},
		} {
			t.Run(o.name, func(t *testing.T) {
				flood := 64 << 20
				if underWine {
					flood = 16 << 20
				}
				upstream := startServer(t, flooder(flood), Options{Loops: 1}, "tcp", "127.0.0.1:0")
				o.opts.SocketReadBuffer, o.opts.SocketWriteBuffer = 64<<10, 64<<10
				s, _ := startRelay(t, upstream.Addrs()[0].String(), p, o.opts)
				c := dial(t, s)
				if p.splice {
					o.bound = int64(s.Options().ReadBufferSize)
				}
				// A relay's read of one loop iteration may land after the
				// hold: a few reads more than the bound.
				limit := o.bound + 4*int64(s.Options().ReadBufferSize)
				if p.splice {
					limit = o.bound
				}
				// Sample until the queue has filled (a quarter of the bound at
				// least: across loops, WriteFrom holds the source from the
				// sink's backlog early, and the queue may settle just under
				// half), then half a second more.
				var peak int64
				var full time.Time
				for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); {
					peak = max(peak, s.Stats().Queued)
					if full.IsZero() && (peak >= o.bound/4 || p.splice && peak > 0) {
						full = time.Now()
					}
					if !full.IsZero() && time.Since(full) > 500*time.Millisecond {
						break
					}
					time.Sleep(5 * time.Millisecond)
				}
				if peak == 0 || peak < o.bound/4 && !p.splice {
					t.Fatalf("peak queued %d: the test's premise (a full queue) does not hold", peak)
				}
				if peak > limit {
					t.Fatalf("the relay queued %d bytes for a client that never reads, bound %d", peak, limit)
				}
				// The client reads now: everything arrives.
				c.SetDeadline(time.Now().Add(60 * time.Second))
				got, err := io.ReadAll(c)
				if err != nil || !bytes.Equal(got, payload(flood)) {
					t.Fatalf("read %d of %d bytes (%v)", len(got), flood, err)
				}
				t.Logf("peak queued %d KiB (bound %d KiB)", peak>>10, o.bound>>10)
			})
		}
	})
}

// TestRelayHalfCloseAndReset: a half-close passes through both ways, and
// the pair closes once both halves are; an upstream's reset reaches the
// client as a reset.
func TestRelayHalfCloseAndReset(t *testing.T) {
	forEachPairing(t, func(t *testing.T, p pairing) {
		// The upstream answers "bye" to the client's half-close, then closes.
		upstream := startServer(t, &funcHandler{
			data: func(c *Conn) {
				if c.Inbound() >= len("reset") && string(c.Peek(5)) == "reset" {
					c.Abort()
					return
				}
				c.Write(c.Next(-1))
			},
			eof: func(c *Conn) { c.Write([]byte("bye")); c.Close() },
		}, Options{Loops: 1}, "tcp", "127.0.0.1:0")
		s, r := startRelay(t, upstream.Addrs()[0].String(), p, Options{})
		c := dial(t, s).(*net.TCPConn)
		roundTrip(t, c, []byte("hello"))
		c.CloseWrite()
		c.SetDeadline(time.Now().Add(10 * time.Second))
		rest, err := io.ReadAll(c)
		if err != nil || string(rest) != "bye" {
			t.Fatalf("after the half-close: %q, %v; want the upstream's bye, then EOF", rest, err)
		}
		if st := settledWhen(t, s, func(st Stats) bool { return st.Open == 0 }); st.Open != 0 {
			t.Fatalf("%d connections open after both halves closed", st.Open)
		}

		if underWine {
			t.Log("under Wine, SO_LINGER 0 sends a FIN, not a reset: the reset is not checked")
			return
		}
		c = dial(t, s).(*net.TCPConn)
		c.Write([]byte("reset"))
		c.SetDeadline(time.Now().Add(10 * time.Second))
		_, err = io.ReadAll(c)
		if !errors.Is(err, errReset) {
			t.Fatalf("after the upstream's reset the client read %v, want ECONNRESET", err)
		}
		if r.resets.Load() != 1 {
			t.Errorf("%d resets passed on, want 1", r.resets.Load())
		}
	})
}

// TestRelayManyClients: 1,000 clients at once through the relay, each
// echoing its own bytes: every byte comes back to its sender; no
// goroutine per connection.
func TestRelayManyClients(t *testing.T) {
	forEachPairing(t, func(t *testing.T, p pairing) {
		upstream := startServer(t, echoHandler{}, Options{Loops: 1}, "tcp", "127.0.0.1:0")
		s, _ := startRelay(t, upstream.Addrs()[0].String(), p, Options{})
		clients := 1000
		if underWine {
			clients = 200 // every socket call is a round trip to the wineserver
		}
		goroutines := runtime.NumGoroutine()
		conns := make([]net.Conn, clients)
		for i := range conns {
			conns[i] = dial(t, s)
		}
		if st := settledWhen(t, s, func(st Stats) bool { return st.Open == int64(2*clients) }); st.Open != int64(2*clients) {
			t.Fatalf("%d connections open, want %d", st.Open, 2*clients)
		}
		if n := runtime.NumGoroutine(); n > goroutines+10 {
			t.Errorf("%d goroutines with %d pairs, %d before", n, clients, goroutines)
		}
		var wg sync.WaitGroup
		errs := make(chan error, clients)
		for i, c := range conns {
			wg.Go(func() {
				msg := payload(1000 + i)
				c.SetDeadline(time.Now().Add(30 * time.Second))
				if _, err := c.Write(msg); err != nil {
					errs <- err
					return
				}
				got := make([]byte, len(msg))
				if _, err := io.ReadFull(c, got); err != nil || !bytes.Equal(got, msg) {
					errs <- errors.New("a client's echo differs")
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
	})
}

// TestResumeReadDelivers: input that came before PauseRead, left
// unconsumed, reaches OnData again after ResumeRead, with no new input.
func TestResumeReadDelivers(t *testing.T) {
	delivered := make(chan string, 4)
	h := &funcHandler{data: func(c *Conn) {
		notify(delivered, string(c.Peek(-1)))
		if c.Context() == nil {
			c.SetContext(true)
			c.PauseRead()
			c.Loop().AfterFunc(100*time.Millisecond, c.ResumeRead)
			return
		}
		c.Discard(-1)
	}}
	s := startServer(t, h, Options{Loops: 1}, "tcp", "127.0.0.1:0")
	c := dial(t, s)
	c.Write([]byte("hello"))
	if got := recv(t, delivered, 5*time.Second, "OnData"); got != "hello" {
		t.Fatalf("first OnData %q", got)
	}
	if got := recv(t, delivered, 5*time.Second, "OnData after ResumeRead"); got != "hello" {
		t.Fatalf("OnData after ResumeRead had %q, want the 5 bytes left", got)
	}
}

// TestDialResolvesOffTheLoop: a host name whose lookup hangs does not hold
// up the loop that dials: it serves its other connections meanwhile, and
// the Dial fails when its context ends.
func TestDialResolvesOffTheLoop(t *testing.T) {
	release := make(chan struct{})
	lookupIP = func(ctx context.Context, network, host string) ([]netip.Addr, error) {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-release:
			return []netip.Addr{netip.MustParseAddr("127.0.0.1")}, nil
		}
	}
	defer func() { lookupIP = defaultLookupIP }()
	dialed := make(chan error, 1)
	h := &funcHandler{data: func(c *Conn) {
		if string(c.Peek(-1)) == "dial" {
			c.Discard(-1)
			ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
			err := c.Loop().Server().DialAsync(ctx, "tcp", "hangs.invalid:9", nil, func(d *Conn, err error) {
				cancel()
				notify(dialed, err)
			})
			if err != nil {
				notify(dialed, err)
			}
			c.Write([]byte("dialing"))
			return
		}
		c.Write(c.Next(-1))
	}}
	s := startServer(t, h, Options{Loops: 1}, "tcp", "127.0.0.1:0")
	c := dial(t, s)
	roundTrip(t, c, []byte("hello"))
	c.Write([]byte("dial"))
	buf := make([]byte, len("dialing"))
	if _, err := io.ReadFull(c, buf); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	roundTrip(t, dial(t, s), []byte("served while the lookup hangs"))
	if took := time.Since(start); took > 200*time.Millisecond {
		t.Errorf("a round trip took %v while a lookup hung: the loop waited for it", took)
	}
	if err := recv(t, dialed, 5*time.Second, "the Dial's end"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("the Dial of a hanging lookup ended with %v, want context.DeadlineExceeded", err)
	}
	close(release)
}

// TestDialedAndAbort: Dialed tells a dialed connection from an accepted
// one; Abort ends a connection with a reset the peer sees.
func TestDialedAndAbort(t *testing.T) {
	dialed := make(chan bool, 2)
	h := &funcHandler{
		open: func(c *Conn) { notify(dialed, c.Dialed()) },
		data: func(c *Conn) { c.Write([]byte("then a reset")); c.Abort() },
	}
	s := startServer(t, h, Options{Loops: 1}, "tcp", "127.0.0.1:0")
	c := dial(t, s)
	if recv(t, dialed, 5*time.Second, "OnOpen") {
		t.Fatal("an accepted connection says it was dialed")
	}
	d, err := s.Dial(within(t, 5*time.Second), "tcp", s.Addrs()[0].String(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if !d.Dialed() {
		t.Fatal("a dialed connection says it was accepted")
	}
	recv(t, dialed, 5*time.Second, "OnOpen") // the server's side of it
	d.AsyncClose()
	if underWine {
		t.Skip("under Wine, SO_LINGER 0 sends a FIN, not a reset")
	}
	c.Write([]byte("x"))
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadAll(c); !errors.Is(err, errReset) {
		t.Fatalf("after Abort the client read %v, want ECONNRESET", err)
	}
}
