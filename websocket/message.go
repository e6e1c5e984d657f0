package websocket

import (
	"encoding/binary"
	"unicode/utf8"
)

// Message is what MessageReader delivers: a whole data message, a piece of
// one (in Stream mode), or a control frame.
type Message struct {
	// Opcode is OpText or OpBinary for data (a continuation's piece too),
	// or OpClose, OpPing, OpPong.
	Opcode Opcode
	// Data is the payload, unmasked and inflated; valid only until deliver
	// returns (it may be a slice of the reader's input).
	Data []byte
	// Fin is true on a whole message and a control frame; in Stream mode,
	// on the last piece of a message.
	Fin bool
}

// MessageReader reads messages from bytes as they arrive: frames
// reassembled up to the message limit, or passed on piece by piece
// (Stream); text checked as UTF-8 as it arrives (fail fast, 1007);
// compressed messages inflated (permessage-deflate); close frames'
// payloads checked. Control frames are delivered as they come, also
// between a message's fragments. The zero value reads as a Server with the
// default limits, without compression.
type MessageReader struct {
	FrameReader
	// Stream delivers a data message's bytes as they arrive, each piece a
	// Message with Fin on the last, instead of the whole message once.
	// A compressed message is still delivered whole: compress/flate
	// inflates a whole message, not pieces of one.
	Stream bool
	// Inflater inflates compressed messages: set it when permessage-
	// deflate was agreed (and set Compression). Its output is bounded by
	// MaxMessage: a message that inflates past it is refused with 1009.
	Inflater *Inflater

	buf    []byte     // the message being reassembled (compressed: its compressed bytes)
	text   utf8Stream // the text message's UTF-8 so far
	closed bool
}

// Read reads p, calling deliver for each message (or piece), ping, pong or
// close it completes, in order. It returns how many bytes of p it consumed:
// the rest (part of a frame's header, part of a control frame) must be
// passed again with the bytes that follow. Read unmasks p in place. After a
// close frame it consumes nothing more. An error from deliver stops Read
// and is returned; a *CloseError is the peer's fault: answer with a Close
// frame of its code, then close the connection.
func (r *MessageReader) Read(p []byte, deliver func(Message) error) (n int, err error) {
	for !r.closed {
		c, k, err := r.Next(p[n:])
		if err != nil {
			return n, err
		}
		if k == 0 {
			return n, nil
		}
		n += k
		if err := r.chunk(c, deliver); err != nil {
			if e, ok := err.(*CloseError); ok {
				r.FrameReader.err = e
			}
			return n, err
		}
	}
	return n, nil
}

// atRest reports whether r holds nothing of a frame or message: the
// next byte must begin a frame, of a new message or a control frame.
func (r *MessageReader) atRest() bool {
	return !r.inFrame && !r.fragmented && r.err == nil && !r.closed && len(r.buf) == 0 && r.text.n == 0
}

func (r *MessageReader) chunk(c Chunk, deliver func(Message) error) error {
	if c.Header.Opcode.Control() {
		if c.Header.Opcode == OpClose {
			if _, _, err := ParseClose(c.Data); err != nil {
				return err
			}
			r.closed = true
		}
		return deliver(Message{Opcode: c.Header.Opcode, Data: c.Data, Fin: true})
	}
	if c.Compressed {
		if r.Inflater == nil {
			return protocolError("compressed message without an inflater")
		}
		r.buf = append(r.buf, c.Data...)
		if !c.MessageEnd() {
			return nil
		}
		return r.inflate(c.Message, deliver)
	}
	if c.Message == OpText && !r.text.write(c.Data) {
		return invalidPayload("text is not UTF-8")
	}
	end := c.MessageEnd()
	if end && c.Message == OpText && !r.text.done() {
		return invalidPayload("text is not UTF-8")
	}
	if r.Stream {
		if len(c.Data) == 0 && !end {
			return nil
		}
		return deliver(Message{Opcode: c.Message, Data: c.Data, Fin: end})
	}
	if end && len(r.buf) == 0 && c.First {
		// The whole message in one piece of the input: no copy.
		return deliver(Message{Opcode: c.Message, Data: c.Data, Fin: true})
	}
	r.buf = append(r.buf, c.Data...)
	if !end {
		return nil
	}
	err := deliver(Message{Opcode: c.Message, Data: r.buf, Fin: true})
	r.buf = nil // an idle connection keeps no message buffer
	return err
}

// inflate inflates the compressed message in r.buf and delivers it.
func (r *MessageReader) inflate(op Opcode, deliver func(Message) error) error {
	out, err := r.Inflater.Inflate(nil, r.buf, limit(r.MaxMessage, DefaultMaxMessage))
	r.buf = nil
	if err != nil {
		return err
	}
	if op == OpText && !utf8.Valid(out) {
		return invalidPayload("text is not UTF-8")
	}
	return deliver(Message{Opcode: op, Data: out, Fin: true})
}

// ParseClose reads a Close frame's payload (RFC 6455 section 5.5.1): an
// empty one is CloseNoStatus; otherwise a code a Close frame may carry
// (else 1002) and a UTF-8 reason (else 1007), returned as a *CloseError.
func ParseClose(payload []byte) (code CloseCode, reason string, err error) {
	switch {
	case len(payload) == 0:
		return CloseNoStatus, "", nil
	case len(payload) == 1:
		return 0, "", protocolError("close frame with a one-byte payload")
	}
	code = CloseCode(binary.BigEndian.Uint16(payload))
	if !code.Sendable() {
		return 0, "", protocolError("invalid close code")
	}
	if !utf8.Valid(payload[2:]) {
		return 0, "", invalidPayload("close reason is not UTF-8")
	}
	return code, string(payload[2:]), nil
}
