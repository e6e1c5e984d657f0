package idleconns

import (
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestMeasure: connections opened and held, the one that could not be
// opened reported, the server's memory read; then one the server closed
// reported by CheckOpen.
func TestMeasure(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var mu sync.Mutex
	var held []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			held = append(held, c)
			mu.Unlock()
		}
	}()
	defer func() {
		mu.Lock()
		Close(held)
		mu.Unlock()
	}()
	const n = 50
	failed := map[int]string{}
	m := Measure(os.Getpid(), n, 50*time.Millisecond, func(i int) (net.Conn, error) {
		if i == 7 {
			return nil, net.ErrClosed
		}
		return net.Dial("tcp", ln.Addr().String())
	}, func(i int, err error) { failed[i] = err.Error() })
	defer Close(m.Conns)
	if m.Opened != n-1 || m.Conns[7] != nil || m.BeforeKiB <= 0 || m.AfterKiB <= 0 {
		t.Errorf("opened %d, conns[7] %v, RSS %d -> %d KiB", m.Opened, m.Conns[7], m.BeforeKiB, m.AfterKiB)
	}
	if len(failed) != 1 || !strings.Contains(failed[7], "closed") {
		t.Errorf("failures %v, want connection 7's alone", failed)
	}

	// A connection the server closes is reported.
	mu.Lock()
	held[0].Close()
	mu.Unlock()
	time.Sleep(20 * time.Millisecond)
	clear(failed)
	CheckOpen(m.Conns, func(i int, err error) { failed[i] = err.Error() })
	if len(failed) != 1 {
		t.Errorf("after the server closed one: failures %v, want one", failed)
	}
	for _, e := range failed {
		if !strings.Contains(e, "held idle: read 0 bytes, EOF") {
			t.Errorf("failure %q", e)
		}
	}
}
