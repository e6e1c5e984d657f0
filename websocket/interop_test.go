package websocket

// Interoperability with gorilla/websocket and coder/websocket, each as
// client and as server, over loopback TCP. The bridge here, a goroutine
// per connection driving MessageReader and FrameWriter on a net.Conn, is
// test scaffolding: the product drives them from the loop.

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	coder "github.com/coder/websocket"
	gorilla "github.com/gorilla/websocket"
)

// wsConn is one end of the bridge.
type wsConn struct {
	c   net.Conn
	br  *bufio.Reader
	r   MessageReader
	w   FrameWriter
	buf []byte
}

// next reads until a data message (answering pings) or a close.
func (c *wsConn) next() (Message, error) {
	var got *Message
	for {
		n, err := c.r.Read(c.buf, func(m Message) error {
			switch m.Opcode {
			case OpPing:
				_, err := c.c.Write(c.w.AppendFrame(nil, OpPong, true, m.Data))
				return err
			case OpPong:
				return nil
			}
			m.Data = bytes.Clone(m.Data)
			got = &m
			return errStop
		})
		c.buf = c.buf[n:]
		if got != nil {
			return *got, nil
		}
		if err != nil {
			return Message{}, err
		}
		p := make([]byte, 32<<10)
		k, err := c.br.Read(p)
		if k == 0 && err != nil {
			return Message{}, err
		}
		c.buf = append(c.buf, p[:k]...)
	}
}

var errStop = errors.New("stop")

// echo serves c until it closes: data echoed (text as text), close
// answered.
func (c *wsConn) echo() {
	defer c.c.Close()
	for {
		m, err := c.next()
		var ce *CloseError
		switch {
		case errors.As(err, &ce):
			c.c.Write(c.w.AppendClose(nil, ce.Code, ce.Reason))
			return
		case err != nil:
			return
		case m.Opcode == OpClose:
			code, _, _ := ParseClose(m.Data)
			c.c.Write(c.w.AppendClose(nil, code, ""))
			return
		}
		if _, err := c.c.Write(c.w.AppendMessage(nil, m.Opcode, m.Data)); err != nil {
			return
		}
	}
}

// ourServer is an echo server: net/http for the handshake, then the bridge.
func ourServer(t *testing.T, cfg *DeflateConfig) string {
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key, err := CheckRequest(r)
		if err != nil {
			http.Error(w, err.Error(), err.(*HandshakeError).Status)
			return
		}
		var ext string
		var d Deflate
		compress := false
		if cfg != nil {
			if d, compress = NegotiateDeflate(ParseDeflateOffers(r.Header), *cfg); compress {
				ext = d.Response.String()
			}
		}
		c, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		c.Write(AppendResponse(nil, key, "", ext))
		wc := &wsConn{c: c, br: brw.Reader}
		if compress {
			wc.r.Compression, wc.r.Inflater, wc.w.Deflater = true, d.ServerInflater(), d.ServerDeflater(0)
		}
		go wc.echo()
	}))
	t.Cleanup(s.Close)
	return strings.TrimPrefix(s.URL, "http://")
}

// ourDial is the client side of the bridge.
func ourDial(t *testing.T, addr string, compress bool) *wsConn {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(10 * time.Second))
	key := NewKey()
	req := "GET / HTTP/1.1\r\nHost: " + addr + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: " + key + "\r\nSec-WebSocket-Version: 13\r\n"
	if compress {
		req += "Sec-WebSocket-Extensions: " + ClientOffer + "\r\n"
	}
	c.Write([]byte(req + "\r\n"))
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, &http.Request{Method: "GET"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := CheckResponse(resp, key, nil); err != nil {
		t.Fatal(err)
	}
	wc := &wsConn{c: c, br: br}
	wc.r.Role, wc.w.Role = Client, Client
	d, ok, err := AcceptDeflateResponse(resp.Header)
	if err != nil {
		t.Fatal(err)
	}
	if ok != compress {
		t.Fatalf("compression agreed %v, want %v", ok, compress)
	}
	if ok {
		wc.r.Compression, wc.r.Inflater, wc.w.Deflater = true, d.ClientInflater(), d.ClientDeflater(0)
	}
	return wc
}

// interopMessages are what every pair exchanges: small and large, text
// and binary, compressible and not.
func interopMessages() []Message {
	rng := rand.New(rand.NewPCG(3, 4))
	random := make([]byte, 70000)
	for i := range random {
		random[i] = byte(rng.Uint32())
	}
	return []Message{
		{Opcode: OpText, Data: []byte("hello")},
		{Opcode: OpText, Data: []byte{}},
		{Opcode: OpBinary, Data: random},
		{Opcode: OpText, Data: []byte(strings.Repeat("κόσμε, world. ", 15000))},
		{Opcode: OpText, Data: []byte("hello")},
		{Opcode: OpBinary, Data: random[:300]},
	}
}

func TestInteropOurServer(t *testing.T) {
	for _, compress := range []bool{false, true} {
		addr := ourServer(t, &DeflateConfig{ClientContextTakeover: true})
		if !compress {
			addr = ourServer(t, nil)
		}
		t.Run(fmt.Sprintf("gorilla-client/compress=%v", compress), func(t *testing.T) {
			d := gorilla.Dialer{EnableCompression: compress, WriteBufferSize: 256}
			c, resp, err := d.Dial("ws://"+addr+"/", nil)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if got := resp.Header.Get("Sec-WebSocket-Extensions") != ""; got != compress {
				t.Fatalf("extension agreed: %v", got)
			}
			c.EnableWriteCompression(compress)
			c.SetReadLimit(-1)
			for _, m := range interopMessages() {
				if err := c.WriteMessage(int(m.Opcode), m.Data); err != nil {
					t.Fatal(err)
				}
				op, data, err := c.ReadMessage()
				if err != nil || op != int(m.Opcode) || !bytes.Equal(data, m.Data) {
					t.Fatalf("echo: %v %d (%d bytes), want %d (%d bytes)", err, op, len(data), m.Opcode, len(m.Data))
				}
			}
			// Gorilla sends a frame per filled write buffer (256
			// bytes here): every message past it arrives fragmented.
			long := strings.Repeat("fragmented ", 100)
			if err := c.WriteMessage(gorilla.TextMessage, []byte(long)); err != nil {
				t.Fatal(err)
			}
			if _, data, err := c.ReadMessage(); err != nil || string(data) != long {
				t.Fatalf("fragmented echo: %v", err)
			}
			c.WriteMessage(gorilla.CloseMessage, gorilla.FormatCloseMessage(gorilla.CloseNormalClosure, "bye"))
			if _, _, err := c.ReadMessage(); !gorilla.IsCloseError(err, gorilla.CloseNormalClosure) {
				t.Fatalf("close: %v", err)
			}
		})
		t.Run(fmt.Sprintf("coder-client/compress=%v", compress), func(t *testing.T) {
			modes := []coder.CompressionMode{coder.CompressionDisabled}
			if compress {
				modes = []coder.CompressionMode{coder.CompressionContextTakeover, coder.CompressionNoContextTakeover}
			}
			for _, mode := range modes {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				c, _, err := coder.Dial(ctx, "ws://"+addr+"/", &coder.DialOptions{CompressionMode: mode, CompressionThreshold: 1})
				if err != nil {
					t.Fatal(err)
				}
				c.SetReadLimit(-1)
				for _, m := range interopMessages() {
					if err := c.Write(ctx, coder.MessageType(m.Opcode), m.Data); err != nil {
						t.Fatal(err)
					}
					op, data, err := c.Read(ctx)
					if err != nil || int(op) != int(m.Opcode) || !bytes.Equal(data, m.Data) {
						t.Fatalf("mode %v echo: %v %d (%d bytes), want %d (%d bytes)", mode, err, op, len(data), m.Opcode, len(m.Data))
					}
				}
				if err := c.Close(coder.StatusNormalClosure, "bye"); err != nil {
					t.Fatalf("close: %v", err)
				}
			}
		})
	}
}

func TestInteropOurClient(t *testing.T) {
	gorillaEcho := func(compress bool) string {
		up := gorilla.Upgrader{EnableCompression: compress}
		s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			c, err := up.Upgrade(w, r, nil)
			if err != nil {
				return
			}
			defer c.Close()
			c.EnableWriteCompression(compress)
			c.SetReadLimit(-1)
			for {
				op, data, err := c.ReadMessage()
				if err != nil {
					return
				}
				c.WriteMessage(op, data)
			}
		}))
		t.Cleanup(s.Close)
		return strings.TrimPrefix(s.URL, "http://")
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
		return strings.TrimPrefix(s.URL, "http://")
	}
	servers := []struct {
		name     string
		addr     string
		compress bool
	}{
		{"gorilla", gorillaEcho(false), false},
		{"gorilla-deflate", gorillaEcho(true), true},
		{"coder", coderEcho(coder.CompressionDisabled), false},
		{"coder-deflate-takeover", coderEcho(coder.CompressionContextTakeover), true},
		{"coder-deflate-no-takeover", coderEcho(coder.CompressionNoContextTakeover), true},
	}
	for _, s := range servers {
		t.Run(s.name, func(t *testing.T) {
			c := ourDial(t, s.addr, s.compress)
			for _, m := range interopMessages() {
				c.c.Write(c.w.AppendMessage(nil, m.Opcode, m.Data))
				got, err := c.next()
				if err != nil || got.Opcode != m.Opcode || !bytes.Equal(got.Data, m.Data) {
					t.Fatalf("echo: %v %s (%d bytes), want %s (%d bytes)", err, got.Opcode, len(got.Data), m.Opcode, len(m.Data))
				}
			}
			// A fragmented message with a ping between its fragments.
			var wire []byte
			wire = c.w.AppendFrame(wire, OpText, false, []byte("frag"))
			wire = c.w.AppendFrame(wire, OpPing, true, []byte("p"))
			wire = c.w.AppendFrame(wire, OpContinuation, true, []byte("mented"))
			c.c.Write(wire)
			if got, err := c.next(); err != nil || string(got.Data) != "fragmented" {
				t.Fatalf("fragmented echo %q: %v", got.Data, err)
			}
			c.c.Write(c.w.AppendClose(nil, CloseNormal, "bye"))
			for {
				m, err := c.next()
				if err != nil && err != io.EOF {
					t.Fatalf("close: %v", err)
				}
				if err == io.EOF || m.Opcode == OpClose {
					break
				}
			}
		})
	}
}
