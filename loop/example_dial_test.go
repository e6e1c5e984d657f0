package loop_test

import (
	"context"
	"fmt"
	"net"

	"github.com/iomux/iomux/loop"
)

// greeter is a client Handler: it prints each reply with the name the
// DialAsync callback gave its connection.
type greeter struct {
	loop.BaseHandler
	done chan struct{}
}

func (g greeter) OnData(c *loop.Conn) {
	fmt.Printf("%s got %q\n", c.Context(), c.Next(-1))
	c.Close()
}

func (g greeter) OnClose(c *loop.Conn, err error) { close(g.done) }

// ExampleServer_DialAsync is a client on the loop: a Server with no Listen
// address, dialing out. The callback runs before the first OnData, so the
// state it sets is there for the first reply.
func ExampleServer_DialAsync() {
	echo, err := net.Listen("tcp", "127.0.0.1:0") // the far end: an echo server
	if err != nil {
		fmt.Println(err)
		return
	}
	defer echo.Close()
	go func() {
		c, err := echo.Accept()
		if err == nil {
			buf := make([]byte, 64)
			n, _ := c.Read(buf)
			c.Write(buf[:n])
			c.Close()
		}
	}()

	g := greeter{done: make(chan struct{})}
	s := loop.NewServer(g, loop.Options{Loops: 1})
	if err := s.Start(); err != nil {
		fmt.Println(err)
		return
	}
	defer s.Stop(context.Background())
	err = s.DialAsync(context.Background(), "tcp", echo.Addr().String(), nil, func(c *loop.Conn, err error) {
		if err != nil {
			fmt.Println(err)
			close(g.done)
			return
		}
		c.SetContext("client 1")
		c.Write([]byte("hello"))
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	<-g.done
	// Output: client 1 got "hello"
}
