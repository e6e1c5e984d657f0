package websocket

import (
	"crypto/rand"
	"errors"
	"sync"

	"github.com/iomux/iomux/loop"
)

// Frames are built in pooled buffers and handed to loop.Conn.Write, which
// copies only what the socket does not take at once: an idle connection
// keeps no write buffer.
var frameBufs = sync.Pool{New: func() any { b := make([]byte, 0, 4<<10); return &b }}

func getBuf() *[]byte { return frameBufs.Get().(*[]byte) }

func putBuf(p *[]byte, b []byte) {
	if cap(b) <= 64<<10 { // a big message's buffer is not kept
		*p = b[:0]
		frameBufs.Put(p)
	}
}

var errOpcode = errors.New("websocket: a data message is OpText or OpBinary")

// WriteText sends p as a text message (p must be UTF-8: it is not
// checked). Like loop.Conn.Write it never blocks, queues what the socket
// does not take, and p may be reused when it returns; past the loop's
// HighWater the connection is Congested.
func (ws *Conn) WriteText(p []byte) error { return ws.WriteMessage(OpText, p) }

// WriteBinary sends p as a binary message (see WriteText).
func (ws *Conn) WriteBinary(p []byte) error { return ws.WriteMessage(OpBinary, p) }

// WriteMessage sends p as one message of op (OpText or OpBinary), in one
// frame, compressed when permessage-deflate was agreed and p is at least
// Options.CompressMin bytes.
func (ws *Conn) WriteMessage(op Opcode, p []byte) error {
	if op != OpText && op != OpBinary {
		return errOpcode
	}
	if ws.state != stateOpen {
		return ErrClosed
	}
	bp := getBuf()
	b := ws.appendMessage((*bp)[:0], op, p, ws.deflater())
	_, err := ws.c.Write(b)
	putBuf(bp, b)
	return err
}

// WritePing sends a Ping with p (at most 125 bytes); the peer's Pong is
// not reported (keepalive is Options.PingInterval's).
func (ws *Conn) WritePing(p []byte) error {
	if len(p) > MaxControlPayload {
		return errors.New("websocket: ping payload longer than 125 bytes")
	}
	if ws.state != stateOpen {
		return ErrClosed
	}
	return ws.writeFrame(Header{Fin: true, Opcode: OpPing, Length: int64(len(p))}, p)
}

// WritePrepared sends a Prepared message: a server's shares p's bytes with
// every other connection it is sent to (the compressed form when the
// connection compresses without a context); a client's is framed (masked)
// for it.
func (ws *Conn) WritePrepared(p *Prepared) error {
	if ws.state != stateOpen {
		return ErrClosed
	}
	if frame, ok := ws.prepared(p); ok {
		_, err := ws.c.Write(frame)
		return err
	}
	return ws.WriteMessage(p.op, p.payload)
}

// prepared returns p's frame for this connection, if it can take the
// shared bytes: a server's, compressing without a context or not at all.
func (ws *Conn) prepared(p *Prepared) ([]byte, bool) {
	if x := ws.x; x != nil && (x.mask != nil || x.defl != nil) {
		return nil, false
	}
	return p.Frame(ws.compressed && len(p.payload) >= ws.opts.compressMin()), true
}

// writeFrame sends one frame (on the loop).
func (ws *Conn) writeFrame(h Header, payload []byte) error {
	var b [MaxHeaderLen + MaxControlPayload]byte
	var frame []byte
	if h.Length <= MaxControlPayload {
		frame = ws.appendFrame(b[:0], h, payload)
	} else {
		frame = ws.appendFrame(nil, h, payload)
	}
	_, err := ws.c.Write(frame)
	return err
}

// appendMessage appends a data message of op as one frame, compressed
// with d if it is set and p long enough.
func (ws *Conn) appendMessage(dst []byte, op Opcode, p []byte, d *Deflater) []byte {
	if d == nil || len(p) < ws.opts.compressMin() {
		return ws.appendFrame(dst, Header{Fin: true, Opcode: op, Length: int64(len(p))}, p)
	}
	zp := getBuf()
	z := d.Deflate((*zp)[:0], p)
	dst = ws.appendFrame(dst, Header{Fin: true, Compressed: true, Opcode: op, Length: int64(len(z))}, z)
	putBuf(zp, z)
	return dst
}

// appendFrame appends a frame as this side sends it: a client's masked.
// Only the loop may call it for a client (its keys are not shared).
func (ws *Conn) appendFrame(dst []byte, h Header, payload []byte) []byte {
	if mask := ws.mask(); mask != nil {
		return mask.appendFrame(dst, h, payload)
	}
	return append(AppendHeader(dst, h), payload...)
}

// AsyncWrite sends p as a message of op (OpText or OpBinary) from any
// goroutine: the frame is built at once (p may be reused when AsyncWrite
// returns) and written by the loop. It fails with loop.ErrQueueFull while
// the connection's output backlog is at the loop's HighWater, as
// loop.Conn.AsyncWrite does, and with ErrClosed once the connection sent
// its Close frame. A connection whose compressor keeps a context
// (server_context_takeover) sends these uncompressed.
func (ws *Conn) AsyncWrite(op Opcode, p []byte) error {
	if op != OpText && op != OpBinary {
		return errOpcode
	}
	x := ws.x // set before the Conn is handed out, never changed after
	var d *Deflater
	if ws.compressed && (x == nil || x.defl == nil) {
		d = NewDeflater(ws.opts.CompressionLevel, false) // shared, safe from any goroutine
	}
	masked := x != nil && x.mask != nil
	var frame []byte
	if d != nil && len(p) >= ws.opts.compressMin() {
		z := d.Deflate(nil, p)
		frame = appendFrameAsync(nil, masked, Header{Fin: true, Compressed: true, Opcode: op, Length: int64(len(z))}, z)
	} else {
		frame = appendFrameAsync(nil, masked, Header{Fin: true, Opcode: op, Length: int64(len(p))}, p)
	}
	return ws.asyncSend(frame)
}

// AsyncWritePrepared is WritePrepared from any goroutine: a server's
// connections share p's bytes, with no copy per connection.
func (ws *Conn) AsyncWritePrepared(p *Prepared) error {
	if x := ws.x; x != nil && (x.mask != nil || x.defl != nil) {
		return ws.AsyncWrite(p.op, p.payload)
	}
	return ws.asyncSend(p.Frame(ws.compressed && len(p.payload) >= ws.opts.compressMin()))
}

// Broadcast sends p to each of conns, from any goroutine, the same bytes
// to each (see Prepared). It skips a connection whose backlog is at
// HighWater, or that is closing, and returns how many it skipped.
func Broadcast(conns []*Conn, p *Prepared) (skipped int) {
	for _, ws := range conns {
		if ws.AsyncWritePrepared(p) != nil {
			skipped++
		}
	}
	return skipped
}

// asyncSend hands frame to the loop, unless the Close frame went first.
func (ws *Conn) asyncSend(frame []byte) error {
	for {
		a := ws.async.Load()
		if a&asyncShut != 0 {
			return ErrClosed
		}
		if ws.async.CompareAndSwap(a, (a|asyncUsed)+asyncOne) {
			break
		}
	}
	err := ws.c.AsyncWrite(frame)
	ws.async.Add(^uint32(asyncOne - 1)) // minus asyncOne
	if errors.Is(err, loop.ErrClosed) {
		err = ErrClosed
	}
	return err
}

// appendFrameAsync appends a frame off the loop: a client's masked with a
// key of its own.
func appendFrameAsync(dst []byte, masked bool, h Header, payload []byte) []byte {
	if !masked {
		return append(AppendHeader(dst, h), payload...)
	}
	h.Masked = true
	rand.Read(h.Mask[:])
	dst = AppendHeader(dst, h)
	start := len(dst)
	dst = append(dst, payload...)
	maskBytes(h.Mask, 0, dst[start:])
	return dst
}
