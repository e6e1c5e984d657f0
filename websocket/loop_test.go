package websocket_test

// The loop's WebSocket end to end, over loopback sockets: gorilla's and
// coder's clients against Upgrade on loophttp and against ServeLoop, and
// Dial against gorilla's and coder's servers, plain and TLS.

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	coder "github.com/coder/websocket"
	gorilla "github.com/gorilla/websocket"

	"github.com/iomux/iomux/internal/devcert"
	"github.com/iomux/iomux/loop"
	"github.com/iomux/iomux/loophttp"
	"github.com/iomux/iomux/websocket"
)

// echo answers each message with itself, text as text; it records how
// connections closed.
type echo struct {
	websocket.BaseHandler
	mu     sync.Mutex
	closes []closed
	onEnd  chan closed
}

type closed struct {
	code   websocket.CloseCode
	reason string
	err    error
}

func (e *echo) OnMessage(c *websocket.Conn, m websocket.Message) { c.WriteMessage(m.Opcode, m.Data) }

func (e *echo) OnClose(c *websocket.Conn, code websocket.CloseCode, reason string, err error) {
	e.mu.Lock()
	e.closes = append(e.closes, closed{code, reason, err})
	e.mu.Unlock()
	if e.onEnd != nil {
		e.onEnd <- closed{code, reason, err}
	}
}

// serveHTTP starts loophttp with Upgrade at /ws.
func serveHTTP(t testing.TB, h websocket.Handler, opts *websocket.Options, lo loop.Options, cfg *tls.Config) string {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("/ws", func(w http.ResponseWriter, r *http.Request) {
		websocket.Upgrade(w, r, h, opts)
	})
	s := &loophttp.Server{Handler: mux, Loop: lo}
	if s.Loop.Loops == 0 {
		s.Loop.Loops = 2
	}
	if err := s.Start("tcp", "127.0.0.1:0", cfg); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s.Addrs()[0].String()
}

// serveLoop starts a plain loop server with ServeLoop.
func serveLoop(t testing.TB, h websocket.Handler, opts *websocket.Options, lo loop.Options) (string, *loop.Server) {
	t.Helper()
	if lo.Loops == 0 {
		lo.Loops = 2
	}
	s := loop.NewServer(websocket.ServeLoop(h, opts), lo)
	if err := s.Listen("tcp", "127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		s.Stop(ctx)
	})
	return s.Addrs()[0].String(), s
}

func messages() []websocket.Message {
	rng := rand.New(rand.NewPCG(3, 4))
	random := make([]byte, 70000)
	for i := range random {
		random[i] = byte(rng.Uint32())
	}
	return []websocket.Message{
		{Opcode: websocket.OpText, Data: []byte("hello")},
		{Opcode: websocket.OpText, Data: []byte{}},
		{Opcode: websocket.OpBinary, Data: random},
		{Opcode: websocket.OpText, Data: []byte(strings.Repeat("κόσμε, world. ", 15000))},
		{Opcode: websocket.OpBinary, Data: random[:300]},
	}
}

// servers are the ways this package serves: Upgrade on loophttp, and
// ServeLoop on a plain loop server.
func servers(t *testing.T, h websocket.Handler, opts *websocket.Options) map[string]string {
	loopAddr, _ := serveLoop(t, h, opts, loop.Options{})
	return map[string]string{
		"loophttp":  "ws://" + serveHTTP(t, h, opts, loop.Options{}, nil) + "/ws",
		"serveloop": "ws://" + loopAddr + "/ws",
	}
}

func TestGorillaClient(t *testing.T) {
	for _, compress := range []bool{false, true} {
		e := &echo{}
		for name, url := range servers(t, e, &websocket.Options{Compression: compress, CompressMin: -1}) {
			t.Run(fmt.Sprintf("%s/compress=%v", name, compress), func(t *testing.T) {
				d := gorilla.Dialer{EnableCompression: compress, WriteBufferSize: 256}
				c, resp, err := d.Dial(url, nil)
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
				if got := resp.Header.Get("Sec-WebSocket-Extensions") != ""; got != compress {
					t.Fatalf("extension agreed: %v", got)
				}
				c.SetReadDeadline(time.Now().Add(10 * time.Second))
				c.EnableWriteCompression(compress)
				for _, m := range messages() {
					if err := c.WriteMessage(int(m.Opcode), m.Data); err != nil {
						t.Fatal(err)
					}
					op, data, err := c.ReadMessage()
					if err != nil || op != int(m.Opcode) || !bytes.Equal(data, m.Data) {
						t.Fatalf("echo: %v %d (%d bytes), want %d (%d bytes)", err, op, len(data), m.Opcode, len(m.Data))
					}
				}
				// Gorilla sends a frame per filled write buffer (256
				// bytes here): a longer message arrives fragmented.
				long := strings.Repeat("fragmented ", 100)
				c.WriteMessage(gorilla.TextMessage, []byte(long))
				if _, data, err := c.ReadMessage(); err != nil || string(data) != long {
					t.Fatalf("fragmented echo: %v", err)
				}
				pong := make(chan string, 1)
				c.SetPongHandler(func(s string) error { pong <- s; return nil })
				c.WriteControl(gorilla.PingMessage, []byte("are you there"), time.Now().Add(time.Second))
				c.WriteMessage(gorilla.TextMessage, []byte("after the ping"))
				if _, data, err := c.ReadMessage(); err != nil || string(data) != "after the ping" || <-pong != "are you there" {
					t.Fatalf("ping: %q %v", data, err)
				}
				c.WriteMessage(gorilla.CloseMessage, gorilla.FormatCloseMessage(4001, "bye"))
				if _, _, err := c.ReadMessage(); !gorilla.IsCloseError(err, 4001) {
					t.Fatalf("close: %v", err)
				}
			})
		}
	}
}

func TestCoderClient(t *testing.T) {
	e := &echo{}
	for name, url := range servers(t, e, &websocket.Options{Compression: true, CompressMin: -1}) {
		for _, mode := range []coder.CompressionMode{coder.CompressionDisabled, coder.CompressionNoContextTakeover, coder.CompressionContextTakeover} {
			t.Run(fmt.Sprintf("%s/%v", name, mode), func(t *testing.T) {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				c, _, err := coder.Dial(ctx, url, &coder.DialOptions{CompressionMode: mode, CompressionThreshold: 1})
				if err != nil {
					t.Fatal(err)
				}
				c.SetReadLimit(-1)
				for _, m := range messages() {
					if err := c.Write(ctx, coder.MessageType(m.Opcode), m.Data); err != nil {
						t.Fatal(err)
					}
					op, data, err := c.Read(ctx)
					if err != nil || int(op) != int(m.Opcode) || !bytes.Equal(data, m.Data) {
						t.Fatalf("echo: %v %d (%d bytes), want %d (%d bytes)", err, op, len(data), m.Opcode, len(m.Data))
					}
				}
				// coder's Ping waits for the pong, which only a reader sees.
				go c.Reader(ctx)
				if err := c.Ping(ctx); err != nil {
					t.Fatalf("ping: %v", err)
				}
				if err := c.Close(coder.StatusGoingAway, "bye"); err != nil {
					t.Fatalf("close: %v", err)
				}
			})
		}
	}
}

// client collects what a Dial'ed connection gets.
type client struct {
	websocket.BaseHandler
	got    chan websocket.Message
	closed chan closed
}

func newClient() *client {
	return &client{got: make(chan websocket.Message, 16), closed: make(chan closed, 1)}
}

func (c *client) OnMessage(_ *websocket.Conn, m websocket.Message) {
	m.Data = bytes.Clone(m.Data)
	c.got <- m
}

func (c *client) OnClose(_ *websocket.Conn, code websocket.CloseCode, reason string, err error) {
	c.closed <- closed{code, reason, err}
}

func (c *client) next(t *testing.T) websocket.Message {
	t.Helper()
	select {
	case m := <-c.got:
		return m
	case <-time.After(10 * time.Second):
		t.Fatal("no message")
	}
	return websocket.Message{}
}

// exchange sends each message from the loop (Post) and then async, and
// checks the echoes; then closes.
func exchange(t *testing.T, ws *websocket.Conn, cl *client) {
	t.Helper()
	for _, m := range messages() {
		ws.Loop().Post(func() { ws.WriteMessage(m.Opcode, m.Data) })
		if got := cl.next(t); got.Opcode != m.Opcode || !bytes.Equal(got.Data, m.Data) {
			t.Fatalf("echo: %s (%d bytes), want %s (%d bytes)", got.Opcode, len(got.Data), m.Opcode, len(m.Data))
		}
		if err := ws.AsyncWrite(m.Opcode, m.Data); err != nil {
			t.Fatal(err)
		}
		if got := cl.next(t); got.Opcode != m.Opcode || !bytes.Equal(got.Data, m.Data) {
			t.Fatalf("async echo: %s (%d bytes), want %s (%d bytes)", got.Opcode, len(got.Data), m.Opcode, len(m.Data))
		}
	}
	ws.AsyncClose(websocket.CloseNormal, "done")
	select {
	case c := <-cl.closed:
		if c.code != websocket.CloseNormal || c.err != nil {
			t.Fatalf("closed with %d %q %v", c.code, c.reason, c.err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no close")
	}
}

// clientServer is a loop Server for Dial.
func clientServer(t *testing.T) *loop.Server {
	s := loop.NewServer(websocket.ServeLoop(nil, nil), loop.Options{Loops: 1})
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Stop(context.Background()) })
	return s
}

func TestDial(t *testing.T) {
	gorillaEcho := func(compress bool) string {
		up := gorilla.Upgrader{EnableCompression: compress}
		s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			c, err := up.Upgrade(w, r, nil)
			if err != nil {
				return
			}
			defer c.Close()
			c.EnableWriteCompression(compress)
			for {
				op, data, err := c.ReadMessage()
				if err != nil {
					return
				}
				c.WriteMessage(op, data)
			}
		}))
		t.Cleanup(s.Close)
		return "ws" + strings.TrimPrefix(s.URL, "http")
	}
	coderEcho := func(mode coder.CompressionMode) string {
		s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			c, err := coder.Accept(w, r, &coder.AcceptOptions{CompressionMode: mode, CompressionThreshold: 1})
			if err != nil {
				return
			}
			c.SetReadLimit(-1)
			for {
				op, data, err := c.Read(r.Context())
				if err != nil {
					return
				}
				c.Write(r.Context(), op, data)
			}
		}))
		t.Cleanup(s.Close)
		return "ws" + strings.TrimPrefix(s.URL, "http")
	}
	cert, pool, err := devcert.Pair("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	ours := &echo{}
	tlsAddr := serveHTTP(t, ours, &websocket.Options{Compression: true}, loop.Options{}, &tls.Config{Certificates: []tls.Certificate{cert}})
	loopAddr, _ := serveLoop(t, ours, &websocket.Options{Compression: true}, loop.Options{})
	peers := []struct {
		name, url string
		compress  bool
	}{
		{"gorilla", gorillaEcho(false), false},
		{"gorilla-deflate", gorillaEcho(true), true},
		{"coder", coderEcho(coder.CompressionDisabled), false},
		{"coder-deflate-takeover", coderEcho(coder.CompressionContextTakeover), true},
		{"coder-deflate-no-takeover", coderEcho(coder.CompressionNoContextTakeover), true},
		{"ours-wss-loophttp", "wss://" + tlsAddr + "/ws", true},
		{"ours-serveloop", "ws://" + loopAddr + "/ws", true},
	}
	srv := clientServer(t)
	for _, p := range peers {
		t.Run(p.name, func(t *testing.T) {
			cl := newClient()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			opts := &websocket.Options{Compression: p.compress, TLSConfig: &tls.Config{RootCAs: pool}}
			ws, err := websocket.Dial(ctx, srv, p.url, cl, opts)
			if err != nil {
				t.Fatal(err)
			}
			if ws.Compressed() != p.compress {
				t.Fatalf("compressed: %v", ws.Compressed())
			}
			exchange(t, ws, cl)
		})
	}
}
