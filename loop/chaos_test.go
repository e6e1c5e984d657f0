package loop

import (
	"context"
	"io"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestChaos mixes every way a connection can live and die, with other
// goroutines writing to, waking and closing connections at random, then
// stops the server mid-traffic. Nothing may panic or leak (startServer's
// checks), every OnOpen gets exactly one OnClose, and the counters add up.
func TestChaos(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	forEachBackend(t, func(t *testing.T, backend string) {
		// The shared acceptor's hand-offs get their share of chaos too.
		opts := Options{Backend: backend}
		if backend != "epoll" {
			opts.Balance = RoundRobin
		}
		chaos(t, opts)
	})
}

func chaos(t *testing.T, opts Options) {
	var opens, closes atomic.Int64
	var live sync.Map // *Conn → struct{}
	h := &funcHandler{
		open: func(c *Conn) {
			opens.Add(1)
			live.Store(c, struct{}{})
			if c.Fd()%3 == 0 {
				c.SetReadTimeout(time.Second)
			}
		},
		close: func(c *Conn, err error) {
			if _, ok := live.LoadAndDelete(c); !ok {
				t.Errorf("OnClose for a connection not open (err %v)", err)
			}
			closes.Add(1)
		},
	}
	opts.Loops, opts.IdleTimeout, opts.HighWater = 2, 300*time.Millisecond, 64<<10
	s := startServer(t, h, opts, "tcp", "127.0.0.1:0")
	addr := s.Addrs()[0].String()

	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() { // meddles with random live connections from outside
		rng := rand.New(rand.NewPCG(1, 2))
		for {
			select {
			case <-stop:
				return
			case <-time.After(time.Millisecond):
			}
			live.Range(func(k, _ any) bool {
				c := k.(*Conn)
				switch rng.IntN(20) {
				case 0:
					c.AsyncClose()
				case 1:
					c.AsyncOnData()
				case 2, 3:
					c.AsyncWrite([]byte("unasked\n"))
				}
				return rng.IntN(4) != 0
			})
		}
	})
	client := func(rng *rand.Rand) {
		c, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			return
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(3 * time.Second))
		switch rng.IntN(6) {
		case 0: // a few echoes
			buf := make([]byte, 64)
			for range 10 {
				if _, err := c.Write([]byte("ping\n")); err != nil {
					return
				}
				if _, err := c.Read(buf); err != nil {
					return
				}
			}
		case 1: // floods without reading, then resets
			c.Write(payload(512 << 10))
			c.(*net.TCPConn).SetLinger(0)
		case 2: // sends, half-closes, reads to the end
			go c.Write(payload(100 << 10))
			c.(*net.TCPConn).CloseWrite()
			io.Copy(io.Discard, c)
		case 3: // idles until a timeout closes it
			io.Copy(io.Discard, c)
		case 4: // leaves at once
		case 5: // reads slowly
			buf := make([]byte, 100)
			c.Write(payload(300 << 10))
			for range 20 {
				if _, err := c.Read(buf); err != nil {
					return
				}
				time.Sleep(time.Millisecond)
			}
		}
	}
	var clients sync.WaitGroup
	for i := range 16 {
		clients.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(i), 7))
			for range 15 {
				client(rng)
			}
		})
	}
	// Stop while the last clients are still busy.
	time.Sleep(500 * time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	err := s.Stop(ctx)
	close(stop)
	wg.Wait()
	clients.Wait()
	t.Logf("Stop: %v; %d connections opened, %d closed", err, opens.Load(), closes.Load())
	if err != nil && err != context.DeadlineExceeded {
		t.Fatalf("Stop: %v", err)
	}
	st := s.Stats()
	if st.Open != 0 || st.Congested != 0 || opens.Load() != closes.Load() || st.Total != opens.Load() {
		t.Fatalf("after Stop: %+v; OnOpen %d, OnClose %d", st, opens.Load(), closes.Load())
	}
	live.Range(func(k, _ any) bool {
		t.Errorf("connection %p never got OnClose", k)
		return true
	})
}
