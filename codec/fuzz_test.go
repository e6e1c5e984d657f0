package codec

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"testing"
	"testing/iotest"
)

// checkStream checks what every framer must do on arbitrary input: never
// panic, return frames within the limit that the buffer holds, capped, cut
// the same frames and fail the same way however the stream is chunked, and
// do the same for a bufio.Scanner, which at EOF may add the unterminated
// rest as a last frame or say that a frame was cut short.
func checkStream(t *testing.T, split bufio.SplitFunc, data []byte, limit int) {
	t.Helper()
	buf := data
	for {
		n, frame, err := split(buf, false)
		if err != nil {
			if !errors.Is(err, ErrFrameTooLarge) {
				t.Fatalf("error %v is not ErrFrameTooLarge", err)
			}
			break
		}
		if n == 0 {
			break
		}
		if n > len(buf) || len(frame) > n || len(frame) > limit || cap(frame) != len(frame) {
			t.Fatalf("split(%q) = %d, %q (cap %d); limit %d", buf, n, frame, cap(frame), limit)
		}
		buf = buf[n:]
	}

	whole := feed(split, data, 0)
	for _, chunk := range []int{1, 5} {
		r := feed(split, data, chunk)
		if !equalFrames(r.frames, whole.frames) || (r.err == nil) != (whole.err == nil) ||
			r.err == nil && r.rest != whole.rest {
			t.Fatalf("chunk %d: frames %q, err %v, rest %q; all at once: %q, %v, %q",
				chunk, r.frames, r.err, r.rest, whole.frames, whole.err, whole.rest)
		}
	}

	sc := bufio.NewScanner(iotest.HalfReader(bytes.NewReader(data)))
	sc.Buffer(nil, 1<<20)
	sc.Split(split)
	var scanned []string
	for sc.Scan() {
		scanned = append(scanned, sc.Text())
	}
	err := sc.Err()
	ok := len(scanned) >= len(whole.frames) && equalFrames(scanned[:len(whole.frames)], whole.frames)
	switch extra := len(scanned) - len(whole.frames); {
	case !ok:
	case whole.err != nil: // the Scanner fails where Each did
		ok = extra == 0 && errors.Is(err, ErrFrameTooLarge)
	case extra == 1: // the unterminated rest (a line's "\r" stripped)
		last := scanned[len(scanned)-1]
		ok = err == nil && whole.rest != "" && (last == whole.rest || last+"\r" == whole.rest)
	case extra == 0 && whole.rest == "":
		ok = err == nil
	case extra == 0: // a frame cut short, or a partial delimiter past the limit
		ok = errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, ErrFrameTooLarge)
	default:
		ok = false
	}
	if !ok {
		t.Fatalf("bufio.Scanner: frames %q, err %v; Each: %q, %v, rest %q", scanned, err, whole.frames, whole.err, whole.rest)
	}
}

func FuzzLines(f *testing.F) {
	f.Add([]byte("hello\r\nworld\n\n"), uint8(4), false)
	f.Add([]byte("a\r\r\nb\rc\n"), uint8(1), true)
	f.Add([]byte("abcd\rx"), uint8(3), false)
	f.Fuzz(func(t *testing.T, data []byte, maxLen uint8, crlf bool) {
		limit := int(maxLen) + 1
		checkStream(t, Lines(limit), data, limit)

		// Round trip: lines without "\n" (and without a trailing "\r",
		// which the terminator would eat) survive encoding and splitting.
		lines := bytes.Split(data, []byte("\n"))
		longest := 0
		var enc []byte
		for i, l := range lines {
			l = bytes.TrimRight(l, "\r")
			lines[i] = l
			longest = max(longest, len(l))
			enc = append(enc, l...)
			if crlf {
				enc = append(enc, '\r')
			}
			enc = append(enc, '\n')
		}
		r := feed(Lines(max(longest, 1)), enc, 3)
		if r.err != nil || r.rest != "" || len(r.frames) != len(lines) {
			t.Fatalf("round trip of %q: %q, rest %q, %v", lines, r.frames, r.rest, r.err)
		}
		for i := range lines {
			if r.frames[i] != string(lines[i]) {
				t.Fatalf("round trip: line %d = %q, want %q", i, r.frames[i], lines[i])
			}
		}
		if longest >= 2 {
			r := feed(Lines(longest-1), enc, 1)
			if !errors.Is(r.err, ErrFrameTooLarge) {
				t.Fatalf("limit %d below the longest line: err = %v", longest-1, r.err)
			}
		}
	})
}

func FuzzDelimiter(f *testing.F) {
	f.Add([]byte("ab--cd--e"), []byte("--"), uint8(3))
	f.Add([]byte("xaaabab"), []byte("aab"), uint8(1))
	f.Fuzz(func(t *testing.T, data, delim []byte, maxLen uint8) {
		if len(delim) == 0 {
			if split, err := Delimiter(delim, int(maxLen)); err == nil || split != nil {
				t.Fatalf("Delimiter(%q): %v, want only an error", delim, err)
			}
			return
		}
		if len(delim) > 8 {
			return
		}
		limit := int(maxLen) + 1
		checkStream(t, must(Delimiter(delim, limit)), data, limit)

		// Round trip, for pieces whose first delimiter is the one we add.
		var enc []byte
		var pieces [][]byte
		for _, p := range bytes.Split(data, delim) {
			withDelim := append(bytes.Clone(p), delim...)
			if bytes.Index(withDelim, delim) != len(p) {
				return
			}
			enc = append(enc, withDelim...)
			pieces = append(pieces, p)
		}
		r := feed(must(Delimiter(delim, max(len(data), 1))), enc, 2)
		if r.err != nil || r.rest != "" || len(r.frames) != len(pieces) {
			t.Fatalf("round trip of %q: %q, rest %q, %v", pieces, r.frames, r.rest, r.err)
		}
		for i := range pieces {
			if r.frames[i] != string(pieces[i]) {
				t.Fatalf("round trip: frame %d = %q, want %q", i, r.frames[i], pieces[i])
			}
		}
	})
}

func FuzzLengthPrefixed(f *testing.F) {
	f.Add([]byte("\x00\x03abc\x00\x00"), uint8(1), false, uint16(8))
	f.Add([]byte("\xff\xff\xff\xff\xff\xff\xff\xff"), uint8(3), true, uint16(100))
	f.Add([]byte("hello\x00\x00world"), uint8(0), false, uint16(3))
	f.Fuzz(func(t *testing.T, data []byte, headerSel uint8, little bool, max16 uint16) {
		header := []int{1, 2, 4, 8}[headerSel%4]
		var order binary.ByteOrder = binary.BigEndian
		if little {
			order = binary.LittleEndian
		}
		limit := int(max16) + 1
		checkStream(t, must(LengthPrefixed(header, order, limit)), data, limit)

		// Round trip: the pieces of data between zero bytes, encoded.
		var enc []byte
		var payloads [][]byte
		longest := 0
		for _, p := range bytes.Split(data, []byte{0}) {
			var err error
			enc, err = AppendLengthPrefixed(enc, header, order, p)
			if header == 1 && len(p) > 255 {
				if !errors.Is(err, ErrFrameTooLarge) {
					t.Fatalf("%d bytes behind a 1-byte header: err = %v", len(p), err)
				}
				continue
			}
			if err != nil {
				t.Fatal(err)
			}
			payloads = append(payloads, p)
			longest = max(longest, len(p))
		}
		r := feed(must(LengthPrefixed(header, order, max(longest, 1))), enc, 3)
		if r.err != nil || r.rest != "" || len(r.frames) != len(payloads) {
			t.Fatalf("round trip of %q: %q, rest %q, %v", payloads, r.frames, r.rest, r.err)
		}
		for i := range payloads {
			if r.frames[i] != string(payloads[i]) {
				t.Fatalf("round trip: frame %d = %q, want %q", i, r.frames[i], payloads[i])
			}
		}
		// Below the longest payload, the error surfaces on its header,
		// before any of its body is buffered.
		if longest >= 2 {
			r := feed(must(LengthPrefixed(header, order, longest-1)), enc, 1)
			if !errors.Is(r.err, ErrFrameTooLarge) || r.buffered != header {
				t.Fatalf("limit %d: err %v after %d buffered bytes, want ErrFrameTooLarge after %d",
					longest-1, r.err, r.buffered, header)
			}
		}
	})
}
