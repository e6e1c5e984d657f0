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
	"net/http"

	"github.com/lesismal/nbio/nbhttp"
	"github.com/lesismal/nbio/nbhttp/websocket"

	"github.com/iomux/iomux/bench/internal/wspeer"
	"github.com/iomux/iomux/bench/peers/internal/nbserve"
	"github.com/iomux/iomux/bench/peers/internal/peerargs"
)

func main() {
	args := peerargs.Parse("wsnbio", false)
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
	nbserve.Run("wsnbio", args, nbhttp.Config{Handler: mux, ReleaseWebsocketPayload: true})
}
