package codec

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

// conn mimics a loop connection: bytes arrive in reads, the handler sees
// everything buffered through Peek(-1), and what it does not Discard stays
// buffered for the next read.
type conn struct{ buf []byte }

func (c *conn) read(p []byte)     { c.buf = append(c.buf, p...) }
func (c *conn) Peek(n int) []byte { return c.buf[:len(c.buf):len(c.buf)] }
func (c *conn) Discard(n int) int { c.buf = c.buf[n:]; return n }

// result is what a handler saw while a stream arrived.
type result struct {
	frames   []string
	rest     string // buffered, unconsumed bytes at the end or at the error
	err      error
	buffered int // bytes buffered when the error surfaced
}

// feed delivers input in reads of chunk bytes (all at once if chunk <= 0)
// and runs Each after every read, as an OnData handler would.
func feed(split bufio.SplitFunc, input []byte, chunk int) result {
	if chunk <= 0 {
		chunk = max(len(input), 1)
	}
	var c conn
	var r result
	for len(input) > 0 {
		k := min(chunk, len(input))
		c.read(input[:k])
		input = input[k:]
		buffered := len(c.buf)
		n, err := Each(split, c.Peek(-1), func(f []byte) error {
			r.frames = append(r.frames, string(f))
			return nil
		})
		c.Discard(n)
		if err != nil {
			r.err, r.buffered = err, buffered
			break
		}
	}
	r.rest = string(c.buf)
	return r
}

// chunkings are the read sizes every table case is fed with: all at once,
// byte by byte, and a few splits that land on and across terminators.
var chunkings = []int{0, 1, 2, 3, 7}

type splitCase struct {
	name    string
	in      string
	frames  []string
	rest    string // unconsumed bytes left buffered (when no error)
	tooLong bool   // expect ErrFrameTooLarge after the frames
}

func runSplitCases(t *testing.T, split bufio.SplitFunc, cases []splitCase) {
	t.Helper()
	for _, tc := range cases {
		for _, chunk := range chunkings {
			t.Run(fmt.Sprintf("%s/chunk=%d", tc.name, chunk), func(t *testing.T) {
				r := feed(split, []byte(tc.in), chunk)
				if !equalFrames(r.frames, tc.frames) {
					t.Errorf("frames = %q, want %q", r.frames, tc.frames)
				}
				if tc.tooLong {
					if !errors.Is(r.err, ErrFrameTooLarge) {
						t.Errorf("err = %v, want ErrFrameTooLarge", r.err)
					}
					return
				}
				if r.err != nil {
					t.Errorf("err = %v, want nil", r.err)
				}
				if r.rest != tc.rest {
					t.Errorf("rest = %q, want %q", r.rest, tc.rest)
				}
			})
		}
	}
}

func equalFrames(got, want []string) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		if got[i] != want[i] {
			return false
		}
	}
	return true
}

func TestLines(t *testing.T) {
	runSplitCases(t, Lines(4), []splitCase{
		{name: "lf", in: "a\nbc\n", frames: []string{"a", "bc"}},
		{name: "crlf", in: "a\r\nbc\r\n", frames: []string{"a", "bc"}},
		{name: "mixed", in: "a\r\nb\nc\r\n", frames: []string{"a", "b", "c"}},
		{name: "empty lines", in: "\n\r\n\n", frames: []string{"", "", ""}},
		{name: "bare cr kept", in: "a\rb\n", frames: []string{"a\rb"}},
		{name: "cr cr lf strips one", in: "a\r\r\n", frames: []string{"a\r"}},
		{name: "partial kept", in: "ab\ncd", frames: []string{"ab"}, rest: "cd"},
		{name: "partial cr kept", in: "ab\r", rest: "ab\r"},
		{name: "at limit lf", in: "abcd\n", frames: []string{"abcd"}},
		{name: "at limit crlf", in: "abcd\r\n", frames: []string{"abcd"}},
		{name: "at limit unterminated", in: "abcd", rest: "abcd"},
		{name: "at limit awaiting lf", in: "abcd\r", rest: "abcd\r"},
		{name: "over limit lf", in: "ok\nabcde\n", frames: []string{"ok"}, tooLong: true},
		{name: "over limit crlf", in: "abcde\r\n", tooLong: true},
		{name: "over limit unterminated", in: "abcde", tooLong: true},
		{name: "cr not followed by lf", in: "abcd\rx", tooLong: true},
	})
}

func TestDelimiter(t *testing.T) {
	runSplitCases(t, must(Delimiter([]byte("--"), 4)), []splitCase{
		{name: "two", in: "ab--cd--", frames: []string{"ab", "cd"}},
		{name: "empty frames", in: "----", frames: []string{"", ""}},
		{name: "half delimiter inside", in: "a-b--", frames: []string{"a-b"}},
		{name: "partial kept", in: "ab--cd-", frames: []string{"ab"}, rest: "cd-"},
		{name: "at limit", in: "abcd--x", frames: []string{"abcd"}, rest: "x"},
		{name: "at limit awaiting delimiter", in: "abcd-", rest: "abcd-"},
		{name: "over limit", in: "abcde--", tooLong: true},
		{name: "over limit unterminated", in: "abcde", tooLong: true},
		{name: "broken delimiter past limit", in: "abcd-x", tooLong: true},
	})
	// A delimiter that overlaps itself: the frame ends at its first
	// occurrence, and a tail that may still become one is kept.
	runSplitCases(t, must(Delimiter([]byte("aab"), 2)), []splitCase{
		{name: "overlap", in: "xaaab", frames: []string{"xa"}},
		{name: "overlap partial", in: "xaaa", rest: "xaaa"},
		{name: "overlap over limit", in: "xyaaab", tooLong: true},
	})
}

func TestFixed(t *testing.T) {
	runSplitCases(t, must(Fixed(3)), []splitCase{
		{name: "exact", in: "abcdef", frames: []string{"abc", "def"}},
		{name: "tail kept", in: "abcd", frames: []string{"abc"}, rest: "d"},
		{name: "short", in: "ab", rest: "ab"},
	})
}

func TestLengthPrefixed(t *testing.T) {
	le, be := binary.LittleEndian, binary.BigEndian
	for _, tc := range []struct {
		header int
		order  binary.ByteOrder
		cases  []splitCase
	}{
		{1, nil, []splitCase{
			{name: "two", in: "\x03abc\x01d", frames: []string{"abc", "d"}},
			{name: "length 0", in: "\x00\x00\x02ab", frames: []string{"", "", "ab"}},
			{name: "at limit", in: "\x04abcd", frames: []string{"abcd"}},
			{name: "partial body", in: "\x04abc", rest: "\x04abc"},
			{name: "over limit", in: "\x01a\x05", frames: []string{"a"}, tooLong: true},
		}},
		{2, be, []splitCase{
			{name: "two", in: "\x00\x03abc\x00\x00", frames: []string{"abc", ""}},
			{name: "partial header", in: "\x00", rest: "\x00"},
			{name: "over limit", in: "\x00\x05abcde", tooLong: true},
			{name: "huge", in: "\xff\xff", tooLong: true},
		}},
		{2, le, []splitCase{
			{name: "two", in: "\x03\x00abc\x01\x00d", frames: []string{"abc", "d"}},
			{name: "big-endian 3 is huge", in: "\x00\x03abc", tooLong: true},
		}},
		{4, be, []splitCase{
			{name: "one", in: "\x00\x00\x00\x02ab", frames: []string{"ab"}},
			{name: "huge", in: "\x80\x00\x00\x00", tooLong: true},
		}},
		{4, le, []splitCase{
			{name: "one", in: "\x02\x00\x00\x00ab", frames: []string{"ab"}},
		}},
		{8, be, []splitCase{
			{name: "one", in: "\x00\x00\x00\x00\x00\x00\x00\x01a", frames: []string{"a"}},
			{name: "uint64 max", in: strings.Repeat("\xff", 8), tooLong: true},
			{name: "above int max", in: "\x80\x00\x00\x00\x00\x00\x00\x00", tooLong: true},
		}},
		{8, le, []splitCase{
			{name: "one", in: "\x01\x00\x00\x00\x00\x00\x00\x00a", frames: []string{"a"}},
		}},
	} {
		t.Run(fmt.Sprintf("%d-byte/%v", tc.header, tc.order), func(t *testing.T) {
			runSplitCases(t, must(LengthPrefixed(tc.header, tc.order, 4)), tc.cases)
		})
	}
}

// TestTooLargeDetectedEarly checks that a peer cannot grow the buffer: the
// error surfaces on the first read that makes a valid frame impossible,
// not when a terminator or the body finally arrives.
func TestTooLargeDetectedEarly(t *testing.T) {
	const limit = 16
	endless := bytes.Repeat([]byte("x"), 10*limit)
	for _, tc := range []struct {
		name  string
		split bufio.SplitFunc
		in    []byte
		at    int // bytes buffered when the error must surface
	}{
		{"lines", Lines(limit), endless, limit + 1},
		{"lines cr at limit", Lines(limit), append(bytes.Repeat([]byte("x"), limit), "\rxx"...), limit + 2},
		{"delimiter", must(Delimiter([]byte("\r\n\r\n"), limit)), endless, limit + 1},
		{"delimiter partial at limit", must(Delimiter([]byte("\r\n\r\n"), limit)),
			append(bytes.Repeat([]byte("x"), limit), "\r\n\rx"...), limit + 4},
		{"length header only", must(LengthPrefixed(4, binary.BigEndian, limit)),
			[]byte{0x7f, 0xff, 0xff, 0xff}, 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := feed(tc.split, tc.in, 1)
			if !errors.Is(r.err, ErrFrameTooLarge) {
				t.Fatalf("err = %v, want ErrFrameTooLarge", r.err)
			}
			if r.buffered != tc.at {
				t.Errorf("error after %d buffered bytes, want %d", r.buffered, tc.at)
			}
		})
	}
}

func TestErrorMessages(t *testing.T) {
	for _, tc := range []struct {
		split bufio.SplitFunc
		in    string
		want  string
	}{
		{Lines(4), "abcdefg\n", "codec: frame too large: 8 bytes buffered without a terminator, limit 4"},
		{Lines(4), "abcde\n", "codec: frame too large: 5 bytes, limit 4"},
		{must(Delimiter([]byte(";"), 2)), "abc", "codec: frame too large: 3 bytes buffered without a terminator, limit 2"},
		{must(LengthPrefixed(2, binary.BigEndian, 100)), "\x01\x00", "codec: frame too large: header declares 256 bytes, limit 100"},
	} {
		_, _, err := tc.split([]byte(tc.in), false)
		if err == nil || err.Error() != tc.want {
			t.Errorf("split(%q) error = %v, want %q", tc.in, err, tc.want)
		}
	}
}

func TestFrameCapacityCapped(t *testing.T) {
	buf := []byte("ab\ncd\n")
	_, frame, _ := Lines(10)(buf, false)
	_ = append(frame, 'X')
	if string(buf) != "ab\ncd\n" {
		t.Fatalf("append to a frame overwrote the buffer: %q", buf)
	}
}

func TestEach(t *testing.T) {
	buf := []byte("a\nb\nc\nd")
	t.Run("all", func(t *testing.T) {
		var got []string
		n, err := Each(Lines(8), buf, func(f []byte) error { got = append(got, string(f)); return nil })
		if n != 6 || err != nil || strings.Join(got, ",") != "a,b,c" {
			t.Fatalf("Each = %d, %v, frames %q", n, err, got)
		}
	})
	t.Run("callback error consumes its frame", func(t *testing.T) {
		bad := errors.New("bad command")
		n, err := Each(Lines(8), buf, func(f []byte) error {
			if string(f) == "b" {
				return bad
			}
			return nil
		})
		if n != 4 || err != bad {
			t.Fatalf("Each = %d, %v; want 4, %v", n, err, bad)
		}
	})
	t.Run("ErrStop", func(t *testing.T) {
		n, err := Each(Lines(8), buf, func([]byte) error { return ErrStop })
		if n != 2 || err != nil {
			t.Fatalf("Each = %d, %v; want 2, nil", n, err)
		}
	})
	t.Run("splitter error keeps earlier frames", func(t *testing.T) {
		var got []string
		n, err := Each(Lines(1), []byte("a\nb\nlong\n"), func(f []byte) error { got = append(got, string(f)); return nil })
		if n != 4 || !errors.Is(err, ErrFrameTooLarge) || len(got) != 2 {
			t.Fatalf("Each = %d, %v, frames %q", n, err, got)
		}
	})
	t.Run("empty buffer", func(t *testing.T) {
		n, err := Each(Lines(1), nil, func([]byte) error { t.Fatal("called"); return nil })
		if n != 0 || err != nil {
			t.Fatalf("Each = %d, %v", n, err)
		}
	})
	t.Run("SplitFunc", func(t *testing.T) {
		// One frame per byte: a custom framing, as any bufio.SplitFunc.
		perByte := func(b []byte, atEOF bool) (int, []byte, error) {
			if len(b) == 0 {
				return 0, nil, nil
			}
			return 1, b[:1:1], nil
		}
		count := 0
		n, err := Each(perByte, []byte("xyz"), func([]byte) error { count++; return nil })
		if n != 3 || err != nil || count != 3 {
			t.Fatalf("Each = %d, %v, %d frames", n, err, count)
		}
	})
}

func TestAppendLengthPrefixed(t *testing.T) {
	for _, tc := range []struct {
		header int
		order  binary.ByteOrder
		want   string
	}{
		{1, nil, "\x03abc"},
		{2, binary.BigEndian, "\x00\x03abc"},
		{2, binary.LittleEndian, "\x03\x00abc"},
		{4, binary.BigEndian, "\x00\x00\x00\x03abc"},
		{8, binary.LittleEndian, "\x03\x00\x00\x00\x00\x00\x00\x00abc"},
	} {
		got, err := AppendLengthPrefixed([]byte("prev"), tc.header, tc.order, []byte("abc"))
		if err != nil || string(got) != "prev"+tc.want {
			t.Errorf("%d-byte %v: got %q, %v; want %q", tc.header, tc.order, got, err, "prev"+tc.want)
		}
	}

	dst := []byte("prev")
	got, err := AppendLengthPrefixed(dst, 1, nil, make([]byte, 256))
	if !errors.Is(err, ErrFrameTooLarge) || string(got) != "prev" {
		t.Errorf("256 bytes behind a 1-byte header: %q, %v; want dst unchanged and ErrFrameTooLarge", got, err)
	}
	if got, err := AppendLengthPrefixed(dst, 1, nil, make([]byte, 255)); err != nil || len(got) != 4+1+255 {
		t.Errorf("255 bytes behind a 1-byte header: len %d, %v", len(got), err)
	}
	if _, err := AppendLengthPrefixed(dst, 3, binary.BigEndian, nil); err == nil {
		t.Error("3-byte header: no error")
	}
	if _, err := AppendLengthPrefixed(dst, 2, nil, nil); err == nil {
		t.Error("nil order: no error")
	}
}

// A configuration with no meaning is an error; a max of 0 or less means
// DefaultMaxFrame.
func TestConstructorsRejectBadConfig(t *testing.T) {
	for name, f := range map[string]func() (bufio.SplitFunc, error){
		"Delimiter(empty)":          func() (bufio.SplitFunc, error) { return Delimiter(nil, 10) },
		"Fixed(0)":                  func() (bufio.SplitFunc, error) { return Fixed(0) },
		"Fixed(-1)":                 func() (bufio.SplitFunc, error) { return Fixed(-1) },
		"LengthPrefixed(3 bytes)":   func() (bufio.SplitFunc, error) { return LengthPrefixed(3, binary.BigEndian, 10) },
		"LengthPrefixed(nil order)": func() (bufio.SplitFunc, error) { return LengthPrefixed(4, nil, 10) },
	} {
		t.Run(name, func(t *testing.T) {
			if split, err := f(); err == nil || split != nil {
				t.Errorf("got a SplitFunc (%v) and error %v, want only an error", split != nil, err)
			}
		})
	}
	x := bytes.Repeat([]byte("x"), DefaultMaxFrame)
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	lengthOf := func(n int) []byte { return binary.BigEndian.AppendUint32(nil, uint32(n)) }
	for name, tc := range map[string]struct {
		split       bufio.SplitFunc
		atMax, past []byte // a frame of DefaultMaxFrame bytes, and one of a byte more
	}{
		"Lines(0)":              {Lines(0), cat(x, []byte("\n")), cat(x, []byte("x\n"))},
		"Lines(-1)":             {Lines(-1), cat(x, []byte("\n")), cat(x, []byte("x\n"))},
		"Delimiter(max -1)":     {must(Delimiter([]byte(";"), -1)), cat(x, []byte(";")), cat(x, []byte("x;"))},
		"LengthPrefixed(max 0)": {must(LengthPrefixed(4, binary.BigEndian, 0)), cat(lengthOf(DefaultMaxFrame), x), lengthOf(DefaultMaxFrame + 1)},
	} {
		t.Run(name, func(t *testing.T) {
			if r := feed(tc.split, tc.atMax, 0); r.err != nil || len(r.frames) != 1 || len(r.frames[0]) != DefaultMaxFrame {
				t.Errorf("a frame of DefaultMaxFrame bytes: %d frames, err %v", len(r.frames), r.err)
			}
			if r := feed(tc.split, tc.past, 0); !errors.Is(r.err, ErrFrameTooLarge) {
				t.Errorf("a frame of DefaultMaxFrame+1 bytes: err %v, want ErrFrameTooLarge", r.err)
			}
		})
	}
}

// must is the framer that a constructor made, for the tests' valid
// configurations.
func must(split bufio.SplitFunc, err error) bufio.SplitFunc {
	if err != nil {
		panic(err)
	}
	return split
}

func TestDelimiterCopiesDelim(t *testing.T) {
	delim := []byte(";")
	split := must(Delimiter(delim, 8))
	delim[0] = ','
	n, frame, err := split([]byte("a;b"), false)
	if string(frame) != "a" || n != 2 || err != nil {
		t.Fatalf("split = %d, %q, %v", n, frame, err)
	}
}

// The framers serve a bufio.Scanner as they serve Each: the same frames,
// the same errors, whether the reader gives all at once or a byte at a
// time; at EOF a terminator framer gives the unterminated rest as a last
// frame and a count framer says the frame was cut short.
func TestScanner(t *testing.T) {
	for _, tc := range []struct {
		name   string
		split  bufio.SplitFunc
		in     string
		frames []string
		err    error // wrapped by sc.Err()
	}{
		{"lines", Lines(8), "a\r\nbc\n\nlast", []string{"a", "bc", "", "last"}, nil},
		{"lines last cr", Lines(8), "a\nlast\r", []string{"a", "last"}, nil},
		{"lines all terminated", Lines(8), "a\nb\n", []string{"a", "b"}, nil},
		{"lines empty", Lines(8), "", nil, nil},
		{"lines too long", Lines(4), "ok\nabcdefgh\n", []string{"ok"}, ErrFrameTooLarge},
		{"lines too long at eof", Lines(4), "ok\nabcde", []string{"ok"}, ErrFrameTooLarge},
		{"delimiter", must(Delimiter([]byte("--"), 4)), "ab--cd", []string{"ab", "cd"}, nil},
		{"delimiter partial at eof", must(Delimiter([]byte("--"), 4)), "ab--cd-", []string{"ab", "cd-"}, nil},
		{"delimiter partial past max at eof", must(Delimiter([]byte("--"), 4)), "abcd-", nil, ErrFrameTooLarge},
		{"fixed", must(Fixed(3)), "abcdef", []string{"abc", "def"}, nil},
		{"fixed cut short", must(Fixed(3)), "abcdefgh", []string{"abc", "def"}, io.ErrUnexpectedEOF},
		{"length", must(LengthPrefixed(2, binary.BigEndian, 10)), "\x00\x02ab\x00\x00", []string{"ab", ""}, nil},
		{"length body cut short", must(LengthPrefixed(2, binary.BigEndian, 10)), "\x00\x02ab\x00\x05abc", []string{"ab"}, io.ErrUnexpectedEOF},
		{"length header cut short", must(LengthPrefixed(4, binary.BigEndian, 10)), "\x00\x00", nil, io.ErrUnexpectedEOF},
		{"length too large", must(LengthPrefixed(1, nil, 4)), "\x01a\x05abcde", []string{"a"}, ErrFrameTooLarge},
	} {
		for _, oneByte := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/one byte at a time=%v", tc.name, oneByte), func(t *testing.T) {
				var r io.Reader = strings.NewReader(tc.in)
				if oneByte {
					r = iotest.OneByteReader(r)
				}
				sc := bufio.NewScanner(r)
				sc.Split(tc.split)
				var frames []string
				for sc.Scan() {
					frames = append(frames, sc.Text())
				}
				if !equalFrames(frames, tc.frames) {
					t.Errorf("frames = %q, want %q", frames, tc.frames)
				}
				if err := sc.Err(); tc.err == nil && err != nil || tc.err != nil && !errors.Is(err, tc.err) {
					t.Errorf("Err() = %v, want %v", err, tc.err)
				}
			})
		}
	}
}

// Each drives any bufio.SplitFunc as a bufio.Scanner would: bytes skipped
// without a token are consumed, ErrFinalToken ends after its token, and an
// advance outside the buffer is an error, not a panic or a loop.
func TestEachAnySplitFunc(t *testing.T) {
	t.Run("ScanWords", func(t *testing.T) {
		var got []string
		n, err := Each(bufio.ScanWords, []byte("  hello  world  "), func(f []byte) error { got = append(got, string(f)); return nil })
		if n != 16 || err != nil || strings.Join(got, ",") != "hello,world" {
			t.Fatalf("Each = %d, %v, frames %q; want 16, nil, [hello world]", n, err, got)
		}
	})
	t.Run("ErrFinalToken", func(t *testing.T) {
		final := func(b []byte, atEOF bool) (int, []byte, error) { return 1, b[:1:1], bufio.ErrFinalToken }
		var got []string
		n, err := Each(final, []byte("xyz"), func(f []byte) error { got = append(got, string(f)); return nil })
		if n != 1 || err != nil || strings.Join(got, ",") != "x" {
			t.Fatalf("Each = %d, %v, frames %q; want 1, nil, [x]", n, err, got)
		}
	})
	for _, tc := range []struct {
		advance int
		want    error
	}{{-1, bufio.ErrNegativeAdvance}, {4, bufio.ErrAdvanceTooFar}} {
		t.Run(fmt.Sprintf("advance %d", tc.advance), func(t *testing.T) {
			bad := func(b []byte, atEOF bool) (int, []byte, error) { return tc.advance, nil, nil }
			n, err := Each(bad, []byte("xyz"), func([]byte) error { t.Fatal("called"); return nil })
			if n != 0 || err != tc.want {
				t.Fatalf("Each = %d, %v; want 0, %v", n, err, tc.want)
			}
		})
	}
}
