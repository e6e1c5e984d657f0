// Command gonet is the goroutine-per-connection echo server on Go's net
// package: the baseline every Go event loop claims to beat. With
// --tls-cert and --tls-key it serves TLS with crypto/tls (tls.NewListener,
// the handshake on each connection's first Read), the same goroutine per
// connection, with a 16 KiB buffer: a tls.Conn Read returns at most one
// record's plaintext, 16 KiB.
//
//	gonet 127.0.0.1:7000
//	gonet --tls-cert cert.pem --tls-key key.pem 127.0.0.1:7000
package main

import (
	"crypto/tls"
	"fmt"
	"net"
	"os"

	"github.com/iomux/iomux/bench/peers/internal/peerargs"
)

func main() {
	args := peerargs.Parse("gonet", false)
	ln, err := net.Listen("tcp", args.Addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "gonet:", err)
		os.Exit(1)
	}
	bufSize := 64 << 10
	if args.TLS() {
		bufSize = 16 << 10
		cert, err := tls.LoadX509KeyPair(args.CertFile, args.KeyFile)
		if err != nil {
			fmt.Fprintln(os.Stderr, "gonet:", err)
			os.Exit(1)
		}
		ln = tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{cert}})
	}
	for {
		c, err := ln.Accept()
		if err != nil {
			continue
		}
		go echo(c, bufSize)
	}
}

// echo copies what arrives back, through one buffer per connection (what
// io.Copy would do, without its splice path for TCP-to-TCP).
func echo(c net.Conn, bufSize int) {
	defer c.Close()
	buf := make([]byte, bufSize)
	for {
		n, err := c.Read(buf)
		if n > 0 {
			if _, werr := c.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}
