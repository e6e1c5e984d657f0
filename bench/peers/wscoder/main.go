// Command wscoder is coder/websocket (formerly nhooyr.io/websocket) on
// net/http.Server in bench/internal/wspeer's protocol: a goroutine per
// connection reading whole messages (Read) and echoing them (Write), with
// CompressionNoContextTakeover and its defaults otherwise. POST
// /broadcast writes the message to each connection in turn (Write is safe
// beside the echo's).
//
//	wscoder [--tls-cert cert.pem --tls-key key.pem] 127.0.0.1:9001
package main

import (
	"context"
	"fmt"
	"net/http"
	"os"

	"github.com/coder/websocket"

	"github.com/iomux/iomux/bench/internal/wspeer"
	"github.com/iomux/iomux/bench/peers/internal/peerargs"
)

func main() {
	args := peerargs.Parse("wscoder", false)
	var conns wspeer.Conns[*websocket.Conn]
	opts := &websocket.AcceptOptions{CompressionMode: websocket.CompressionNoContextTakeover}
	ctx := context.Background()
	mux := wspeer.Mux(func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, opts)
		if err != nil {
			return // Accept answered
		}
		conns.Add(c)
		defer func() {
			conns.Remove(c)
			c.CloseNow()
		}()
		for {
			op, p, err := c.Read(ctx)
			if err != nil || c.Write(ctx, op, p) != nil {
				return
			}
		}
	}, func(msg []byte) int {
		n := 0
		for _, c := range conns.All() {
			if c.Write(ctx, websocket.MessageBinary, msg) == nil {
				n++
			}
		}
		return n
	})
	err := wspeer.Serve(args.Addr, args.CertFile, args.KeyFile, mux)
	fmt.Fprintln(os.Stderr, "wscoder:", err)
	os.Exit(1)
}
