package loop_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"

	"github.com/iomux/iomux/loop"
)

// opened hands each new connection to the goroutine that feeds it.
type opened struct {
	loop.BaseHandler
	conns chan *loop.Conn
}

func (h opened) OnOpen(c *loop.Conn) { h.conns <- c }

// send writes p to c from any goroutine, waiting while the connection's
// backlog is full: AsyncWrite refuses, and AsyncWriteFunc with no bytes
// says when what is queued has been sent.
func send(c *loop.Conn, p []byte) error {
	for {
		err := c.AsyncWrite(p)
		if !errors.Is(err, loop.ErrQueueFull) {
			return err // nil, or ErrClosed
		}
		drained := make(chan error, 1)
		if err := c.AsyncWriteFunc(nil, func(_ *loop.Conn, err error) { drained <- err }); err != nil {
			return err
		}
		if err := <-drained; err != nil {
			return err
		}
	}
}

// ExampleConn_AsyncWriteFunc is a producer on another goroutine that
// writes faster than the client reads: it is held back at HighWater
// instead of queuing without bound, and nothing is lost.
func ExampleConn_AsyncWriteFunc() {
	h := opened{conns: make(chan *loop.Conn, 1)}
	s := loop.NewServer(h, loop.Options{Loops: 1, HighWater: 64 << 10})
	s.Listen("tcp", "127.0.0.1:0")
	if err := s.Start(); err != nil {
		fmt.Println(err)
		return
	}
	defer s.Stop(context.Background())
	client, err := net.Dial("tcp", s.Addrs()[0].String())
	if err != nil {
		fmt.Println(err)
		return
	}
	defer client.Close()

	c := <-h.conns
	go func() {
		for i := range 100_000 {
			if send(c, fmt.Appendf(nil, "line %d\n", i)) != nil {
				return
			}
		}
		c.AsyncClose()
	}()
	lines, in := 0, bufio.NewScanner(client)
	for in.Scan() {
		lines++
	}
	fmt.Println(lines, "lines, error:", in.Err())
	// Output: 100000 lines, error: <nil>
}
