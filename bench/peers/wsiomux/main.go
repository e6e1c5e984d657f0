// Command wsiomux is iomux's websocket package in bench/peers/wspeer's
// protocol: Upgrade from a loophttp handler at /ws (the way a net/http
// program moves to the loop, as the other peers upgrade from their HTTP
// servers), the echo on the loop with no goroutine per connection, and
// POST /broadcast through websocket.Broadcast: one Prepared frame, the
// same bytes queued on every connection. /ws runs on the loop
// (loophttp.Server.NonBlocking: Upgrade never blocks); /broadcast, which
// reads a body, on a worker. The websocket package's defaults otherwise
// (Options.Compression on: no compression context per connection).
//
//	wsiomux [--tls-cert cert.pem --tls-key key.pem] 127.0.0.1:9001
package main

import (
	"crypto/tls"
	"fmt"
	"net/http"
	"os"

	"github.com/iomux/iomux/bench/internal/wspeer"
	"github.com/iomux/iomux/bench/peers/internal/peerargs"
	"github.com/iomux/iomux/loophttp"
	"github.com/iomux/iomux/websocket"
)

// echo answers each message with itself and keeps the set of open
// connections for /broadcast.
type echo struct {
	conns *wspeer.Conns[*websocket.Conn]
}

func (e echo) OnOpen(c *websocket.Conn) { e.conns.Add(c) }

func (e echo) OnMessage(c *websocket.Conn, m websocket.Message) { c.WriteMessage(m.Opcode, m.Data) }

func (e echo) OnClose(c *websocket.Conn, _ websocket.CloseCode, _ string, _ error) {
	e.conns.Remove(c)
}

func main() {
	args := peerargs.Parse("wsiomux", false)
	h := echo{conns: &wspeer.Conns[*websocket.Conn]{}}
	opts := &websocket.Options{Compression: true}
	mux := wspeer.Mux(func(w http.ResponseWriter, r *http.Request) {
		websocket.Upgrade(w, r, h, opts)
	}, func(msg []byte) int {
		conns := h.conns.All()
		skipped := websocket.Broadcast(conns, websocket.Prepare(websocket.OpBinary, msg, opts.CompressionLevel))
		return len(conns) - skipped
	})
	srv := &loophttp.Server{
		Handler:     mux,
		NonBlocking: func(r *http.Request) bool { return r.URL.Path == "/ws" },
	}
	var config *tls.Config
	if args.TLS() {
		cert, err := tls.LoadX509KeyPair(args.CertFile, args.KeyFile)
		if err != nil {
			fmt.Fprintln(os.Stderr, "wsiomux:", err)
			os.Exit(1)
		}
		config = &tls.Config{Certificates: []tls.Certificate{cert}}
	}
	if err := srv.Start("tcp", args.Addr, config); err != nil {
		fmt.Fprintln(os.Stderr, "wsiomux:", err)
		os.Exit(1)
	}
	<-srv.Done()
}
