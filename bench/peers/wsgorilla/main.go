// Command wsgorilla is gorilla/websocket on net/http.Server in
// bench/internal/wspeer's protocol: a goroutine per connection reading
// (ReadMessage) and echoing (WriteMessage), the Upgrader's defaults (the
// buffers net/http hijacked reused, 4 KiB each way) with EnableCompression
// (no context takeover: gorilla's only mode). POST /broadcast frames the
// message once (PreparedMessage) and writes it to each connection in turn,
// under the connection's write lock (gorilla allows one writer at a time,
// and the echo writes too).
//
//	wsgorilla [--tls-cert cert.pem --tls-key key.pem] 127.0.0.1:9001
package main

import (
	"fmt"
	"net/http"
	"os"
	"sync"

	"github.com/gorilla/websocket"

	"github.com/iomux/iomux/bench/internal/wspeer"
	"github.com/iomux/iomux/bench/peers/internal/peerargs"
)

// conn is a connection and the lock its writers take.
type conn struct {
	ws *websocket.Conn
	mu sync.Mutex
}

func (c *conn) write(op int, p []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ws.WriteMessage(op, p)
}

func main() {
	args := peerargs.Parse("wsgorilla", false)
	var conns wspeer.Conns[*conn]
	up := websocket.Upgrader{EnableCompression: true}
	mux := wspeer.Mux(func(w http.ResponseWriter, r *http.Request) {
		ws, err := up.Upgrade(w, r, nil)
		if err != nil {
			return // Upgrade answered
		}
		c := &conn{ws: ws}
		conns.Add(c)
		defer func() {
			conns.Remove(c)
			ws.Close()
		}()
		for {
			op, p, err := ws.ReadMessage()
			if err != nil || c.write(op, p) != nil {
				return
			}
		}
	}, func(msg []byte) int {
		pm, err := websocket.NewPreparedMessage(websocket.BinaryMessage, msg)
		if err != nil {
			return 0
		}
		n := 0
		for _, c := range conns.All() {
			c.mu.Lock()
			if c.ws.WritePreparedMessage(pm) == nil {
				n++
			}
			c.mu.Unlock()
		}
		return n
	})
	err := wspeer.Serve(args.Addr, args.CertFile, args.KeyFile, mux)
	fmt.Fprintln(os.Stderr, "wsgorilla:", err)
	os.Exit(1)
}
