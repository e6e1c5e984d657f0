// Command netpoll is cloudwego/netpoll's echo server with one poller per
// GOMAXPROCS, so it uses the same cores as the other servers.
//
//	netpoll 127.0.0.1:7000
package main

import (
	"context"
	"fmt"
	"os"
	"runtime"

	"github.com/cloudwego/netpoll"
)

func echo(ctx context.Context, c netpoll.Connection) error {
	r, w := c.Reader(), c.Writer()
	defer r.Release()
	msg, err := r.Next(r.Len())
	if err != nil {
		return err
	}
	out, err := w.Malloc(len(msg))
	if err != nil {
		return err
	}
	copy(out, msg)
	return w.Flush()
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: netpoll HOST:PORT")
		os.Exit(2)
	}
	if err := netpoll.Configure(netpoll.Config{PollerNum: runtime.GOMAXPROCS(0)}); err != nil {
		fmt.Fprintln(os.Stderr, "netpoll:", err)
		os.Exit(1)
	}
	ln, err := netpoll.CreateListener("tcp", os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, "netpoll:", err)
		os.Exit(1)
	}
	loop, err := netpoll.NewEventLoop(echo)
	if err != nil {
		fmt.Fprintln(os.Stderr, "netpoll:", err)
		os.Exit(1)
	}
	err = loop.Serve(ln)
	fmt.Fprintln(os.Stderr, "netpoll:", err)
	os.Exit(1)
}
