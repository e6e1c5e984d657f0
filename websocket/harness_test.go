package websocket

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/iomux/iomux/internal/iomuxtest"
)

// got is what a MessageReader delivered from a wire, and how it ended.
type got struct {
	msgs []Message // copies
	err  error
	at   int // wire bytes delivered when err came
}

func (g got) String() string {
	var b bytes.Buffer
	for _, m := range g.msgs {
		fmt.Fprintf(&b, "%s(%d,fin=%v) ", m.Opcode, len(m.Data), m.Fin)
	}
	fmt.Fprintf(&b, "err=%v", g.err)
	return b.String()
}

// play feeds wire to r in the pieces s cuts, as a loop does: the bytes Read
// leaves are kept and passed again with the next piece.
func play(r *MessageReader, wire []byte, s iomuxtest.Split) got {
	var g got
	var pending []byte
	// Every piece is copied: Read unmasks in place, and the wire is
	// shared by the splits.
	for _, p := range s.Pieces(wire) {
		g.at += len(p)
		pending = append(pending, p...)
		n, err := r.Read(pending, func(m Message) error {
			m.Data = bytes.Clone(m.Data)
			g.msgs = append(g.msgs, m)
			return nil
		})
		pending = append(pending[:0], pending[n:]...)
		if err != nil {
			g.err = err
			return g
		}
	}
	return g
}

func closeCode(err error) CloseCode {
	var ce *CloseError
	if errors.As(err, &ce) {
		return ce.Code
	}
	return 0
}

// clientFrame is a masked frame as a client sends it, with any header
// bits: the raw builder for malformed frames.
func clientFrame(b0 byte, payload []byte) []byte {
	var w FrameWriter
	w.Role = Client
	h := Header{Fin: b0&0x80 != 0, Compressed: b0&0x40 != 0, Opcode: Opcode(b0 & 0x0f), Length: int64(len(payload))}
	out := w.appendFrame(nil, h, payload)
	out[0] = b0 // RSV2, RSV3 as given
	return out
}

func text(s string) []byte { return clientFrame(0x81, []byte(s)) }
