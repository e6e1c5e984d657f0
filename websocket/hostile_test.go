package websocket_test

// Hostile clients against the loop's WebSocket server: each is closed
// with the right code, in bounded time and memory, while a well-behaved
// client on the same loop is answered at once.

import (
	"bufio"
	"bytes"
	"compress/flate"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	gorilla "github.com/gorilla/websocket"

	"github.com/iomux/iomux/internal/iomuxtest"
	"github.com/iomux/iomux/loop"
	"github.com/iomux/iomux/websocket"
)

// rawClient is a client that writes raw frames.
type rawClient struct {
	net.Conn
	br *bufio.Reader
	fw websocket.FrameWriter
}

func dialRaw(t testing.TB, addr, extensions string) *rawClient {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	key := websocket.NewKey()
	req := "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: " + key + "\r\n"
	if extensions != "" {
		req += "Sec-WebSocket-Extensions: " + extensions + "\r\n"
	}
	nc.SetDeadline(time.Now().Add(20 * time.Second))
	if _, err := io.WriteString(nc, req+"\r\n"); err != nil {
		t.Fatal(err)
	}
	rc := &rawClient{Conn: nc, br: bufio.NewReader(nc)}
	rc.fw.Role = websocket.Client
	resp, err := http.ReadResponse(rc.br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := websocket.CheckResponse(resp, key, nil); err != nil {
		t.Fatal(err)
	}
	return rc
}

// closeCode reads frames until the server's Close frame and the TCP
// close; it returns the Close frame's code.
func (rc *rawClient) closeCode(t testing.TB) websocket.CloseCode {
	t.Helper()
	var r websocket.MessageReader
	r.Role = websocket.Client
	r.MaxMessage = 1 << 30
	r.MaxFrame = 1 << 30
	var buf []byte
	code := websocket.CloseCode(0)
	p := make([]byte, 64<<10)
	for {
		n, err := r.Read(buf, func(m websocket.Message) error {
			if m.Opcode == websocket.OpClose {
				code, _, _ = websocket.ParseClose(m.Data)
			}
			return nil
		})
		buf = buf[n:]
		if err != nil {
			t.Fatalf("reading the server's frames: %v", err)
		}
		k, err := rc.br.Read(p)
		buf = append(buf, p[:k]...)
		if err != nil {
			if code == 0 {
				t.Fatalf("connection ended without a Close frame: %v", err)
			}
			return code
		}
	}
}

// prober is a well-behaved client on the same server: its echo must come
// back at once while a hostile client is served.
func probe(t *testing.T, url string) (stop func() time.Duration) {
	c, _, err := gorilla.DefaultDialer.Dial(url, nil)
	if err != nil {
		t.Fatal(err)
	}
	var worst atomic.Int64
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer c.Close()
		for {
			start := time.Now()
			c.SetReadDeadline(time.Now().Add(10 * time.Second))
			if err := c.WriteMessage(gorilla.TextMessage, []byte("ping?")); err != nil {
				return
			}
			if _, _, err := c.ReadMessage(); err != nil {
				return
			}
			if d := int64(time.Since(start)); d > worst.Load() {
				worst.Store(d)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()
	return func() time.Duration {
		c.WriteControl(gorilla.CloseMessage, gorilla.FormatCloseMessage(1000, ""), time.Now().Add(time.Second))
		<-done
		return time.Duration(worst.Load())
	}
}

func heapInUse() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse
}

func TestHostile(t *testing.T) {
	const maxMessage = 1 << 20
	opts := &websocket.Options{Compression: true, MaxMessage: maxMessage, PingInterval: 300 * time.Millisecond, PongTimeout: 300 * time.Millisecond}
	// One loop: the hostile client and the prober share it.
	e := &echo{onEnd: make(chan closed, 16)}
	addr := serveHTTP(t, e, opts, loop.Options{Loops: 1}, nil)
	url := "ws://" + addr + "/ws"

	bomb := func() []byte {
		var z bytes.Buffer
		fw, _ := flate.NewWriter(&z, flate.BestCompression)
		fw.Write(make([]byte, 64<<20)) // 64 MiB of zeros in about 64 KiB
		fw.Flush()
		return bytes.TrimSuffix(z.Bytes(), []byte{0, 0, 0xff, 0xff})
	}()

	// Built before the connection opens: building them takes long
	// enough under -race for the server's keepalive to close a client
	// that says nothing meanwhile.
	fragments := func() []byte {
		fw := websocket.FrameWriter{Role: websocket.Client}
		big := bytes.Repeat([]byte("x"), 16)
		wire := fw.AppendFrame(nil, websocket.OpText, false, big)
		for range 100000 {
			wire = fw.AppendFrame(wire, websocket.OpContinuation, false, big)
		}
		return wire
	}()

	cases := []struct {
		name       string
		extensions string
		send       func(rc *rawClient) error
		code       websocket.CloseCode // the server's Close frame, if it can reach the client
		serverCode websocket.CloseCode // what OnClose got
		serverErr  error
	}{
		{"length-2^63-1", "", func(rc *rawClient) error {
			hdr := []byte{0x82, 0xff, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1, 2, 3, 4}
			_, err := rc.Write(hdr)
			return err
		}, websocket.CloseMessageTooBig, websocket.CloseMessageTooBig, nil},
		{"length-msb-set", "", func(rc *rawClient) error {
			hdr := []byte{0x82, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4}
			_, err := rc.Write(hdr)
			return err
		}, websocket.CloseProtocolError, websocket.CloseProtocolError, nil},
		{"100000-fragments-past-the-limit", "", func(rc *rawClient) error {
			_, err := rc.Write(fragments)
			return err
		}, websocket.CloseMessageTooBig, websocket.CloseMessageTooBig, nil},
		{"deflate-bomb", "permessage-deflate", func(rc *rawClient) error {
			h := websocket.Header{Fin: true, Compressed: true, Opcode: websocket.OpBinary, Length: int64(len(bomb)), Masked: true, Mask: [4]byte{1, 2, 3, 4}}
			wire := websocket.AppendHeader(nil, h)
			start := len(wire)
			wire = append(wire, bomb...)
			for i := range wire[start:] {
				wire[start+i] ^= h.Mask[i%4]
			}
			_, err := rc.Write(wire)
			return err
		}, websocket.CloseMessageTooBig, websocket.CloseMessageTooBig, nil},
		{"bad-utf8-mid-message", "", func(rc *rawClient) error {
			_, err := rc.Write(rc.fw.AppendFrame(nil, websocket.OpText, false, []byte("ok \xff")))
			return err // and the message never ends: fail fast
		}, websocket.CloseInvalidPayload, websocket.CloseInvalidPayload, nil},
		{"unmasked", "", func(rc *rawClient) error {
			_, err := rc.Write(websocket.AppendFrame(nil, websocket.OpText, true, []byte("hi")))
			return err
		}, websocket.CloseProtocolError, websocket.CloseProtocolError, nil},
		{"bad-close-code", "", func(rc *rawClient) error {
			_, err := rc.Write(rc.fw.AppendFrame(nil, websocket.OpClose, true, []byte{0x03, 0xed})) // 1005
			return err
		}, websocket.CloseProtocolError, websocket.CloseProtocolError, nil},
		{"ping-flood-never-reading", "", func(rc *rawClient) error {
			ping := rc.fw.AppendFrame(nil, websocket.OpPing, true, bytes.Repeat([]byte("p"), 125))
			flood := bytes.Repeat(ping, 1000)
			rc.SetWriteDeadline(time.Now().Add(3 * time.Second))
			for {
				if _, err := rc.Write(flood); err != nil {
					return nil // the server stopped reading us: TCP holds us back
				}
			}
		}, 0, websocket.CloseAbnormal, websocket.ErrPongTimeout},
		{"echo-never-reading", "", func(rc *rawClient) error {
			msg := rc.fw.AppendFrame(nil, websocket.OpBinary, true, make([]byte, 60<<10))
			rc.SetWriteDeadline(time.Now().Add(3 * time.Second))
			for {
				if _, err := rc.Write(msg); err != nil {
					return nil
				}
			}
		}, 0, websocket.CloseAbnormal, websocket.ErrPongTimeout},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			stop := probe(t, url)
			base := heapInUse()
			var peak uint64
			start := time.Now()
			rc := dialRaw(t, addr, tc.extensions)
			if err := tc.send(rc); err != nil && !errors.Is(err, net.ErrClosed) && !strings.Contains(err.Error(), "reset") && !strings.Contains(err.Error(), "broken pipe") {
				t.Fatalf("send: %v", err)
			}
			peak = max(peak, heapInUse())
			if tc.code != 0 {
				rc.SetDeadline(time.Now().Add(10 * time.Second))
				if got := rc.closeCode(t); got != tc.code {
					t.Fatalf("close code %d, want %d", got, tc.code)
				}
			}
			// Under Wine each pong's write is an emulated call: a server
			// working through a backlog of flooded pings took 5-7 s to
			// close, and over 13 s once, on a loaded machine.
			closeWait := 10 * time.Second
			if iomuxtest.UnderWine() {
				closeWait = 45 * time.Second
			}
			select {
			case c := <-e.onEnd:
				if c.code != tc.serverCode || tc.serverErr != nil && !errors.Is(c.err, tc.serverErr) {
					t.Fatalf("OnClose %d %q %v, want %d %v", c.code, c.reason, c.err, tc.serverCode, tc.serverErr)
				}
			case <-time.After(closeWait):
				t.Fatalf("OnClose did not run in %v", closeWait)
			}
			took := time.Since(start)
			peak = max(peak, heapInUse())
			worst := stop()
			<-e.onEnd // the prober's
			t.Logf("closed after %v; heap in use grew by at most %d KiB; the other client's worst echo %v",
				took.Round(time.Millisecond), (int64(peak)-int64(base))/1024, worst.Round(time.Microsecond))
			if grew := int64(peak) - int64(base); grew > 8*maxMessage {
				t.Errorf("heap grew by %d bytes", grew)
			}
			if worst > 500*time.Millisecond {
				t.Errorf("the other client waited %v", worst)
			}
		})
	}
}

// TestManyFragments: 100,000 one-byte fragments within the limit make one
// message, in bounded time.
func TestManyFragments(t *testing.T) {
	e := &echo{}
	addr := serveHTTP(t, e, nil, loop.Options{Loops: 1}, nil)
	rc := dialRaw(t, addr, "")
	var wire []byte
	wire = rc.fw.AppendFrame(wire, websocket.OpText, false, []byte("x"))
	for range 100000 - 2 {
		wire = rc.fw.AppendFrame(wire, websocket.OpContinuation, false, []byte("x"))
	}
	wire = rc.fw.AppendFrame(wire, websocket.OpContinuation, true, []byte("x"))
	start := time.Now()
	go rc.Write(wire)
	var r websocket.MessageReader
	r.Role = websocket.Client
	var buf []byte
	p := make([]byte, 64<<10)
	for got := false; !got; {
		n, err := r.Read(buf, func(m websocket.Message) error {
			if len(m.Data) != 100000 || m.Opcode != websocket.OpText {
				t.Fatalf("%s of %d bytes", m.Opcode, len(m.Data))
			}
			got = true
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		buf = buf[n:]
		if got {
			break
		}
		k, err := rc.br.Read(p)
		if err != nil {
			t.Fatal(err)
		}
		buf = append(buf, p[:k]...)
	}
	t.Logf("100,000 fragments (%d bytes on the wire) echoed as one message in %v", len(wire), time.Since(start).Round(time.Millisecond))
}

// TestAsyncWriteQueueFull: AsyncWrite to a client that never reads is
// refused once the backlog reaches HighWater, and after the Close frame
// with ErrClosed.
func TestAsyncWriteQueueFull(t *testing.T) {
	opened := make(chan *websocket.Conn, 1)
	h := &opener{opened: opened}
	addr := serveHTTP(t, h, &websocket.Options{PingInterval: -1}, loop.Options{Loops: 1, HighWater: 256 << 10}, nil)
	dialRaw(t, addr, "") // never reads
	ws := <-opened
	msg := make([]byte, 32<<10)
	sent := 0
	var err error
	for sent < 1<<30 {
		if err = ws.AsyncWrite(websocket.OpBinary, msg); err != nil {
			break
		}
		sent += len(msg)
	}
	if !errors.Is(err, loop.ErrQueueFull) {
		t.Fatalf("after %d bytes: %v", sent, err)
	}
	t.Logf("refused after %d KiB", sent>>10)
	ws.AsyncClose(websocket.CloseGoingAway, "")
	deadline := time.Now().Add(5 * time.Second)
	for !errors.Is(err, websocket.ErrClosed) && time.Now().Before(deadline) {
		err = ws.AsyncWrite(websocket.OpBinary, nil)
		time.Sleep(time.Millisecond)
	}
	if !errors.Is(err, websocket.ErrClosed) {
		t.Fatalf("after AsyncClose: %v", err)
	}
}

type opener struct {
	websocket.BaseHandler
	opened chan *websocket.Conn
}

func (o *opener) OnOpen(c *websocket.Conn) { o.opened <- c }

// TestAsyncWriteBeforeClose: goroutines writing with AsyncWrite while the
// connection closes: no data frame follows the Close frame on the wire.
func TestAsyncWriteBeforeClose(t *testing.T) {
	// 1,024, not the default 65,536: under Wine, a loop working through
	// 65,536 queued writes of tiny frames (an emulated call each) took
	// longer than CloseTimeout, which then ended the connection before
	// its Close frame went.
	for _, maxPosts := range []int{1024, 4} {
		t.Run(fmt.Sprintf("MaxPosts=%d", maxPosts), func(t *testing.T) {
			asyncWriteBeforeClose(t, loop.Options{Loops: 1, MaxPosts: maxPosts})
		})
	}
}

// asyncWriteBeforeClose is TestAsyncWriteBeforeClose on a server with
// opts. With a small MaxPosts the writers fill the loop's queue of posted
// functions, so the Close frame finds it full: it must still go behind
// the writes queued there.
func asyncWriteBeforeClose(t *testing.T, opts loop.Options) {
	opened := make(chan *websocket.Conn, 1)
	addr := serveHTTP(t, &opener{opened: opened}, nil, opts, nil)
	rounds := 20
	if iomuxtest.UnderWine() {
		rounds = 5 // a round takes 1.7 s there, three writers spinning on a full queue
	}
	for round := range rounds {
		rc := dialRaw(t, addr, "")
		ws := <-opened
		var writers sync.WaitGroup
		for g := range 3 {
			writers.Go(func() {
				for i := 0; ; i++ {
					err := ws.AsyncWrite(websocket.OpText, []byte("data"))
					if errors.Is(err, websocket.ErrClosed) {
						return
					}
					if i == 50 && g == 0 {
						// Refused while the loop's queue is full.
						for ws.AsyncClose(websocket.CloseNormal, "") != nil {
							time.Sleep(time.Millisecond)
						}
					}
				}
			})
		}
		closed := false
		for {
			m, ok, err := rc.nextFrame(t, 5*time.Second)
			if !ok {
				if !closed || err != io.EOF {
					t.Fatalf("round %d: connection ended (%v) before the Close frame", round, err)
				}
				break
			}
			switch {
			case closed:
				t.Fatalf("round %d: a %v frame after the Close frame", round, m.Opcode)
			case m.Opcode == websocket.OpClose:
				closed = true
				rc.Write(rc.fw.AppendFrame(nil, websocket.OpClose, true, m.Data))
			}
		}
		writers.Wait()
	}
}
