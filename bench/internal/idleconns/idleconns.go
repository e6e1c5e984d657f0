// Package idleconns opens and holds the idle connections with which bench's
// load generators measure a server's memory per connection: the server's
// VmRSS before and after, the growth divided by the connections.
package idleconns

import (
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/iomux/iomux/bench/internal/procstat"
)

// Memory is what Measure found.
type Memory struct {
	Conns               []net.Conn // nil where open failed; the caller closes them
	Opened              int        // the connections open did open
	BeforeKiB, AfterKiB int64      // the server's VmRSS before and after (0 without a pid)
	KiBPerConn          float64    // the growth divided by the connections asked for
	Seconds             float64    // from the first open to the second VmRSS
}

// Measure reads the VmRSS of the server pid, opens n connections with
// open (as Open does), holds them for hold, reads VmRSS again, and then
// checks that the server closed none of them (CheckOpen). fail gets each
// connection that could not be opened or was closed, one call at a time.
func Measure(pid, n int, hold time.Duration, open func(i int) (net.Conn, error), fail func(i int, err error)) Memory {
	var m Memory
	if pid > 0 {
		m.BeforeKiB, _ = procstat.ReadRSS(pid)
	}
	start := time.Now()
	m.Conns = Open(n, open, fail)
	for _, c := range m.Conns {
		if c != nil {
			m.Opened++
		}
	}
	time.Sleep(hold)
	m.Seconds = time.Since(start).Seconds()
	if pid > 0 {
		m.AfterKiB, _ = procstat.ReadRSS(pid)
		m.KiBPerConn = float64(m.AfterKiB-m.BeforeKiB) / float64(n)
	}
	CheckOpen(m.Conns, fail)
	return m
}

// Dialers is how many connections Open opens (and handshakes) at once.
const Dialers = 32

// Open opens n connections with open, Dialers at a time: conns[i] is what
// open(i) returned, nil where it failed, and fail got its error.
func Open(n int, open func(i int) (net.Conn, error), fail func(i int, err error)) []net.Conn {
	conns := make([]net.Conn, n)
	var mu sync.Mutex
	next := make(chan int)
	var wg sync.WaitGroup
	for range Dialers {
		wg.Go(func() {
			for i := range next {
				c, err := open(i)
				if err != nil {
					mu.Lock()
					fail(i, err)
					mu.Unlock()
					continue
				}
				conns[i] = c
			}
		})
	}
	for i := range conns {
		next <- i
	}
	close(next)
	wg.Wait()
	return conns
}

// Close closes every connection of conns.
func Close(conns []net.Conn) {
	for _, c := range conns {
		if c != nil {
			c.Close()
		}
	}
}

// CheckOpen checks that the server closed none of conns while they were
// held: a read must time out, finding neither data nor EOF. fail gets the
// connections where one did not, one call at a time. A timed-out read
// leaves a net.Conn (and a tls.Conn) usable.
func CheckOpen(conns []net.Conn, fail func(i int, err error)) {
	var mu sync.Mutex
	var wg sync.WaitGroup
	deadline := time.Now().Add(200 * time.Millisecond)
	for i, c := range conns {
		if c == nil {
			continue
		}
		wg.Go(func() {
			c.SetReadDeadline(deadline)
			n, err := c.Read(make([]byte, 1))
			var ne net.Error
			if n == 0 && errors.As(err, &ne) && ne.Timeout() {
				c.SetReadDeadline(time.Time{})
				return
			}
			mu.Lock()
			fail(i, fmt.Errorf("held idle: read %d bytes, %v", n, err))
			mu.Unlock()
		})
	}
	wg.Wait()
}
