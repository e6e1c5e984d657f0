package websocket

import (
	"context"
	"io"
	"net"
	"testing"
	"time"

	"github.com/iomux/iomux/loop"
)

// TestTimeoutsGo: a loop's timeouts are kept while its connections wait
// and dropped with the last one, so a loop that ends keeps nothing.
func TestTimeoutsGo(t *testing.T) {
	srv := loop.NewServer(ServeLoop(BaseHandler{}, &Options{PingInterval: time.Hour, CloseTimeout: time.Minute}), loop.Options{Loops: 1})
	if err := srv.Listen("tcp", "127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	defer srv.Stop(context.Background())
	l := srv.Loops()[0]
	kept := func() (lists int, ok bool) {
		done := make(chan struct{})
		l.Post(func() {
			defer close(done)
			if v, found := loopTimeouts.Load(l); found {
				lists, ok = len(v.(*timeouts).lists), true
			}
		})
		<-done
		return lists, ok
	}
	var conns []net.Conn
	for range 3 {
		nc, err := net.Dial("tcp", srv.Addrs()[0].String())
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		io.WriteString(nc, "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n")
		buf := make([]byte, 129)
		if _, err := io.ReadAtLeast(nc, buf, 129); err != nil { // the 101's length
			t.Fatal(err)
		}
		conns = append(conns, nc)
	}
	if lists, ok := kept(); !ok || lists != 1 {
		t.Fatalf("3 open connections: %d lists (kept %v), want 1 (PingInterval's)", lists, ok)
	}
	for _, nc := range conns {
		nc.Close()
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		lists, ok := kept()
		if !ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("all closed: the loop's timeouts are still kept, %d lists", lists)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
