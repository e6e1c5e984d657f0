// Command wsnbio is lesismal/nbio's websocket (nbhttp/websocket) on its
// nbhttp engine in bench/internal/wspeer's protocol: connections read on
// nbio's poller, OnMessage echoing with WriteMessage, compression enabled
// (no context takeover: nbio's only mode), the payloads released to
// nbio's pool after OnMessage (ReleaseWebsocketPayload, as nbio's own
// examples and its default engine set it). POST /broadcast writes the
// message to each connection in turn (WriteMessage is safe from any
// goroutine). TLS: nbio's own (AddrsTLS, github.com/lesismal/llib's fork
// of crypto/tls), as bench/peers/nbhttp.
//
//	wsnbio [--tls-cert cert.pem --tls-key key.pem] 127.0.0.1:9001
package main

import (
	"fmt"
	"net/http"
	"os"

	"github.com/lesismal/llib/std/crypto/tls"
	"github.com/lesismal/nbio/logging"
	"github.com/lesismal/nbio/nbhttp"
	"github.com/lesismal/nbio/nbhttp/websocket"

	"github.com/iomux/iomux/bench/internal/wspeer"
	"github.com/iomux/iomux/bench/peers/internal/peerargs"
)

func main() {
	args := peerargs.Parse("wsnbio", false)
	logging.SetLevel(logging.LevelError)
	var conns wspeer.Conns[*websocket.Conn]
	up := websocket.NewUpgrader()
	up.EnableCompression(true)
	up.OnOpen(conns.Add)
	up.OnClose(func(c *websocket.Conn, _ error) { conns.Remove(c) })
	up.OnMessage(func(c *websocket.Conn, op websocket.MessageType, p []byte) { c.WriteMessage(op, p) })
	mux := wspeer.Mux(func(w http.ResponseWriter, r *http.Request) {
		up.Upgrade(w, r, nil) // it answers a refused request
	}, func(msg []byte) int {
		n := 0
		for _, c := range conns.All() {
			if c.WriteMessage(websocket.BinaryMessage, msg) == nil {
				n++
			}
		}
		return n
	})
	conf := nbhttp.Config{Network: "tcp", Handler: mux, ReleaseWebsocketPayload: true}
	if args.TLS() {
		cert, err := tls.LoadX509KeyPair(args.CertFile, args.KeyFile)
		if err != nil {
			fmt.Fprintln(os.Stderr, "wsnbio:", err)
			os.Exit(1)
		}
		conf.AddrsTLS = []string{args.Addr}
		conf.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}}
	} else {
		conf.Addrs = []string{args.Addr}
	}
	engine := nbhttp.NewEngine(conf)
	if err := engine.Start(); err != nil {
		fmt.Fprintln(os.Stderr, "wsnbio:", err)
		os.Exit(1)
	}
	select {}
}
