// Command wsgws is lxzan/gws on net/http.Server in bench/peers/wspeer's
// protocol: a goroutine per connection in ReadLoop (started as gws's
// README does, the handler returning), OnMessage echoing with
// WriteMessage, PermessageDeflate enabled (its default: no context
// takeover) and its defaults otherwise. POST /broadcast is gws's
// Broadcaster: the frame made once, queued on each connection's write
// queue.
//
//	wsgws [--tls-cert cert.pem --tls-key key.pem] 127.0.0.1:9001
package main

import (
	"fmt"
	"net/http"
	"os"

	"github.com/lxzan/gws"

	"github.com/iomux/iomux/bench/internal/wspeer"
	"github.com/iomux/iomux/bench/peers/internal/peerargs"
)

// echo answers each message with itself and keeps the set of open
// connections for /broadcast.
type echo struct {
	gws.BuiltinEventHandler
	conns *wspeer.Conns[*gws.Conn]
}

func (e echo) OnOpen(c *gws.Conn) { e.conns.Add(c) }

func (e echo) OnClose(c *gws.Conn, _ error) { e.conns.Remove(c) }

func (e echo) OnMessage(c *gws.Conn, m *gws.Message) {
	c.WriteMessage(m.Opcode, m.Bytes())
	m.Close()
}

func main() {
	args := peerargs.Parse("wsgws", false)
	h := echo{conns: &wspeer.Conns[*gws.Conn]{}}
	up := gws.NewUpgrader(h, &gws.ServerOption{PermessageDeflate: gws.PermessageDeflate{Enabled: true}})
	mux := wspeer.Mux(func(w http.ResponseWriter, r *http.Request) {
		c, err := up.Upgrade(w, r)
		if err != nil {
			return // Upgrade answered
		}
		// On a goroutine of its own, as gws's README advises: net/http's
		// request state is freed once the handler returns.
		go c.ReadLoop()
	}, func(msg []byte) int {
		b := gws.NewBroadcaster(gws.OpcodeBinary, msg)
		defer b.Close()
		n := 0
		for _, c := range h.conns.All() {
			if b.Broadcast(c) == nil {
				n++
			}
		}
		return n
	})
	err := wspeer.Serve(args.Addr, args.CertFile, args.KeyFile, mux)
	fmt.Fprintln(os.Stderr, "wsgws:", err)
	os.Exit(1)
}
