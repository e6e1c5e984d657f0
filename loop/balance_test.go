package loop

import (
	"fmt"
	"github.com/iomux/iomux/internal/sock"
	"net"
	"testing"
	"time"
)

// loopRecorder reports, for each opened connection, the loop it landed on,
// keyed by the client's address.
type loopRecorder chan [2]string

func (r loopRecorder) handler() *funcHandler {
	return &funcHandler{open: func(c *Conn) {
		notify(r, [2]string{fmt.Sprint(c.RemoteAddr()), fmt.Sprint(c.Loop().Index())})
	}}
}

func (r loopRecorder) loopOf(t *testing.T, c net.Conn) string {
	t.Helper()
	ev := recv(t, (<-chan [2]string)(r), 5*time.Second, "OnOpen")
	if ev[0] != c.LocalAddr().String() {
		t.Fatalf("OnOpen for %s, want %s", ev[0], c.LocalAddr())
	}
	return ev[1]
}

func TestBalanceRoundRobin(t *testing.T) {
	const loops = 4
	rec := make(loopRecorder, 16)
	s := startServer(t, rec.handler(), Options{Loops: loops, Balance: RoundRobin}, "tcp", "127.0.0.1:0")
	count := map[string]int{}
	var order []string
	for range 3 * loops {
		c := dial(t, s)
		l := rec.loopOf(t, c)
		count[l]++
		order = append(order, l)
		roundTrip(t, c, []byte("hi"))
	}
	for i := range loops {
		if n := count[fmt.Sprint(i)]; n != 3 {
			t.Fatalf("loop %d got %d of %d connections (order %v)", i, n, 3*loops, order)
		}
	}
}

func TestBalanceLeastConnections(t *testing.T) {
	const loops = 4
	rec := make(loopRecorder, 64)
	s := startServer(t, rec.handler(), Options{Loops: loops, Balance: LeastConnections}, "tcp", "127.0.0.1:0")
	// One at a time: each goes to an empty loop.
	clients := map[string]net.Conn{}
	for range loops {
		c := dial(t, s)
		l := rec.loopOf(t, c)
		if clients[l] != nil {
			t.Fatalf("second connection on loop %s while another loop is empty", l)
		}
		clients[l] = c
	}
	// Free loop 2: the next connection goes there.
	clients["2"].Close()
	deadline := time.Now().Add(5 * time.Second)
	for s.Loops()[2].stats.Open.Load() != 0 {
		if time.Now().After(deadline) {
			t.Fatal("loop 2 did not see its client leave")
		}
		time.Sleep(time.Millisecond)
	}
	if l := rec.loopOf(t, dial(t, s)); l != "2" {
		t.Fatalf("new connection went to loop %s, want the emptier loop 2", l)
	}
	// A burst, accepted in as few wake-ups as the kernel allows, still
	// spreads: no loop may end up with more than its share plus slack.
	const burst = 40
	for range burst {
		c, err := net.Dial("tcp", s.Addrs()[0].String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
	}
	count := map[string]int{}
	for range burst {
		count[recv(t, (<-chan [2]string)(rec), 5*time.Second, "OnOpen")[1]]++
	}
	for i := range loops {
		if n := count[fmt.Sprint(i)]; n > burst/loops+2 {
			t.Fatalf("burst of %d: loop %d got %d (%v)", burst, i, n, count)
		}
	}
}

// TestReusePortSpreads: with one SO_REUSEPORT listener per loop (the Linux
// default), the kernel spreads connections over the loops.
func TestReusePortSpreads(t *testing.T) {
	if !sock.ReusePortBalances {
		t.Skip("no load-balancing SO_REUSEPORT on this OS")
	}
	const loops = 2
	rec := make(loopRecorder, 64)
	s := startServer(t, rec.handler(), Options{Loops: loops}, "tcp", "127.0.0.1:0")
	count := map[string]int{}
	for range 40 {
		count[rec.loopOf(t, dial(t, s))]++
	}
	if len(count) != loops {
		t.Fatalf("40 connections landed on loops %v, want all %d", count, loops)
	}
}
