package websocket_test

import (
	"encoding/binary"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/iomux/iomux/loop"
	"github.com/iomux/iomux/websocket"
)

// nextFrame reads the server's next frame (unmasked, as a server sends)
// within d; ok false when the connection ended or d passed.
func (rc *rawClient) nextFrame(t testing.TB, d time.Duration) (m websocket.Message, ok bool, err error) {
	t.Helper()
	rc.SetReadDeadline(time.Now().Add(d))
	var hdr [10]byte
	if _, err := io.ReadFull(rc.br, hdr[:2]); err != nil {
		return m, false, err
	}
	n := uint64(hdr[1] & 0x7f)
	switch n {
	case 126:
		if _, err := io.ReadFull(rc.br, hdr[2:4]); err != nil {
			return m, false, err
		}
		n = uint64(binary.BigEndian.Uint16(hdr[2:]))
	case 127:
		if _, err := io.ReadFull(rc.br, hdr[2:10]); err != nil {
			return m, false, err
		}
		n = binary.BigEndian.Uint64(hdr[2:])
	}
	if hdr[1]&0x80 != 0 || n > 1<<24 {
		t.Fatalf("a masked frame or one of %d bytes from the server", n)
	}
	data := make([]byte, n)
	if _, err := io.ReadFull(rc.br, data); err != nil {
		return m, false, err
	}
	return websocket.Message{Opcode: websocket.Opcode(hdr[0] & 0x0f), Data: data, Fin: hdr[0]&0x80 != 0}, true, nil
}

const keepaliveLate = time.Second // how late a loaded machine may be

// TestKeepalive: a silent peer gets a Ping after PingInterval; answering
// keeps it open, ping after ping; one that sends on its own gets none;
// one that stops answering is closed PongTimeout after the Ping, with
// ErrPongTimeout.
func TestKeepalive(t *testing.T) {
	const interval, pongWait = 300 * time.Millisecond, 200 * time.Millisecond
	opts := &websocket.Options{PingInterval: interval, PongTimeout: pongWait}
	for _, how := range []string{"loophttp", "serveloop"} {
		t.Run(how, func(t *testing.T) {
			e := &echo{onEnd: make(chan closed, 4)}
			var addr string
			if how == "loophttp" {
				addr = serveHTTP(t, e, opts, loop.Options{Loops: 1}, nil)
			} else {
				addr, _ = serveLoop(t, e, opts, loop.Options{Loops: 1})
			}
			rc := dialRaw(t, addr, "")
			last := time.Now()
			for i := range 3 {
				m, ok, err := rc.nextFrame(t, interval+keepaliveLate)
				if !ok || m.Opcode != websocket.OpPing {
					t.Fatalf("ping %d: %v %v %v", i, m.Opcode, ok, err)
				}
				if d := time.Since(last); d < interval-50*time.Millisecond {
					t.Fatalf("ping %d after %v of silence, before PingInterval %v", i, d, interval)
				}
				if _, err := rc.Write(rc.fw.AppendFrame(nil, websocket.OpPong, true, m.Data)); err != nil {
					t.Fatal(err)
				}
				last = time.Now()
			}
			// Talking every third of an interval: no ping comes.
			until := time.Now().Add(3 * interval)
			for time.Now().Before(until) {
				if _, err := rc.Write(rc.fw.AppendFrame(nil, websocket.OpText, true, []byte("hi"))); err != nil {
					t.Fatal(err)
				}
				m, ok, err := rc.nextFrame(t, keepaliveLate)
				if !ok || m.Opcode != websocket.OpText {
					t.Fatalf("while talking: %v %v %v", m.Opcode, ok, err)
				}
				time.Sleep(interval / 3)
			}
			// Silent, then not answering the ping: closed.
			m, ok, err := rc.nextFrame(t, 2*interval+keepaliveLate)
			if !ok || m.Opcode != websocket.OpPing {
				t.Fatalf("last ping: %v %v %v", m.Opcode, ok, err)
			}
			pinged := time.Now()
			if _, ok, err := rc.nextFrame(t, pongWait+keepaliveLate); ok || err != io.EOF {
				t.Fatalf("after the unanswered ping: frame %v, %v; want the TCP close", ok, err)
			}
			if d := time.Since(pinged); d < pongWait-50*time.Millisecond {
				t.Fatalf("closed %v after the ping, before PongTimeout %v", d, pongWait)
			}
			select {
			case got := <-e.onEnd:
				if got.code != websocket.CloseAbnormal || !errors.Is(got.err, websocket.ErrPongTimeout) {
					t.Fatalf("OnClose %v %v, want 1006 ErrPongTimeout", got.code, got.err)
				}
			case <-time.After(keepaliveLate):
				t.Fatal("no OnClose")
			}
		})
	}
}

// closer closes each connection at its first message.
type closer struct{ echo }

func (h *closer) OnMessage(c *websocket.Conn, m websocket.Message) {
	c.Close(websocket.CloseNormal, "bye")
}

// TestCloseTimeout: a peer that does not answer this side's Close frame is
// closed CloseTimeout after it, with ErrCloseTimeout; one that answers is
// closed at once, with its code.
func TestCloseTimeout(t *testing.T) {
	const wait = 300 * time.Millisecond
	h := &closer{echo{onEnd: make(chan closed, 4)}}
	addr := serveHTTP(t, h, &websocket.Options{CloseTimeout: wait}, loop.Options{Loops: 1}, nil)
	for _, answer := range []bool{false, true} {
		rc := dialRaw(t, addr, "")
		if _, err := rc.Write(rc.fw.AppendFrame(nil, websocket.OpText, true, []byte("close me"))); err != nil {
			t.Fatal(err)
		}
		m, ok, err := rc.nextFrame(t, keepaliveLate)
		if !ok || m.Opcode != websocket.OpClose {
			t.Fatalf("want the Close frame: %v %v %v", m.Opcode, ok, err)
		}
		sent := time.Now()
		if answer {
			rc.Write(rc.fw.AppendFrame(nil, websocket.OpClose, true, m.Data))
		}
		if _, ok, err := rc.nextFrame(t, wait+keepaliveLate); ok || err != io.EOF {
			t.Fatalf("answer %v: frame %v, %v; want the TCP close", answer, ok, err)
		}
		d := time.Since(sent)
		got := <-h.onEnd
		switch {
		case !answer && (d < wait-50*time.Millisecond || got.code != websocket.CloseAbnormal || !errors.Is(got.err, websocket.ErrCloseTimeout)):
			t.Fatalf("unanswered: closed after %v, OnClose %v %v; want %v, 1006 ErrCloseTimeout", d, got.code, got.err, wait)
		case answer && (d >= wait || got.code != websocket.CloseNormal || got.err != nil):
			t.Fatalf("answered: closed after %v, OnClose %v %v; want at once, 1000", d, got.code, got.err)
		}
	}
}

// TestHandshakeTimeout: ServeLoop closes a connection whose request head
// does not come within HandshakeTimeout.
func TestHandshakeTimeout(t *testing.T) {
	const wait = 300 * time.Millisecond
	addr, _ := serveLoop(t, &echo{}, &websocket.Options{HandshakeTimeout: wait}, loop.Options{Loops: 1})
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	start := time.Now()
	nc.Write([]byte("GET /ws HTTP/1.1\r\n"))
	nc.SetReadDeadline(time.Now().Add(wait + keepaliveLate))
	if n, err := nc.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("read %d, %v; want the TCP close", n, err)
	}
	if d := time.Since(start); d < wait-50*time.Millisecond {
		t.Fatalf("closed after %v, before %v", d, wait)
	}
}

// TestNoPingInterval: with keepalive off, a silent connection gets no Ping,
// also past its HandshakeTimeout (ServeLoop's handshake had the timer
// keepalive would have used).
func TestNoPingInterval(t *testing.T) {
	const wait = 200 * time.Millisecond
	opts := &websocket.Options{PingInterval: -1, HandshakeTimeout: wait}
	addr, _ := serveLoop(t, &echo{}, opts, loop.Options{Loops: 1})
	rc := dialRaw(t, addr, "")
	if m, ok, err := rc.nextFrame(t, 4*wait); ok || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("frame %v %v, %v; want none", m.Opcode, ok, err)
	}
	if _, err := rc.Write(rc.fw.AppendFrame(nil, websocket.OpText, true, []byte("still there"))); err != nil {
		t.Fatal(err)
	}
	if m, ok, err := rc.nextFrame(t, keepaliveLate); !ok || string(m.Data) != "still there" {
		t.Fatalf("echo: %v %q %v", ok, m.Data, err)
	}
}

// panicker's OnClose panics for the first connection it sees close.
type panicker struct {
	echo
	panicked atomic.Bool
}

func (p *panicker) OnClose(c *websocket.Conn, code websocket.CloseCode, reason string, err error) {
	if p.panicked.CompareAndSwap(false, true) {
		panic("OnClose panics")
	}
	p.echo.OnClose(c, code, reason, err)
}

// TestKeepaliveAfterPanic: a Handler whose OnClose panics when keepalive
// closes one connection leaves the loop's other connections' keepalive
// going.
func TestKeepaliveAfterPanic(t *testing.T) {
	const interval, pongWait = 200 * time.Millisecond, 100 * time.Millisecond
	h := &panicker{echo: echo{onEnd: make(chan closed, 4)}}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	addr := serveHTTP(t, h, &websocket.Options{PingInterval: interval, PongTimeout: pongWait}, loop.Options{Loops: 1, Logger: quiet}, nil)
	first := dialRaw(t, addr, "")
	time.Sleep(interval / 2)
	second := dialRaw(t, addr, "")
	for _, rc := range []*rawClient{first, second} { // neither answers its Ping
		if m, ok, err := rc.nextFrame(t, interval+keepaliveLate); !ok || m.Opcode != websocket.OpPing {
			t.Fatalf("want a Ping: %v %v %v", m.Opcode, ok, err)
		}
	}
	select {
	case got := <-h.onEnd:
		if !errors.Is(got.err, websocket.ErrPongTimeout) {
			t.Fatalf("the second connection: OnClose %v %v, want ErrPongTimeout", got.code, got.err)
		}
	case <-time.After(pongWait + 2*keepaliveLate):
		t.Fatal("the second connection was not closed after the first's OnClose panicked")
	}
}
