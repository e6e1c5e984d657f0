package websocket

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"github.com/iomux/iomux/internal/iomuxtest"
	"strings"
	"testing"
)

// A conformance case, re-derived from the Autobahn fuzzingclient's
// categories: a client's wire bytes, what a server's MessageReader must
// deliver, and the close code it must fail with (0: none).
type wsCase struct {
	cat  string // Autobahn category: "1.1" framing, "2" pings, ...
	name string
	wire []byte
	want []Message
	code CloseCode
	// failAt, if set, is the wire length at which a byte-by-byte reader
	// must fail: fail fast, before the rest arrives.
	failAt int
	reader MessageReader
}

func msg(op Opcode, data []byte) Message { return Message{Opcode: op, Data: data, Fin: true} }

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

func conformanceCases() []wsCase {
	var cs []wsCase
	add := func(c wsCase) { cs = append(cs, c) }

	// 1: framing at every length boundary, text and binary.
	for _, n := range []int{0, 1, 125, 126, 127, 128, 65535, 65536, 65537, 1 << 20} {
		payload := bytes.Repeat([]byte("*"), n)
		add(wsCase{cat: "1.1", name: fmt.Sprintf("text-%d", n), wire: clientFrame(0x81, payload), want: []Message{msg(OpText, payload)}})
		add(wsCase{cat: "1.2", name: fmt.Sprintf("binary-%d", n), wire: clientFrame(0x82, payload), want: []Message{msg(OpBinary, payload)}})
	}

	// 2: pings and pongs.
	for _, n := range []int{0, 1, 125} {
		p := bytes.Repeat([]byte{0xfe}, n)
		add(wsCase{cat: "2", name: fmt.Sprintf("ping-%d", n), wire: clientFrame(0x89, p), want: []Message{msg(OpPing, p)}})
	}
	add(wsCase{cat: "2", name: "ping-126", wire: clientFrame(0x89, make([]byte, 126)), code: CloseProtocolError, failAt: 2})
	add(wsCase{cat: "2", name: "pong-unsolicited", wire: clientFrame(0x8a, []byte("x")), want: []Message{msg(OpPong, []byte("x"))}})
	add(wsCase{cat: "2", name: "ping-10", wire: bytes.Repeat(clientFrame(0x89, []byte("p")), 10), want: repeatMsg(msg(OpPing, []byte("p")), 10)})

	// 3: reserved bits.
	for _, bit := range []byte{0x40, 0x20, 0x10, 0x70} {
		add(wsCase{cat: "3", name: fmt.Sprintf("rsv-%#x-text", bit), wire: cat(text("ok"), clientFrame(0x81|bit, []byte("x")), clientFrame(0x89, nil)),
			want: []Message{msg(OpText, []byte("ok"))}, code: CloseProtocolError})
		add(wsCase{cat: "3", name: fmt.Sprintf("rsv-%#x-ping", bit), wire: clientFrame(0x89|bit, []byte("x")), code: CloseProtocolError, failAt: 1 + 1})
	}

	// 4: reserved opcodes, with and without payload, after a message.
	for _, op := range []byte{3, 4, 5, 6, 7, 0xb, 0xc, 0xd, 0xe, 0xf} {
		add(wsCase{cat: "4", name: fmt.Sprintf("opcode-%d", op), wire: cat(text("ok"), clientFrame(0x80|op, []byte("payload")), text("never")),
			want: []Message{msg(OpText, []byte("ok"))}, code: CloseProtocolError})
	}

	// 5: fragmentation.
	add(wsCase{cat: "5", name: "ping-fragmented", wire: cat(clientFrame(0x09, []byte("a")), clientFrame(0x80, []byte("b"))), code: CloseProtocolError, failAt: 2})
	add(wsCase{cat: "5", name: "pong-fragmented", wire: cat(clientFrame(0x0a, []byte("a")), clientFrame(0x80, []byte("b"))), code: CloseProtocolError, failAt: 2})
	add(wsCase{cat: "5", name: "text-2-fragments", wire: cat(clientFrame(0x01, []byte("frag")), clientFrame(0x80, []byte("ment"))), want: []Message{msg(OpText, []byte("fragment"))}})
	add(wsCase{cat: "5", name: "binary-fragments-with-pings", wire: cat(clientFrame(0x02, []byte("a")), clientFrame(0x89, []byte("1")), clientFrame(0x00, []byte("b")), clientFrame(0x89, []byte("2")), clientFrame(0x80, []byte("c"))),
		want: []Message{msg(OpPing, []byte("1")), msg(OpPing, []byte("2")), msg(OpBinary, []byte("abc"))}})
	add(wsCase{cat: "5", name: "continuation-first", wire: cat(clientFrame(0x80, []byte("x")), text("never")), code: CloseProtocolError, failAt: 2})
	add(wsCase{cat: "5", name: "continuation-nonfinal-first", wire: cat(clientFrame(0x00, []byte("x")), clientFrame(0x80, []byte("y"))), code: CloseProtocolError, failAt: 2})
	add(wsCase{cat: "5", name: "continuation-after-message", wire: cat(text("ok"), clientFrame(0x80, []byte("y"))), want: []Message{msg(OpText, []byte("ok"))}, code: CloseProtocolError})
	add(wsCase{cat: "5", name: "text-inside-fragmented", wire: cat(clientFrame(0x01, []byte("a")), clientFrame(0x81, []byte("b"))), code: CloseProtocolError})
	add(wsCase{cat: "5", name: "empty-fragments", wire: cat(clientFrame(0x01, nil), clientFrame(0x00, nil), clientFrame(0x80, nil)), want: []Message{msg(OpText, []byte{})}})
	many := [][]byte{clientFrame(0x02, []byte{0})}
	for range 1000 {
		many = append(many, clientFrame(0x00, []byte{1}))
	}
	many = append(many, clientFrame(0x80, []byte{2}))
	want := append([]byte{0}, append(bytes.Repeat([]byte{1}, 1000), 2)...)
	add(wsCase{cat: "5", name: "1002-fragments", wire: cat(many...), want: []Message{msg(OpBinary, want)}})

	// 6: UTF-8.
	for i, s := range validUTF8 {
		add(wsCase{cat: "6", name: fmt.Sprintf("valid-%d", i), wire: text(s), want: []Message{msg(OpText, []byte(s))}})
		add(wsCase{cat: "6", name: fmt.Sprintf("valid-%d-per-byte-frames", i), wire: perByteFrames(s), want: []Message{msg(OpText, []byte(s))}})
	}
	for i, s := range invalidUTF8 {
		add(wsCase{cat: "6", name: fmt.Sprintf("invalid-%d", i), wire: text(s), code: CloseInvalidPayload})
		add(wsCase{cat: "6", name: fmt.Sprintf("invalid-%d-per-byte-frames", i), wire: perByteFrames(s), code: CloseInvalidPayload})
	}
	// 6.4: fail fast, in the frame that makes the text invalid, and
	// byte by byte at the very byte.
	prefix := "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5"
	f1 := clientFrame(0x01, []byte(prefix+"\xf4"))
	f2 := clientFrame(0x00, []byte("\x90"))
	f3 := clientFrame(0x80, []byte("\x80\x80edited"))
	add(wsCase{cat: "6.4.2", name: "fail-fast-fragment", wire: cat(f1, f2, f3), code: CloseInvalidPayload, failAt: len(f1) + len(f2)})
	one := clientFrame(0x81, []byte(prefix+"\xf4\x90\x80\x80edited"))
	add(wsCase{cat: "6.4.3", name: "fail-fast-in-frame", wire: one, code: CloseInvalidPayload, failAt: len(one) - len("\x80\x80edited")})

	// 7: close.
	add(wsCase{cat: "7", name: "close-empty", wire: cat(clientFrame(0x88, nil), text("ignored")), want: []Message{msg(OpClose, []byte{})}})
	add(wsCase{cat: "7", name: "close-1-byte", wire: clientFrame(0x88, []byte{3}), code: CloseProtocolError})
	add(wsCase{cat: "7", name: "close-bad-reason", wire: clientFrame(0x88, append(be16(1000), 0xce, 0xba, 0xe1, 0xbd)), code: CloseInvalidPayload})
	add(wsCase{cat: "7", name: "close-123-reason", wire: clientFrame(0x88, append(be16(1000), strings.Repeat("*", 123)...)), want: []Message{msg(OpClose, append(be16(1000), strings.Repeat("*", 123)...))}})
	add(wsCase{cat: "7", name: "close-124-reason", wire: clientFrame(0x88, append(be16(1000), strings.Repeat("*", 124)...)), code: CloseProtocolError, failAt: 2})
	for _, code := range []uint16{1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 3999, 4000, 4999} {
		p := append(be16(code), "bye"...)
		add(wsCase{cat: "7.7", name: fmt.Sprintf("close-%d", code), wire: clientFrame(0x88, p), want: []Message{msg(OpClose, p)}})
	}
	for _, code := range []uint16{0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535} {
		add(wsCase{cat: "7.9", name: fmt.Sprintf("close-%d", code), wire: clientFrame(0x88, be16(code)), code: CloseProtocolError})
	}

	// 9: big messages, whole and in fragments (sized for a unit test).
	for _, n := range []int{64 << 10, 256 << 10, 1 << 20, 4 << 20} {
		payload := bytes.Repeat([]byte("a"), n)
		add(wsCase{cat: "9.1", name: fmt.Sprintf("text-%d", n), wire: clientFrame(0x81, payload), want: []Message{msg(OpText, payload)}})
		for _, frag := range []int{64, 4096, 65536} {
			if n/frag > 4096 {
				continue
			}
			add(wsCase{cat: "9.3", name: fmt.Sprintf("text-%d-in-%d", n, frag), wire: fragmented(0x1, payload, frag), want: []Message{msg(OpText, payload)}})
		}
	}
	// 9: limits, refused from the header.
	small := MessageReader{FrameReader: FrameReader{MaxMessage: 1000}}
	add(wsCase{cat: "9", name: "over-limit", wire: clientFrame(0x82, make([]byte, 1001)), code: CloseMessageTooBig, failAt: 4, reader: small})
	add(wsCase{cat: "9", name: "at-limit", wire: clientFrame(0x82, make([]byte, 1000)), want: []Message{msg(OpBinary, make([]byte, 1000))}, reader: small})
	add(wsCase{cat: "9", name: "fragments-over-limit", wire: fragmented(0x2, make([]byte, 1001), 100), code: CloseMessageTooBig, reader: small})
	huge := []byte{0x82, 0xff, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1, 2, 3, 4}
	add(wsCase{cat: "9", name: "length-2^63-1", wire: huge, code: CloseMessageTooBig, failAt: 10})
	top := []byte{0x82, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4}
	add(wsCase{cat: "1", name: "length-top-bit", wire: top, code: CloseProtocolError, failAt: 3})

	// 10: a message cut in many frames of any size.
	add(wsCase{cat: "10", name: "auto-fragment", wire: fragmented(0x1, bytes.Repeat([]byte("b"), 65536), 1300), want: []Message{msg(OpText, bytes.Repeat([]byte("b"), 65536))}})

	// Masking.
	add(wsCase{cat: "mask", name: "unmasked-from-client", wire: AppendFrame(nil, OpText, true, []byte("x")), code: CloseProtocolError, failAt: 2})
	add(wsCase{cat: "mask", name: "masked-from-server", wire: text("x"), code: CloseProtocolError, failAt: 2, reader: MessageReader{FrameReader: FrameReader{Role: Client}}})
	add(wsCase{cat: "mask", name: "unmasked-to-client", wire: AppendFrame(nil, OpText, true, []byte("x")), want: []Message{msg(OpText, []byte("x"))}, reader: MessageReader{FrameReader: FrameReader{Role: Client}}})
	return cs
}

func repeatMsg(m Message, n int) []Message {
	out := make([]Message, n)
	for i := range out {
		out[i] = m
	}
	return out
}

func be16(v uint16) []byte { return binary.BigEndian.AppendUint16(nil, v) }

// fragmented cuts payload into client frames of size bytes.
func fragmented(op byte, payload []byte, size int) []byte {
	var out []byte
	for first := true; ; first = false {
		n := min(size, len(payload))
		b0 := byte(0)
		if first {
			b0 = op
		}
		if n == len(payload) {
			b0 |= 0x80
		}
		out = append(out, clientFrame(b0, payload[:n])...)
		payload = payload[n:]
		if len(payload) == 0 {
			return out
		}
	}
}

func perByteFrames(s string) []byte {
	if s == "" {
		return text("")
	}
	return fragmented(0x1, []byte(s), 1)
}

// Autobahn 6.x's sequences (Markus Kuhn's UTF-8 decoder capability test).
var validUTF8 = []string{
	"", "Hello-µ@ßöäüàá-UTF-8!!", "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5",
	"\x00", "\u0080", "\u0800", "\U00010000", // first of each length
	"\x7f", "\u07ff", "\uffff", "\U0010ffff", // last of each length
	"\ud7ff", "\ue000", "\ufffd", "\ufffe", "\U0001fffe", "\U0010fffe", // boundaries, noncharacters are valid
}

var invalidUTF8 = []string{
	"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80edited", // 6.3: a surrogate inside
	"\xf8\x88\x80\x80\x80", "\xfc\x84\x80\x80\x80\x80", // 5 and 6 byte sequences
	"\xf4\x90\x80\x80", "\xf7\xbf\xbf\xbf", // past U+10FFFF
	"\x80", "\xbf", "\x80\xbf", "\x80\xbf\x80\xbf", // lone continuation bytes
	"\xc0 ", "\xe0\x80 ", "\xf0\x80\x80 ", // leads followed by a space
	"\xc0", "\xe0\x80", "\xf0\x80\x80", "\xdf", "\xef\xbf", "\xf7\xbf\xbf", // truncated at the end
	"\xfe", "\xff", "\xfe\xfe\xff\xff",
	"\xc0\xaf", "\xe0\x80\xaf", "\xf0\x80\x80\xaf", // overlong '/'
	"\xc1\xbf", "\xe0\x9f\xbf", "\xf0\x8f\xbf\xbf", // maximal overlongs
	"\xed\xa0\x80", "\xed\xad\xbf", "\xed\xbf\xbf", // single surrogates
	"\xed\xa0\x80\xed\xb0\x80", // a surrogate pair
}

// TestConformance plays every case whole, byte by byte and in random cuts
// to a server's MessageReader, assembled and streaming.
func TestConformance(t *testing.T) {
	counts := map[string]int{}
	for _, c := range conformanceCases() {
		counts[strings.SplitN(c.cat, ".", 2)[0]]++
		for _, stream := range []bool{false, true} {
			for _, s := range iomuxtest.Splits {
				if s.Mode == iomuxtest.ByteByByte && len(c.wire) > 70000 {
					continue // the same code as smaller cases, at a cost
				}
				r := c.reader
				r.Stream = stream
				g := play(&r, bytes.Clone(c.wire), s)
				if code := closeCode(g.err); code != c.code {
					t.Errorf("%s %s stream=%v %s: close %d, want %d (%v)", c.cat, c.name, stream, s, code, c.code, g)
					continue
				}
				if s.Mode == iomuxtest.ByteByByte && c.failAt > 0 && g.at != c.failAt {
					t.Errorf("%s %s stream=%v: failed after %d bytes, want %d", c.cat, c.name, stream, g.at, c.failAt)
				}
				msgs := g.msgs
				if stream {
					msgs = joinPieces(msgs)
				}
				if c.code == 0 || len(c.want) > 0 {
					if err := sameMessages(msgs, c.want); err != nil {
						t.Errorf("%s %s stream=%v %s: %v", c.cat, c.name, stream, s, err)
					}
				}
			}
		}
	}
	t.Logf("cases per category: %v", counts)
}

// joinPieces reassembles Stream mode's pieces into whole messages.
func joinPieces(pieces []Message) []Message {
	var out []Message
	var cur []byte
	open := false
	for _, p := range pieces {
		if p.Opcode.Control() {
			out = append(out, p)
			continue
		}
		if !open {
			cur = []byte{}
		}
		cur = append(cur, p.Data...)
		open = !p.Fin
		if p.Fin {
			out = append(out, Message{Opcode: p.Opcode, Data: cur, Fin: true})
		}
	}
	return out
}

func sameMessages(got, want []Message) error {
	if len(got) != len(want) {
		return fmt.Errorf("%d messages, want %d", len(got), len(want))
	}
	for i := range got {
		if got[i].Opcode != want[i].Opcode || !bytes.Equal(got[i].Data, want[i].Data) || !got[i].Fin {
			return fmt.Errorf("message %d: %s %d bytes, want %s %d bytes", i, got[i].Opcode, len(got[i].Data), want[i].Opcode, len(want[i].Data))
		}
	}
	return nil
}
