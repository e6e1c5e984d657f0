package loop_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/iomux/iomux/loop"
)

// proxy relays each client to an upstream server, both ways: the recipe
// for a relay on the loop. The upstream connection is dialed on the
// client's loop, so the two are handled together, and each is the other's
// source, so a peer that reads slowly holds back the one that sends to it
// (and nothing else). Half-closes and resets go through.
type proxy struct {
	loop.BaseHandler
	upstream string
}

var _ loop.EOFHandler = (*proxy)(nil)

func peer(c *loop.Conn) *loop.Conn { p, _ := c.Context().(*loop.Conn); return p }

func (p *proxy) OnOpen(c *loop.Conn) {
	if c.Dialed() {
		return // an upstream end: paired in its DialAsync callback
	}
	c.PauseRead() // until the upstream is there: what comes meanwhile waits
	opts := &loop.DialOptions{Loop: c.Loop(), Timeout: 5 * time.Second}
	err := c.Loop().Server().DialAsync(context.Background(), "tcp", p.upstream, opts, func(u *loop.Conn, err error) {
		if err != nil || c.Closed() {
			c.Close()
			if u != nil {
				u.Close()
			}
			return
		}
		c.SetContext(u)
		u.SetContext(c)
		if !c.Splice(u) { // Linux: the loop moves the bytes itself, in the kernel
			c.SetSource(u) // u's input is written to c: while c is congested, u is not read
			u.SetSource(c)
		}
		c.ResumeRead() // and OnData for what came meanwhile
	})
	if err != nil {
		c.Close()
	}
}

func (p *proxy) OnData(c *loop.Conn) {
	if to := peer(c); to != nil {
		to.Write(c.Next(-1))
	}
}

// OnEOF passes a half-close on; once both halves are closed, so is the pair.
func (p *proxy) OnEOF(c *loop.Conn) {
	to := peer(c)
	if to == nil {
		c.Close()
		return
	}
	to.CloseWrite()
	if to.EOF() {
		c.Close()
		to.Close()
	}
}

// OnClose closes the other end: with a reset if this one was reset.
func (p *proxy) OnClose(c *loop.Conn, err error) {
	if to := peer(c); to != nil {
		if errors.Is(err, loop.ErrReset) {
			to.Abort()
		} else {
			to.Close()
		}
	}
}

// ExampleConn_SetSource runs the proxy in front of an echo server.
func ExampleConn_SetSource() {
	echo, err := net.Listen("tcp", "127.0.0.1:0") // the upstream
	if err != nil {
		fmt.Println(err)
		return
	}
	defer echo.Close()
	go func() {
		for {
			c, err := echo.Accept()
			if err != nil {
				return
			}
			go func() { io.Copy(c, c); c.Close() }()
		}
	}()

	s := loop.NewServer(&proxy{upstream: echo.Addr().String()}, loop.Options{Loops: 2})
	s.Listen("tcp", "127.0.0.1:0")
	if err := s.Start(); err != nil {
		fmt.Println(err)
		return
	}
	defer s.Stop(context.Background())

	c, err := net.Dial("tcp", s.Addrs()[0].String())
	if err != nil {
		fmt.Println(err)
		return
	}
	c.Write([]byte("hello through the proxy"))
	c.(*net.TCPConn).CloseWrite() // the half-close goes through too
	reply, err := io.ReadAll(c)
	fmt.Printf("%q %v\n", reply, err)
	c.Close()
	// Output: "hello through the proxy" <nil>
}
