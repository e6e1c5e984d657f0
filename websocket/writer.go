package websocket

import (
	"crypto/rand"
	"encoding/binary"
	"sync"
)

// AppendHeader appends h's bytes to dst: the shortest length encoding, and
// the masking key when h.Masked.
func AppendHeader(dst []byte, h Header) []byte {
	b0 := byte(h.Opcode)
	if h.Fin {
		b0 |= 0x80
	}
	if h.Compressed {
		b0 |= 0x40
	}
	var b1 byte
	if h.Masked {
		b1 = 0x80
	}
	switch n := h.Length; {
	case n <= 125:
		dst = append(dst, b0, b1|byte(n))
	case n <= 0xffff:
		dst = append(dst, b0, b1|126)
		dst = binary.BigEndian.AppendUint16(dst, uint16(n))
	default:
		dst = append(dst, b0, b1|127)
		dst = binary.BigEndian.AppendUint64(dst, uint64(n))
	}
	if h.Masked {
		dst = append(dst, h.Mask[:]...)
	}
	return dst
}

// AppendFrame appends a server's frame (unmasked): header and payload.
func AppendFrame(dst []byte, op Opcode, fin bool, payload []byte) []byte {
	dst = AppendHeader(dst, Header{Fin: fin, Opcode: op, Length: int64(len(payload))})
	return append(dst, payload...)
}

// AppendClosePayload appends a Close frame's payload: code and reason (a
// code of 0 or CloseNoStatus makes an empty payload). The reason is cut to
// fit the 125 bytes of a control frame, on a UTF-8 boundary.
func AppendClosePayload(dst []byte, code CloseCode, reason string) []byte {
	if code == 0 || code == CloseNoStatus {
		return dst
	}
	if len(reason) > MaxControlPayload-2 {
		reason = reason[:MaxControlPayload-2]
		for len(reason) > 0 && !utf8Whole(reason) {
			reason = reason[:len(reason)-1]
		}
	}
	dst = binary.BigEndian.AppendUint16(dst, uint16(code))
	return append(dst, reason...)
}

func utf8Whole(s string) bool {
	var v utf8Stream
	return v.write([]byte(s)) && v.done()
}

// FrameWriter writes one connection's frames: a Client's masked with a
// fresh key from crypto/rand each (read 32 keys at a time), a Server's
// unmasked; data messages compressed when Deflater is set (permessage-
// deflate agreed). The zero value writes a Server's frames, uncompressed.
type FrameWriter struct {
	Role     Role
	Deflater *Deflater
	// CompressMin is the shortest message Deflater compresses; shorter
	// ones go uncompressed (permessage-deflate allows either per
	// message). Zero compresses every message.
	CompressMin int

	keys    [128]byte
	keysPos int
	scratch []byte
}

// AppendFrame appends one frame of payload: op (OpContinuation after a
// message's first frame), fin on its last frame. It does not compress: for
// fragments of an uncompressed message, and for control frames.
func (w *FrameWriter) AppendFrame(dst []byte, op Opcode, fin bool, payload []byte) []byte {
	return w.appendFrame(dst, Header{Fin: fin, Opcode: op, Length: int64(len(payload))}, payload)
}

// AppendMessage appends a whole data message (OpText or OpBinary) as one
// frame, compressed if w has a Deflater and payload is long enough.
func (w *FrameWriter) AppendMessage(dst []byte, op Opcode, payload []byte) []byte {
	if w.Deflater != nil && len(payload) >= w.CompressMin {
		w.scratch = w.Deflater.Deflate(w.scratch[:0], payload)
		dst = w.appendFrame(dst, Header{Fin: true, Compressed: true, Opcode: op, Length: int64(len(w.scratch))}, w.scratch)
		if cap(w.scratch) > 64<<10 {
			w.scratch = nil // an idle connection keeps no big buffer
		}
		return dst
	}
	return w.AppendFrame(dst, op, true, payload)
}

// AppendClose appends a Close frame with code and reason (see
// AppendClosePayload).
func (w *FrameWriter) AppendClose(dst []byte, code CloseCode, reason string) []byte {
	var b [MaxControlPayload]byte
	return w.AppendFrame(dst, OpClose, true, AppendClosePayload(b[:0], code, reason))
}

func (w *FrameWriter) appendFrame(dst []byte, h Header, payload []byte) []byte {
	if w.Role == Server {
		dst = AppendHeader(dst, h)
		return append(dst, payload...)
	}
	h.Masked = true
	h.Mask = w.newKey()
	dst = AppendHeader(dst, h)
	start := len(dst)
	dst = append(dst, payload...)
	maskBytes(h.Mask, 0, dst[start:])
	return dst
}

// newKey returns a fresh masking key; crypto/rand is read for 32 at once,
// so that a client's small frames do not each cost a system call.
func (w *FrameWriter) newKey() (k [4]byte) {
	if w.keysPos == 0 || w.keysPos >= len(w.keys) {
		rand.Read(w.keys[:])
		w.keysPos = 0
	}
	copy(k[:], w.keys[w.keysPos:])
	w.keysPos += 4
	return k
}

// Prepared is a data message framed once for any number of server
// connections: a broadcast sends the same bytes to each, without a copy
// or a compression per connection. Safe for concurrent use.
type Prepared struct {
	op      Opcode
	payload []byte
	plain   []byte

	once       sync.Once
	level      int
	compressed []byte
}

// Prepare frames payload as a server's op message (OpText or OpBinary).
// level is the compress/flate level for connections that compress (0 for
// BestSpeed); the compressed frame is made on first use.
func Prepare(op Opcode, payload []byte, level int) *Prepared {
	return &Prepared{op: op, payload: payload, plain: AppendFrame(nil, op, true, payload), level: level}
}

// Frame returns the bytes to send to a server connection: compressed for
// one that agreed permessage-deflate without server context takeover (a
// message compressed afresh reads right in any connection's window), plain
// for any other. The bytes must not be modified.
func (p *Prepared) Frame(compressed bool) []byte {
	if !compressed {
		return p.plain
	}
	p.once.Do(func() {
		d := NewDeflater(p.level, false)
		body := d.Deflate(nil, p.payload)
		p.compressed = AppendHeader(nil, Header{Fin: true, Compressed: true, Opcode: p.op, Length: int64(len(body))})
		p.compressed = append(p.compressed, body...)
	})
	return p.compressed
}
