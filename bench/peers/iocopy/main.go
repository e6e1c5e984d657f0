// Command iocopy is the goroutine-per-connection TCP proxy on Go's net
// package, as most Go proxies are written: accept, dial the upstream, one
// io.Copy each way. It is what iomux proxy is measured against. Between
// two *net.TCPConn, io.Copy ends in TCPConn.ReadFrom, which on Linux
// moves the bytes with splice(2) through a pipe and never copies them
// into the process; each copy holds its pipe (two descriptors) for as
// long as it runs, so an idle pair costs six descriptors, not two (a copy
// that finds no descriptor for a pipe falls back to a 32 KiB buffer).
//
//	iocopy --upstream 127.0.0.1:7001 127.0.0.1:7000
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"time"
)

func main() {
	upstream := flag.String("upstream", "", "relay each client to this `host:port`")
	flag.Parse()
	if flag.NArg() != 1 || *upstream == "" {
		fmt.Fprintln(os.Stderr, "usage: iocopy --upstream HOST:PORT HOST:PORT")
		os.Exit(2)
	}
	ln, err := net.Listen("tcp", flag.Arg(0))
	if err != nil {
		fmt.Fprintln(os.Stderr, "iocopy:", err)
		os.Exit(1)
	}
	serve(ln, *upstream)
}

// serve relays each client ln accepts to a connection of its own to
// upstream, until ln is closed.
func serve(ln net.Listener, upstream string) {
	for {
		c, err := ln.Accept()
		if errors.Is(err, net.ErrClosed) {
			return
		}
		if err != nil {
			// Out of descriptors, most likely: a pause instead of a spin,
			// as net/http's Serve does.
			time.Sleep(5 * time.Millisecond)
			continue
		}
		go relay(c.(*net.TCPConn), upstream)
	}
}

// relay connects client to a new connection to upstream and copies each
// way until both ends have closed their side.
func relay(client *net.TCPConn, upstream string) {
	defer client.Close()
	c, err := net.Dial("tcp", upstream)
	if err != nil {
		return
	}
	up := c.(*net.TCPConn)
	defer up.Close()
	done := make(chan struct{})
	go func() {
		pipe(up, client)
		close(done)
	}()
	pipe(client, up)
	<-done
}

// pipe copies src to dst until src's end, which it passes on as a
// half-close of dst, so the other way keeps going (a client that has sent
// its last request still gets the answer). A failure either way closes
// both, which ends the other way's copy too: a pair must not wait for
// ever on a side that is gone.
func pipe(dst, src *net.TCPConn) {
	if _, err := io.Copy(dst, src); err != nil {
		dst.Close()
		src.Close()
		return
	}
	dst.CloseWrite()
}
