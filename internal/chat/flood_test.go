package chat

// A room under a flood: the others are not kept waiting, and back-pressure
// holds the flooder, not a member who reads slowly.

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/iomux/iomux/internal/chat/chattest"
)

// reader reads a member's connection as fast as it comes, from a
// goroutine, and notes when each of its needles first arrives (a needle
// may span reads).
type reader struct {
	conn  net.Conn
	found map[string]*arrival
}

// arrival is when a needle first arrived: the reading goroutine sets at,
// once, then closes arrived. (Times kept in a channel, taken and put
// back, hung a test: a later match filled the channel in between.)
type arrival struct {
	arrived chan struct{}
	at      time.Time
}

func startReader(t *testing.T, c net.Conn, needles ...string) *reader {
	r := &reader{conn: c, found: map[string]*arrival{}}
	longest := 0
	for _, n := range needles {
		r.found[n] = &arrival{arrived: make(chan struct{})}
		longest = max(longest, len(n))
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 64<<10)
		var edge []byte // the end of the last read and the start of this one, where a needle may straddle them
		for {
			n, err := c.Read(buf)
			if n > 0 {
				now := time.Now()
				edge = append(edge, buf[:min(n, longest)]...)
				for needle, a := range r.found {
					if a.at.IsZero() && (bytes.Contains(buf[:n], []byte(needle)) || bytes.Contains(edge, []byte(needle))) {
						a.at = now
						close(a.arrived)
					}
				}
				edge = append(edge[:0], buf[max(0, n-longest):n]...)
			}
			if err != nil {
				return
			}
		}
	}()
	t.Cleanup(func() {
		c.Close()
		<-done
	})
	return r
}

// wait returns when needle first arrived, waiting for it; it fails the
// test if it does not arrive within testWait.
func (r *reader) wait(t *testing.T, needle string) time.Time {
	t.Helper()
	a := r.found[needle]
	select {
	case <-a.arrived:
		return a.at
	case <-time.After(testWait):
		t.Fatalf("%s: %q did not arrive", r.conn.LocalAddr(), needle)
	}
	return time.Time{}
}

// A member who sends a read's worth of short lines (64 KiB of 2-byte
// lines) does not freeze the room: the others get a turn's lines in one
// write each, not one write per line, so another member's message
// arrives at once. (The tutorial's way, one write per member and line,
// kept the probe waiting 7 to 9 s behind the flood with 53 members.)
func TestChatServerFloodDoesNotDelayOthers(t *testing.T) {
	const members = 53
	s := start(t, Config{})
	const probe = "] probe\n"
	flooder := startReader(t, dial(t, s.addr))
	prober := startReader(t, dial(t, s.addr), fmt.Sprintf("* %d in the room: ", members))
	var others []*reader
	for range members - 2 {
		others = append(others, startReader(t, dial(t, s.addr), probe))
	}
	all := fmt.Sprintf("* %d in the room: ", members)
	for deadline := time.Now().Add(testWait); ; { // until every member has joined
		io.WriteString(prober.conn, "/who\n")
		select {
		case <-prober.found[all].arrived:
		case <-time.After(20 * time.Millisecond):
			if time.Now().After(deadline) {
				t.Fatalf("the %d members did not all join", members)
			}
			continue
		}
		break
	}

	flood := []byte(strings.Repeat("x\n", 32<<10))
	if _, err := flooder.conn.Write(flood); err != nil {
		t.Fatal(err)
	}
	sent := time.Now()
	io.WriteString(prober.conn, "probe\n")
	var slowest time.Duration
	for _, o := range others {
		slowest = max(slowest, o.wait(t, probe).Sub(sent))
	}
	t.Logf("during a flood of 64 KiB of 2-byte lines, a probe reached all %d other members within %v", len(others), slowest.Round(time.Millisecond))
	if slowest > 2*time.Second { // about 10 ms here; the tutorial's way took 7 to 9 s
		t.Errorf("the probe took %v to reach every member during the flood", slowest)
	}
}

// pacedReader is io.Reader over c at most rate bytes a second on
// average: a member who reads steadily, but slower than a flood comes.
type pacedReader struct {
	c     net.Conn
	rate  float64
	start time.Time
	total int
}

func (p *pacedReader) Read(b []byte) (int, error) {
	if p.start.IsZero() {
		p.start = time.Now()
	}
	n, err := p.c.Read(b)
	p.total += n
	if ahead := time.Until(p.start.Add(time.Duration(float64(p.total) / p.rate * float64(time.Second)))); ahead > 0 {
		time.Sleep(ahead) // the reader's pace, not synchronisation
	}
	return n, err
}

// During another member's flood, a member who reads steadily but slower
// than the flood comes is not dropped: the flooder is held (not read)
// while the reader's queue is full, and the reader gets every line. (The
// tutorial's way dropped the reader as "not reading" once 256 KiB were
// queued for it, and never slowed the flooder.)
func TestChatServerHoldsTheFlooderNotASlowReader(t *testing.T) {
	s := start(t, Config{})
	rc := dialSmallWindow(t, s.addr) // what the reader has not read waits in the server
	rc.SetReadDeadline(time.Now().Add(testWait))
	const rate = 16 << 20 // bytes a second: 8 MiB take half a second
	reader := bufio.NewReaderSize(&pacedReader{c: rc, rate: rate}, 64<<10)
	if l, err := reader.ReadString('\n'); err != nil || !strings.HasPrefix(l, "* welcome") {
		t.Fatalf("first line %q, %v", l, err)
	}
	flooder := chattest.Join(t, s.addr)
	if l, err := reader.ReadString('\n'); err != nil || l != "* ["+flooder.Name+"] entered room\n" {
		t.Fatalf("got %q, %v; want the flooder's entry", l, err)
	}

	const lines = 2048 // of 4 KiB with the name: 8 MiB and more
	line := strings.Repeat("f", 4000) + "\n"
	go func() {
		flooder.Conn.SetWriteDeadline(time.Now().Add(testWait))
		for range lines {
			if _, err := io.WriteString(flooder.Conn, line); err != nil {
				return // the test failed, or is over
			}
		}
	}()
	start := time.Now()
	want := "[" + flooder.Name + "] " + line
	for i := range lines {
		got, err := reader.ReadString('\n')
		if err != nil {
			t.Fatalf("the reader's line %d: %v (dropped?)", i, err)
		}
		if got != want {
			t.Fatalf("the reader's line %d is %.60q, want the flood's", i, got)
		}
	}
	t.Logf("a member reading at %d MiB/s got all %d lines of a %.1f MiB flood in %v",
		rate>>20, lines, float64(lines*len(want))/(1<<20), time.Since(start).Round(time.Millisecond))
}
