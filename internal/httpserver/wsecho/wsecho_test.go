package wsecho

import (
	"net"
	"net/http"
	"testing"
	"time"

	gorilla "github.com/gorilla/websocket"

	"github.com/iomux/iomux/internal/httpserver"
	"github.com/iomux/iomux/internal/iomuxtest"
	"github.com/iomux/iomux/loophttp"
)

// TestWebSocket: /ws echoes on loophttp, and answers 501 under
// net/http.Server, which has no loop to hand the connection to.
func TestWebSocket(t *testing.T) {
	iomuxtest.CheckLeaks(t)
	h := httpserver.NewWithWebSocket("", Handler)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	std := &http.Server{Handler: h}
	go std.Serve(ln)
	defer std.Close()
	ours := &loophttp.Server{Handler: h}
	if err := ours.Start("tcp", "127.0.0.1:0", nil); err != nil {
		t.Fatal(err)
	}
	defer ours.Close()

	c, _, err := gorilla.DefaultDialer.Dial("ws://"+ours.Addrs()[0].String()+"/ws", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	for _, m := range []struct {
		op   int
		data string
	}{{gorilla.TextMessage, "héllo"}, {gorilla.BinaryMessage, "\x00\xff"}} {
		c.WriteMessage(m.op, []byte(m.data))
		if op, data, err := c.ReadMessage(); err != nil || op != m.op || string(data) != m.data {
			t.Fatalf("echo: %d %q %v", op, data, err)
		}
	}
	c.WriteMessage(gorilla.CloseMessage, gorilla.FormatCloseMessage(gorilla.CloseNormalClosure, ""))
	if _, _, err := c.ReadMessage(); !gorilla.IsCloseError(err, gorilla.CloseNormalClosure) {
		t.Fatalf("close: %v", err)
	}

	_, resp, err := gorilla.DefaultDialer.Dial("ws://"+ln.Addr().String()+"/ws", nil)
	if err == nil || resp == nil || resp.StatusCode != http.StatusNotImplemented {
		t.Fatalf("under net/http.Server: %v %v", resp, err)
	}
	resp.Body.Close()
}
