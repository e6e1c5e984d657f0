package chat

// A room of thousands: a join storm keeps the room responsive (notices.go).

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/iomux/iomux/internal/chat/chattest"
	"github.com/iomux/iomux/internal/iomuxtest"
)

// stormMembers is how many connections join at once in TestJoinStorm.
const stormMembers = 2500

// TestJoinStorm: after 2,500 connections join at once, a new member is
// welcomed within a second, the storm is told as one line per batch of
// the room's notices ("* N members entered room"), and a line said then
// reaches a member of the storm within a second too.
func TestJoinStorm(t *testing.T) {
	if testing.Short() {
		t.Skip("2,500 connections")
	}
	// Wine's sockets take tens of seconds for 2,500 connections (the
	// welcome took 29 s there); the room's batching is the same code.
	iomuxtest.SkipUnderWine(t, "2,500 connections through Wine's sockets are too slow for the 1 s bound")
	s := start(t, Config{})
	first := chattest.Join(t, s.addr)
	conns := joinStorm(t, s.addr, stormMembers)

	began := time.Now()
	m := chattest.Join(t, s.addr)
	welcomed := time.Since(began)
	t.Logf("welcome after %d joins: %v", stormMembers, welcomed)
	if welcomed > time.Second {
		t.Errorf("welcome after %d joins took %v, want at most 1s", stormMembers, welcomed)
	}

	// The first member hears of the storm in a few lines, not 2,500.
	countNotices(t, first, stormMembers, "] entered room", " members entered room (/who lists them)")

	// A line of the new member reaches a member of the storm within a
	// second.
	last := bufio.NewReader(conns[len(conns)-1])
	began = time.Now()
	m.Say(t, "hello storm\n")
	conns[len(conns)-1].SetReadDeadline(time.Now().Add(testWait))
	for {
		line, err := last.ReadString('\n')
		if err != nil {
			t.Fatalf("a member of the storm: %v", err)
		}
		if strings.Contains(line, "] hello storm") {
			break
		}
	}
	if took := time.Since(began); took > time.Second {
		t.Errorf("a line took %v to reach a member of the storm, want at most 1s", took)
	}
	first.WaitLine(t, "] hello storm")

	// The storm leaves: told in a few lines too.
	for _, c := range conns {
		c.Close()
	}
	countNotices(t, first, stormMembers, "] is offline", " members left")
}

// countNotices takes m's lines until they told of n joins (or leaves),
// one by one (a line ending in one) or counted (ending in many), and
// fails the test if that took more than a line for ten of them.
func countNotices(t *testing.T, m *chattest.Member, n int, one, many string) {
	t.Helper()
	lines := 0
	for told := 0; told < n; {
		line := m.Lines.Next(t)
		lines++
		switch {
		case strings.HasSuffix(line, one):
			told++
		case strings.HasSuffix(line, many):
			var k int
			if _, err := fmt.Sscanf(line, "* %d members", &k); err != nil {
				t.Fatalf("%q: %v", line, err)
			}
			told += k
		default:
			t.Fatalf("%q, want a notice ending in %q or %q", line, one, many)
		}
	}
	t.Logf("told of %d in %d lines", n, lines)
	if lines > n/10 {
		t.Errorf("%d lines told of %d: want them gathered", lines, n)
	}
}

// joinStorm connects n members to addr at once (100 dials at a time) and
// returns their connections, which are closed at cleanup. All but the
// last read everything and drop it, from a goroutine each.
func joinStorm(t testing.TB, addr string, n int) []net.Conn {
	t.Helper()
	conns := make([]net.Conn, n)
	errs := make(chan error, n)
	gate := make(chan struct{}, 100)
	var wg sync.WaitGroup
	for i := range conns {
		wg.Go(func() {
			gate <- struct{}{}
			defer func() { <-gate }()
			c, err := net.DialTimeout("tcp", addr, testWait)
			if err != nil {
				errs <- err
				return
			}
			conns[i] = c
			if i < n-1 {
				go io.Copy(io.Discard, c)
			}
		})
	}
	wg.Wait()
	t.Cleanup(func() {
		for _, c := range conns {
			if c != nil {
				c.Close()
			}
		}
	})
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	return conns
}

// TestBroadcastMeasure measures a line's way to every member of a room of
// $IOMUX_CHAT_BROADCAST members (raw TCP). The room runs in this process
// (the server's descriptors and the members' count against one limit, so
// 9,000 where it is 20,000), or is the chat-server at $IOMUX_CHAT_ADDR.
// It is a measurement, not run by default.
func TestBroadcastMeasure(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("IOMUX_CHAT_BROADCAST"))
	if n <= 0 {
		t.Skip("set IOMUX_CHAT_BROADCAST=9000 to measure")
	}
	addr := os.Getenv("IOMUX_CHAT_ADDR")
	if addr == "" {
		addr = start(t, Config{}).addr
	}
	conns := make([]net.Conn, n)
	for i := range conns {
		c, err := net.DialTimeout("tcp", addr, testWait)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		conns[i] = c
	}
	var left atomic.Int64
	left.Store(int64(n))
	all := make(chan time.Time, 1)
	for _, c := range conns {
		go func() {
			sc := bufio.NewScanner(c)
			for sc.Scan() {
				if strings.HasSuffix(sc.Text(), "] the broadcast") {
					if left.Add(-1) == 0 {
						all <- time.Now()
					}
				}
			}
		}()
	}
	m := chattest.Join(t, addr)
	m.Say(t, "/who\n") // the answer comes once every join before it was handled
	m.WaitLine(t, fmt.Sprintf("* %d in the room", n+1))
	time.Sleep(time.Second) // the last batch of notices is out
	for round := range 3 {
		left.Store(int64(n))
		began := time.Now()
		m.Say(t, "the broadcast\n")
		select {
		case at := <-all:
			t.Logf("round %d: a line reached all %d members in %v", round, n, at.Sub(began))
		case <-time.After(testWait):
			t.Fatalf("%d of %d members still wait for the line", left.Load(), n)
		}
	}
}
