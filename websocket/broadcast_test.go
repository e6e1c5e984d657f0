package websocket_test

import (
	"bytes"
	"strings"
	"sync"
	"testing"
	"time"

	gorilla "github.com/gorilla/websocket"

	"github.com/iomux/iomux/loop"
	"github.com/iomux/iomux/websocket"
)

// hub keeps its connections for Broadcast.
type hub struct {
	websocket.BaseHandler
	mu    sync.Mutex
	conns []*websocket.Conn
	ready chan struct{}
}

func (h *hub) OnOpen(c *websocket.Conn) {
	h.mu.Lock()
	h.conns = append(h.conns, c)
	h.mu.Unlock()
	h.ready <- struct{}{}
}

// TestBroadcast: one Prepared message to connections on two loops, plain
// and compressed, from a goroutine of the test.
func TestBroadcast(t *testing.T) {
	h := &hub{ready: make(chan struct{}, 64)}
	addr := serveHTTP(t, h, &websocket.Options{Compression: true}, loop.Options{Loops: 2}, nil)
	var clients []*gorilla.Conn
	for i := range 20 {
		d := gorilla.Dialer{EnableCompression: i%2 == 0}
		c, _, err := d.Dial("ws://"+addr+"/ws", nil)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		clients = append(clients, c)
		<-h.ready
	}
	msg := strings.Repeat("news for everyone ", 100)
	h.mu.Lock()
	skipped := websocket.Broadcast(h.conns, websocket.Prepare(websocket.OpText, []byte(msg), 0))
	h.mu.Unlock()
	if skipped != 0 {
		t.Fatalf("skipped %d", skipped)
	}
	for _, c := range clients {
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		if op, data, err := c.ReadMessage(); err != nil || op != gorilla.TextMessage || string(data) != msg {
			t.Fatalf("%d %d bytes %v", op, len(data), err)
		}
	}
}

// pieces is a StreamHandler: it answers each message with the sizes of
// the pieces it came in.
type pieces struct {
	websocket.BaseHandler
	got []int
}

func (p *pieces) OnStream(c *websocket.Conn, m websocket.Message) {
	p.got = append(p.got, len(m.Data))
	if m.Fin {
		var b strings.Builder
		for _, n := range p.got {
			b.WriteString(strings.Repeat("x", n) + "|")
		}
		c.WriteText([]byte(b.String()))
		p.got = p.got[:0]
	}
}

func TestStreamHandler(t *testing.T) {
	addr := serveHTTP(t, &pieces{}, &websocket.Options{MaxMessage: 100}, loop.Options{Loops: 1}, nil)
	rc := dialRaw(t, addr, "")
	var wire []byte
	wire = rc.fw.AppendFrame(wire, websocket.OpText, false, []byte("xx"))
	wire = rc.fw.AppendFrame(wire, websocket.OpContinuation, false, []byte("xxx"))
	wire = rc.fw.AppendFrame(wire, websocket.OpContinuation, true, []byte("x"))
	rc.Write(wire)
	var r websocket.MessageReader
	r.Role = websocket.Client
	p := make([]byte, 1024)
	n, _ := rc.br.Read(p)
	var got []byte
	r.Read(p[:n], func(m websocket.Message) error { got = bytes.Clone(m.Data); return nil })
	if string(got) != "xx|xxx|x|" {
		t.Fatalf("%q", got)
	}
	// Streaming does not lift the message limit.
	rc.Write(rc.fw.AppendFrame(nil, websocket.OpBinary, false, make([]byte, 80)))
	rc.Write(rc.fw.AppendFrame(nil, websocket.OpContinuation, true, make([]byte, 80)))
	if code := rc.closeCode(t); code != websocket.CloseMessageTooBig {
		t.Fatalf("close %d", code)
	}
}
