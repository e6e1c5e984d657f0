// Command gnet is the echo server of gnet v2 as gnet's own echo benchmark
// writes it: multicore, SO_REUSEPORT, OnTraffic takes everything with
// Next(-1) and writes it back.
//
//	gnet 127.0.0.1:7000
package main

import (
	"fmt"
	"os"

	"github.com/panjf2000/gnet/v2"
)

type echoServer struct{ gnet.BuiltinEventEngine }

func (*echoServer) OnTraffic(c gnet.Conn) gnet.Action {
	buf, _ := c.Next(-1)
	c.Write(buf)
	return gnet.None
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: gnet HOST:PORT")
		os.Exit(2)
	}
	err := gnet.Run(&echoServer{}, "tcp://"+os.Args[1], gnet.WithMulticore(true), gnet.WithReusePort(true))
	fmt.Fprintln(os.Stderr, "gnet:", err)
	os.Exit(1)
}
