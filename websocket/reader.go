package websocket

import "encoding/binary"

// The limits' defaults: what a zero limit field means.
const (
	DefaultMaxFrame   = 16 << 20 // FrameReader.MaxFrame
	DefaultMaxMessage = 16 << 20 // FrameReader.MaxMessage, MessageReader's too
)

// FrameReader reads frames from bytes as they arrive, in any split: a frame
// one byte at a time, or twenty frames at once. It holds the state of the
// frame and message in progress, not their bytes: payloads are returned as
// slices of the caller's input, unmasked in place. It enforces every rule
// RFC 6455 sets on frames as soon as the header shows the fault, before the
// payload arrives. The zero value reads as a Server with the default
// limits and no extension.
type FrameReader struct {
	Role Role
	// MaxFrame bounds a frame's payload, MaxMessage the sum of a data
	// message's frames' payloads (as they travel: compressed, if the
	// message is); a header past either is refused with 1009 at once.
	// Zero means DefaultMaxFrame and DefaultMaxMessage.
	MaxFrame, MaxMessage int64
	// Compression allows RSV1 on a message's first frame: permessage-
	// deflate was agreed. Without it RSV1 is a protocol error.
	Compression bool

	h       Header // the data frame in progress, if inFrame
	left    int64  // its payload bytes still to come
	maskPos int    // where in the key the next payload byte is
	inFrame bool

	fragmented bool   // a data message has begun and not ended: continuations expected
	msgOp      Opcode // its opcode (text or binary)
	msgComp    bool   // its first frame had RSV1
	msgLen     int64  // its payload bytes so far
	err        *CloseError
}

// Chunk is what one FrameReader.Next found: a frame's header and a piece
// of its payload. A data frame comes in as many chunks as its bytes come
// in pieces; a control frame always whole, in one chunk.
type Chunk struct {
	Header Header
	// Message is the opcode of the message the frame is part of: text or
	// binary for a data frame (a continuation's too), the frame's own for
	// a control frame. Compressed says the data message is compressed.
	Message    Opcode
	Compressed bool
	// Data is payload, unmasked, a slice of the caller's input: valid as
	// long as the input is.
	Data []byte
	// First and Last say whether Data begins and ends the frame's payload
	// (a frame with an empty payload is one chunk, First and Last).
	First, Last bool
}

// MessageEnd reports whether c ends a message: the last chunk of a final
// frame, or a control frame.
func (c Chunk) MessageEnd() bool { return c.Last && c.Header.Fin }

// Next reads from p the next chunk: a frame's header with what of its
// payload p holds, or more of the payload of the frame in progress. It
// returns how many bytes of p the chunk took; n is 0 when p holds too
// little (part of a header, part of a control frame), and p's bytes must be
// passed again with more behind them. Next unmasks the payload in place,
// in p. A *CloseError is a fault of the peer: answer with its code and
// close; every later call returns it again.
func (r *FrameReader) Next(p []byte) (c Chunk, n int, err error) {
	if r.err != nil {
		return Chunk{}, 0, r.err
	}
	if r.inFrame {
		if len(p) == 0 {
			return Chunk{}, 0, nil
		}
		take := int(min(r.left, int64(len(p))))
		return r.payload(p[:take], false), take, nil
	}
	h, hn, e := r.header(p)
	if e != nil {
		r.err = e
		return Chunk{}, 0, e
	}
	if hn == 0 {
		return Chunk{}, 0, nil
	}
	if h.Opcode.Control() {
		// Control frames are short (checked): wait for the whole one.
		end := hn + int(h.Length)
		if len(p) < end {
			return Chunk{}, 0, nil
		}
		data := p[hn:end]
		if h.Masked {
			maskBytes(h.Mask, 0, data)
		}
		return Chunk{Header: h, Message: h.Opcode, Data: data, First: true, Last: true}, end, nil
	}
	r.startData(h)
	take := int(min(r.left, int64(len(p)-hn)))
	return r.payload(p[hn:hn+take], true), hn + take, nil
}

// payload returns data, the next bytes of the frame in progress, as its
// chunk.
func (r *FrameReader) payload(data []byte, first bool) Chunk {
	if r.h.Masked {
		r.maskPos = maskBytes(r.h.Mask, r.maskPos, data)
	}
	r.left -= int64(len(data))
	last := r.left == 0
	if last {
		r.inFrame = false
	}
	return Chunk{Header: r.h, Message: r.msgOp, Compressed: r.msgComp, Data: data, First: first, Last: last}
}

// startData makes h the data frame in progress, and its message's.
func (r *FrameReader) startData(h Header) {
	if h.Opcode != OpContinuation {
		r.msgOp, r.msgComp, r.msgLen = h.Opcode, h.Compressed, 0
	}
	r.msgLen += h.Length
	r.fragmented = !h.Fin
	r.h, r.left, r.maskPos, r.inFrame = h, h.Length, 0, h.Length > 0
}

// header parses and judges the frame header p begins with; hn is 0 while p
// holds only part of it. Each rule is refused as soon as the bytes that
// break it are there.
func (r *FrameReader) header(p []byte) (h Header, hn int, err *CloseError) {
	if len(p) < 2 {
		return h, 0, nil
	}
	b0, b1 := p[0], p[1]
	h.Fin = b0&0x80 != 0
	h.Compressed = b0&0x40 != 0
	h.Opcode = Opcode(b0 & 0x0f)
	h.Masked = b1&0x80 != 0
	length := int64(b1 & 0x7f)

	switch {
	case b0&0x30 != 0:
		return h, 0, protocolError("reserved bits RSV2 or RSV3 set")
	case !h.Opcode.known():
		return h, 0, protocolError("reserved opcode " + h.Opcode.String())
	case h.Compressed && (!r.Compression || h.Opcode.Control() || h.Opcode == OpContinuation):
		// RFC 7692 section 6: RSV1 marks a compressed message, on its first frame only.
		return h, 0, protocolError("reserved bit RSV1 set")
	case h.Opcode.Control() && !h.Fin:
		return h, 0, protocolError("fragmented control frame")
	case h.Opcode.Control() && length > MaxControlPayload:
		return h, 0, protocolError("control frame longer than 125 bytes")
	case h.Opcode == OpContinuation && !r.fragmented:
		return h, 0, protocolError("continuation frame without a message to continue")
	case (h.Opcode == OpText || h.Opcode == OpBinary) && r.fragmented:
		return h, 0, protocolError("new data frame inside a fragmented message")
	case r.Role == Server && !h.Masked:
		return h, 0, protocolError("unmasked frame from a client")
	case r.Role == Client && h.Masked:
		return h, 0, protocolError("masked frame from a server")
	}

	hn = 2
	switch length {
	case 126:
		if len(p) < 4 {
			return h, 0, nil
		}
		length = int64(binary.BigEndian.Uint16(p[2:]))
		hn = 4
	case 127:
		if len(p) < 10 {
			if len(p) > 2 && p[2]&0x80 != 0 {
				return h, 0, protocolError("frame length with the most significant bit set")
			}
			return h, 0, nil
		}
		u := binary.BigEndian.Uint64(p[2:])
		if u>>63 != 0 {
			return h, 0, protocolError("frame length with the most significant bit set")
		}
		length = int64(u)
		hn = 10
	}
	h.Length = length
	if !h.Opcode.Control() {
		if length > limit(r.MaxFrame, DefaultMaxFrame) {
			return h, 0, tooBig("frame larger than the limit")
		}
		msgLen := length
		if h.Opcode == OpContinuation {
			msgLen += r.msgLen
		}
		if msgLen > limit(r.MaxMessage, DefaultMaxMessage) {
			return h, 0, tooBig("message larger than the limit")
		}
	}
	if h.Masked {
		if len(p) < hn+4 {
			return h, 0, nil
		}
		copy(h.Mask[:], p[hn:hn+4])
		hn += 4
	}
	return h, hn, nil
}

func limit(v, def int64) int64 {
	if v <= 0 {
		return def
	}
	return v
}

// maskBytes XORs b with key, starting pos bytes into it, and returns the
// position after b. It is the hot path of every client frame a server
// reads: eight bytes at a time once aligned to the key.
func maskBytes(key [4]byte, pos int, b []byte) int {
	pos &= 3
	for len(b) > 0 && pos != 0 {
		b[0] ^= key[pos]
		b = b[1:]
		pos = (pos + 1) & 3
	}
	if len(b) >= 8 {
		k32 := uint64(binary.LittleEndian.Uint32(key[:]))
		k := k32 | k32<<32
		for len(b) >= 8 {
			binary.LittleEndian.PutUint64(b, binary.LittleEndian.Uint64(b)^k)
			b = b[8:]
		}
	}
	for i := range b {
		b[i] ^= key[pos]
		pos = (pos + 1) & 3
	}
	return pos
}
