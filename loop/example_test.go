package loop_test

import (
	"context"
	"fmt"
	"io"
	"net"

	"github.com/iomux/iomux/loop"
)

// echo is the Python select tutorials' echo server as a Handler.
type echo struct{ loop.BaseHandler }

func (echo) OnData(c *loop.Conn) { c.Write(c.Next(-1)) }

func ExampleServer() {
	s := loop.NewServer(echo{}, loop.Options{Loops: 2})
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
	defer c.Close()
	c.Write([]byte("This is the message. "))
	reply := make([]byte, 21)
	io.ReadFull(c, reply)
	fmt.Printf("%s\n", reply)
	// Output: This is the message.
}
