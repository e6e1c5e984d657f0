// Package wsecho is iomux http-server's /ws: a WebSocket echo on the loop.
// It is apart from package httpserver, whose handlers loophttp's and
// http1's tests run, because it imports websocket, which imports them.
package wsecho

import (
	"net/http"

	"github.com/iomux/iomux/websocket"
)

// wsOptions are /ws's: permessage-deflate accepted (no context kept per
// connection), the package's default limits (16 MiB a message) and
// keepalive (a ping after 30 s of silence).
var wsOptions = &websocket.Options{Compression: true}

// wsEcho answers each message with itself, text as text and binary as
// binary: what conformance suites (Autobahn's fuzzingclient) expect.
type wsEcho struct{ websocket.BaseHandler }

func (wsEcho) OnMessage(c *websocket.Conn, m websocket.Message) { c.WriteMessage(m.Opcode, m.Data) }

// Handler is /ws: a WebSocket echo served on the loop. Under a
// server that is not loophttp (net/http.Server, as the tests run it)
// there is no loop to hand the connection to, and a valid handshake is
// answered 501 Not Implemented; a request that is not a WebSocket
// handshake gets 400 (426 for another protocol version) under both.
func Handler(w http.ResponseWriter, r *http.Request) {
	websocket.Upgrade(w, r, wsEcho{}, wsOptions)
}
