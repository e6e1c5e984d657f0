// Command nbio-tls is lesismal/nbio's TLS echo server: nbio's own
// non-blocking TLS (github.com/lesismal/llib's fork of crypto/tls, which
// runs the handshake on the poller too), set up as nbio's extension/tls
// does, reading with a pooled 16 KiB buffer and freeing the connection's
// input buffer when it is drained, as nbio's HTTP engine does.
//
//	nbio-tls --tls-cert cert.pem --tls-key key.pem 127.0.0.1:7000
package main

import (
	"fmt"
	"os"

	"github.com/iomux/iomux/bench/peers/internal/peerargs"

	"github.com/lesismal/llib/std/crypto/tls"
	"github.com/lesismal/nbio"
	"github.com/lesismal/nbio/logging"
	"github.com/lesismal/nbio/mempool"
)

func main() {
	args := peerargs.Parse("nbio-tls", true)
	cert, err := tls.LoadX509KeyPair(args.CertFile, args.KeyFile)
	if err != nil {
		fmt.Fprintln(os.Stderr, "nbio-tls:", err)
		os.Exit(1)
	}
	config := &tls.Config{Certificates: []tls.Certificate{cert}}
	logging.SetLevel(logging.LevelError)
	engine := nbio.NewEngine(nbio.Config{Network: "tcp", Addrs: []string{args.Addr}})
	engine.OnOpen(func(c *nbio.Conn) {
		c.SetSession(tls.NewConn(c, config, false, true, mempool.DefaultMemPool))
	})
	engine.OnData(func(c *nbio.Conn, data []byte) {
		tc, ok := c.Session().(*tls.Conn)
		if !ok {
			c.Close()
			return
		}
		defer tc.ResetOrFreeBuffer()
		tc.Append(data)
		buf := mempool.Malloc(16 << 10)
		defer mempool.Free(buf)
		for {
			n, err := tc.Read(*buf)
			if err != nil {
				c.Close()
				return
			}
			if n == 0 {
				return
			}
			if _, err := tc.Write((*buf)[:n]); err != nil {
				c.Close()
				return
			}
		}
	})
	if err := engine.Start(); err != nil {
		fmt.Fprintln(os.Stderr, "nbio-tls:", err)
		os.Exit(1)
	}
	select {}
}
