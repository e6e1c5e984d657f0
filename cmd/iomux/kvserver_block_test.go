package main

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/iomux/iomux/internal/iomuxtest"
)

// Clients blocked on one key, on two loops, are served in the order they
// blocked, whether the elements come one push at a time or in one push;
// a timeout is kept to within the timer's precision; a blocked client
// that disconnects is no longer counted.
func TestKVServerBlockedClientsInOrder(t *testing.T) {
	iomuxtest.CheckLeaks(t)
	s := srvStart(t, runKVServer, "--loops", "2")
	pusher := dialRESP(t, "tcp", s.addr)
	var waiters []*respConn
	for i := range 4 {
		c := dialRESP(t, "tcp", s.addr)
		waiters = append(waiters, c)
		c.send(encodeCommand("BLPOP", "other", "k", "0"))
		waitBlocked(t, pusher, i+1)
	}
	for i, v := range []string{"a", "b"} {
		if got := pusher.do("RPUSH", "k", v); got != ":1" {
			t.Fatalf("RPUSH: %s", got)
		}
		if got, want := waiters[i].reply(), fmt.Sprintf("[%q %q]", "k", v); got != want {
			t.Fatalf("waiter %d: %s, want %s", i, got, want)
		}
	}
	pusher.do("RPUSH", "k", "c", "d", "e")
	for i, v := range []string{"c", "d"} {
		if got, want := waiters[2+i].reply(), fmt.Sprintf("[%q %q]", "k", v); got != want {
			t.Fatalf("waiter %d: %s, want %s", 2+i, got, want)
		}
	}
	if got := pusher.do("LRANGE", "k", "0", "-1"); got != `["e"]` {
		t.Fatalf("left: %s", got)
	}
	waitBlocked(t, pusher, 0)

	start := time.Now()
	if got := waiters[0].do("BRPOPLPUSH", "none", "dst", "0.2"); got != "nilarray" {
		t.Fatalf("BRPOPLPUSH timed out: %s", got)
	}
	if d := time.Since(start); d < 200*time.Millisecond || d > 2*time.Second {
		t.Fatalf("a 0.2 s timeout took %v", d)
	}
	waiters[1].send(encodeCommand("BZPOPMIN", "z", "0"))
	waitBlocked(t, pusher, 1)
	waiters[1].conn.Close()
	waitBlocked(t, pusher, 0)
	if got := pusher.do("ZADD", "z", "1", "m"); got != ":1" {
		t.Fatalf("ZADD: %s", got)
	}
	if got := pusher.do("ZCARD", "z"); got != ":1" {
		t.Fatalf("the client gone took the member: ZCARD %s", got)
	}
}

// A subscriber that does not read is disconnected once its unread
// messages pass the loop's HighWater; the publisher is never held up, and
// the subscriber that reads gets every message.
func TestKVServerSlowSubscriberDropped(t *testing.T) {
	iomuxtest.CheckLeaks(t)
	s := srvStart(t, runKVServer, "--loops", "2")
	slow, fast, pub := dialRESP(t, "tcp", s.addr), dialRESP(t, "tcp", s.addr), dialRESP(t, "tcp", s.addr)
	for _, c := range []*respConn{slow, fast} {
		if got := c.do("SUBSCRIBE", "ch"); !strings.HasPrefix(got, `["subscribe" "ch" :1]`) {
			t.Fatalf("SUBSCRIBE: %s", got)
		}
	}
	msg := strings.Repeat("m", 64<<10)
	got := make(chan int, 1)
	go func() {
		n := 0
		for {
			fast.conn.SetReadDeadline(time.Now().Add(srvWait))
			r, err := readReply(fast.r)
			if err != nil || r == `["message" "ch" "end"]` {
				got <- n
				return
			}
			n++
		}
	}()
	sent, dropped := 0, false
	for sent < 1024 && !dropped { // at most 64 MiB
		r := pub.do("PUBLISH", "ch", msg)
		sent++
		dropped = r == ":1"
		if !dropped && r != ":2" {
			t.Fatalf("PUBLISH: %s", r)
		}
	}
	if !dropped {
		t.Fatalf("a subscriber that never reads was sent %d MiB and not dropped", sent/16)
	}
	t.Logf("dropped after %d messages of 64 KiB", sent)
	pub.do("PUBLISH", "ch", "end")
	if n := <-got; n != sent {
		t.Fatalf("the reading subscriber got %d messages of %d", n, sent)
	}
	if got := pub.do("PUBSUB", "NUMSUB", "ch"); got != `["ch" :1]` {
		t.Fatalf("NUMSUB: %s", got)
	}
}
