// kvload measures what redis-benchmark cannot, against a Redis-protocol
// server (kv-server or redis-server) on loopback, for bench/kv:
//
//	blpop    BLPOP/LPUSH ping-pong between two clients: round trips/s
//	publish  PUBLISH to --subscribers subscribers (pipelined, a bounded
//	         number of messages in flight): messages delivered/s
//	multi    MULTI, 10 SETs, EXEC sent in one write by each of --clients
//	         clients: transactions/s
//
// Every reply is checked byte for byte (they are of fixed size), and any
// error or mismatch exits 1. With --server-pid it reads the server's CPU
// time from /proc and reports it per operation (per delivery for publish).
// It prints one tab-separated line: test, ops/s, server CPU µs/op.
package main

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/iomux/iomux/bench/internal/procstat"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:6380", "server `host:port`")
	test := flag.String("test", "blpop", "blpop, publish or multi")
	duration := flag.Duration("duration", 3*time.Second, "how long to measure")
	subscribers := flag.Int("subscribers", 1000, "subscribers, for publish")
	clients := flag.Int("clients", 50, "clients, for multi")
	pid := flag.Int("server-pid", 0, "the server's `pid`, for its CPU time (0: not measured)")
	flag.Parse()
	var run func(addr string, stop <-chan struct{}) (int64, error)
	switch *test {
	case "blpop":
		run = pingPong
	case "publish":
		run = func(addr string, stop <-chan struct{}) (int64, error) { return publish(addr, *subscribers, stop) }
	case "multi":
		run = func(addr string, stop <-chan struct{}) (int64, error) { return multi(addr, *clients, stop) }
	default:
		fail(fmt.Errorf("unknown test %q", *test))
	}
	stop := make(chan struct{})
	var cpu0 procstat.CPU
	start := time.Now()
	if *pid != 0 {
		var err error
		if cpu0, err = procstat.ReadCPU(*pid); err != nil {
			fail(err)
		}
	}
	time.AfterFunc(*duration, func() { close(stop) })
	n, err := run(*addr, stop)
	elapsed := time.Since(start)
	if err != nil {
		fail(err)
	}
	if n == 0 {
		fail(fmt.Errorf("%s: no operation completed", *test))
	}
	cpuPerOp := 0.0
	if *pid != 0 {
		cpu1, err := procstat.ReadCPU(*pid)
		if err != nil {
			fail(err)
		}
		u, s := cpu1.Sub(cpu0)
		cpuPerOp = float64((u + s).Microseconds()) / float64(n)
	}
	fmt.Printf("%s\t%.0f\t%.3f\n", *test, float64(n)/elapsed.Seconds(), cpuPerOp)
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "kvload:", err)
	os.Exit(1)
}

func command(args ...string) []byte {
	b := fmt.Appendf(nil, "*%d\r\n", len(args))
	for _, a := range args {
		b = fmt.Appendf(b, "$%d\r\n%s\r\n", len(a), a)
	}
	return b
}

// conn is a client connection whose replies are read as fixed byte strings.
type conn struct {
	c   net.Conn
	r   *bufio.Reader
	buf []byte
}

func dial(addr string) (*conn, error) {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return nil, err
	}
	return &conn{c: c, r: bufio.NewReaderSize(c, 64<<10)}, nil
}

// expect reads len(want) bytes and checks they are want.
func (c *conn) expect(want []byte) error {
	if cap(c.buf) < len(want) {
		c.buf = make([]byte, len(want))
	}
	c.c.SetReadDeadline(time.Now().Add(10 * time.Second))
	got := c.buf[:len(want)]
	if _, err := io.ReadFull(c.r, got); err != nil {
		return err
	}
	if !bytes.Equal(got, want) {
		return fmt.Errorf("reply %q, want %q", got, want)
	}
	return nil
}

func (c *conn) send(p []byte) error {
	_, err := c.c.Write(p)
	return err
}

// pingPong: client A waits in BLPOP ping, then pushes to pong; client B
// pushes to ping, then waits in BLPOP pong. One round trip is B's cycle.
func pingPong(addr string, stop <-chan struct{}) (int64, error) {
	a, err := dial(addr)
	if err != nil {
		return 0, err
	}
	defer a.c.Close()
	b, err := dial(addr)
	if err != nil {
		return 0, err
	}
	defer b.c.Close()
	if err := a.send(command("DEL", "ping", "pong")); err != nil {
		return 0, err
	}
	if _, err := a.r.ReadString('\n'); err != nil { // :n, the keys deleted
		return 0, err
	}
	blpop := func(key string) []byte { return command("BLPOP", key, "10") }
	popped := func(key string) []byte { return fmt.Appendf(nil, "*2\r\n$%d\r\n%s\r\n$1\r\nx\r\n", len(key), key) }
	pushed := []byte(":1\r\n")
	errs := make(chan error, 1)
	done := make(chan struct{})
	go func() { // A, until its connection is closed at the end
		var err error
		for err == nil {
			if err = a.send(blpop("ping")); err == nil {
				if err = a.expect(popped("ping")); err == nil {
					if err = a.send(command("LPUSH", "pong", "x")); err == nil {
						err = a.expect(pushed)
					}
				}
			}
		}
		select {
		case <-done:
			errs <- nil
		default:
			errs <- err
		}
	}()
	var n int64
	var loopErr error
	for loopErr == nil {
		select {
		case <-stop:
			close(done)
			a.c.Close()
			return n, <-errs
		case err := <-errs:
			return n, fmt.Errorf("client A: %v", err)
		default:
		}
		if loopErr = b.send(append(command("LPUSH", "ping", "x"), blpop("pong")...)); loopErr != nil {
			break
		}
		if loopErr = b.expect(pushed); loopErr != nil {
			break
		}
		if loopErr = b.expect(popped("pong")); loopErr != nil {
			break
		}
		n++
	}
	return n, loopErr
}

// publish: n subscribers on one channel, read by a goroutine each; the
// publisher keeps at most window messages ahead of the slowest total.
func publish(addr string, n int, stop <-chan struct{}) (int64, error) {
	const window, batch = 256, 16
	payload := strings.Repeat("p", 64)
	message := command("message", "bench", payload) // as a subscriber receives it: *3 $7 message ...
	var received atomic.Int64
	var wg sync.WaitGroup
	subs := make([]*conn, n)
	errs := make(chan error, n+1)
	for i := range subs {
		c, err := dial(addr)
		if err != nil {
			return 0, err
		}
		defer c.c.Close()
		subs[i] = c
		if err := c.send(command("SUBSCRIBE", "bench")); err != nil {
			return 0, err
		}
	}
	for _, c := range subs {
		if err := c.expect([]byte("*3\r\n$9\r\nsubscribe\r\n$5\r\nbench\r\n:1\r\n")); err != nil {
			return 0, err
		}
	}
	done := make(chan struct{})
	for _, c := range subs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				if err := c.expect(message); err != nil {
					select {
					case <-done:
					default:
						errs <- err
					}
					return
				}
				received.Add(1)
			}
		}()
	}
	pub, err := dial(addr)
	if err != nil {
		return 0, err
	}
	defer pub.c.Close()
	var cmds []byte
	for range batch {
		cmds = append(cmds, command("PUBLISH", "bench", payload)...)
	}
	reply := fmt.Appendf(nil, ":%d\r\n", n)
	var published int64
	var loopErr error
loop:
	for {
		select {
		case <-stop:
			break loop
		case err := <-errs:
			loopErr = fmt.Errorf("subscriber: %v", err)
			break loop
		default:
		}
		for received.Load() < (published-window)*int64(n) {
			time.Sleep(50 * time.Microsecond)
		}
		if loopErr = pub.send(cmds); loopErr != nil {
			break
		}
		for range batch {
			if loopErr = pub.expect(reply); loopErr != nil {
				break loop
			}
		}
		published += batch
	}
	// Wait for what was published to arrive, then count it all.
	deadline := time.Now().Add(10 * time.Second)
	for received.Load() < published*int64(n) && loopErr == nil && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	close(done)
	for _, c := range subs {
		c.c.Close()
	}
	wg.Wait()
	if loopErr == nil && received.Load() != published*int64(n) {
		loopErr = fmt.Errorf("%d messages delivered of %d", received.Load(), published*int64(n))
	}
	return received.Load(), loopErr
}

// multi: each client sends MULTI, SET x10, EXEC in one write and reads
// the replies: +OK, +QUEUED x10, then the ten +OK of EXEC.
func multi(addr string, clients int, stop <-chan struct{}) (int64, error) {
	var total atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	for i := range clients {
		c, err := dial(addr)
		if err != nil {
			return 0, err
		}
		defer c.c.Close()
		tx := command("MULTI")
		for k := range 10 {
			tx = append(tx, command("SET", fmt.Sprintf("tx:%d:%d", i, k), "value")...)
		}
		tx = append(tx, command("EXEC")...)
		want := []byte("+OK\r\n" + strings.Repeat("+QUEUED\r\n", 10) + "*10\r\n" + strings.Repeat("+OK\r\n", 10))
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				if err := c.send(tx); err != nil {
					errs <- err
					return
				}
				if err := c.expect(want); err != nil {
					errs <- err
					return
				}
				total.Add(1)
			}
		}()
	}
	wg.Wait()
	select {
	case err := <-errs:
		return total.Load(), err
	default:
	}
	return total.Load(), nil
}
