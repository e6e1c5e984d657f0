package websocket

import (
	"bytes"
	"testing"
)

// FuzzFrameReader feeds arbitrary bytes to a server's and a client's
// MessageReader, whole and in cuts the input chooses, and requires the
// same outcome either way, no panic, and the limits kept.
func FuzzFrameReader(f *testing.F) {
	f.Add([]byte{0x81, 0x85, 1, 2, 3, 4, 'h' ^ 1, 'e' ^ 2, 'l' ^ 3, 'l' ^ 4, 'o' ^ 1}, uint8(3))
	f.Add(cat(clientFrame(0x01, []byte("frag")), clientFrame(0x89, []byte("p")), clientFrame(0x80, []byte("ment"))), uint8(1))
	f.Add(clientFrame(0x88, append(be16(1000), "bye"...)), uint8(7))
	f.Add([]byte{0x82, 0xff, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, uint8(2))
	f.Add(clientFrame(0x81, []byte("\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xf4\x90")), uint8(5))
	f.Add(AppendFrame(nil, OpBinary, true, bytes.Repeat([]byte("x"), 300)), uint8(0))
	f.Fuzz(func(t *testing.T, wire []byte, cut uint8) {
		for _, role := range []Role{Server, Client} {
			outcome := func(pieces [][]byte) (string, int) {
				r := MessageReader{FrameReader: FrameReader{Role: role, MaxMessage: 1 << 12, Compression: true}, Inflater: NewInflater(true, 15)}
				var pending []byte
				var out bytes.Buffer
				total := 0
				for _, p := range pieces {
					pending = append(pending, p...)
					n, err := r.Read(pending, func(m Message) error {
						if int64(len(m.Data)) > 1<<12 {
							t.Fatalf("message of %d bytes past the limit", len(m.Data))
						}
						out.WriteString(m.Opcode.String())
						out.Write(m.Data)
						return nil
					})
					if n < 0 || n > len(pending) {
						t.Fatalf("consumed %d of %d", n, len(pending))
					}
					total += n
					pending = append(pending[:0], pending[n:]...)
					if err != nil {
						out.WriteString(err.Error())
						break
					}
				}
				return out.String(), total
			}
			wholeOut, _ := outcome([][]byte{bytes.Clone(wire)})
			var pieces [][]byte
			w := bytes.Clone(wire)
			step := int(cut%16) + 1
			for len(w) > 0 {
				n := min(step, len(w))
				pieces = append(pieces, w[:n])
				w = w[n:]
			}
			cutOut, _ := outcome(pieces)
			if wholeOut != cutOut {
				t.Fatalf("role %d: whole %q, cut by %d %q", role, wholeOut, step, cutOut)
			}
		}
	})
}

// FuzzInflate inflates arbitrary data with and without a window, and
// requires the limit kept and a valid message to round-trip.
func FuzzInflate(f *testing.F) {
	f.Add([]byte("hello, hello, hello"), []byte{0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00})
	f.Add(bytes.Repeat([]byte{0}, 5000), NewDeflater(0, false).Deflate(nil, make([]byte, 1<<20)))
	f.Add([]byte{}, []byte{0x00})
	f.Add([]byte("x"), []byte{0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, msg, data []byte) {
		const limit = 1 << 16
		if len(msg) > limit || len(data) > limit {
			return // larger inputs find nothing new, and slow the fuzzer down
		}
		for _, takeover := range []bool{false, true} {
			fl := NewInflater(takeover, 15)
			out, err := fl.Inflate(nil, data, limit)
			if len(out) > limit+1 {
				t.Fatalf("inflated %d bytes past the limit %d", len(out), limit)
			}
			if err != nil && closeCode(err) != CloseInvalidPayload && closeCode(err) != CloseMessageTooBig {
				t.Fatalf("error %v", err)
			}
			// The window after any input still inflates a valid message.
			d := NewDeflater(0, takeover)
			fl = NewInflater(takeover, 15)
			for range 2 {
				got, err := fl.Inflate(nil, d.Deflate(nil, msg), limit)
				if err != nil || !bytes.Equal(got, msg) {
					t.Fatalf("round trip: %v", err)
				}
			}
			d.Release()
		}
	})
}
