// Package codec cuts a byte stream into frames: asynchat-style terminators
// (a line, a custom delimiter, a fixed count) and length-prefixed messages.
//
// A Splitter is a pure function over the bytes buffered so far. It returns
// one frame and how many bytes that frame used, or "need more" (consumed 0,
// nil error), or an error. It never copies and never keeps the buffer, so it
// works directly on what an event loop's Peek returns, and one Splitter can
// serve every connection. A frame is a sub-slice of the buffer: it is valid
// only until those bytes are discarded (for package loop: until OnData
// returns); copy what you keep.
//
// In a loop handler:
//
//	var frames = codec.Lines(4096)
//
//	func (h *handler) OnData(c *loop.Conn) {
//		n, err := codec.Each(frames, c.Peek(-1), func(line []byte) error {
//			return h.command(c, line) // c.Write a reply, say
//		})
//		c.Discard(n) // the unconsumed tail stays buffered for the next OnData
//		if err != nil { // a line longer than 4096 bytes, or a command error
//			c.CloseNow()
//		}
//	}
//
// Every Splitter has a maximum frame size and reports ErrFrameTooLarge as
// soon as the buffered bytes can no longer start a frame within it, so a
// peer cannot make a connection buffer grow without bound. With package
// loop, keep the maximum (plus its header) within loop.Options.MaxInput
// (1 MiB by default): the loop reads no more than that ahead of the
// handler, so a larger frame would never complete. Splitting allocates
// nothing; only the error path does.
package codec

import (
	"bytes"
	"errors"
	"fmt"
)

// ErrFrameTooLarge is returned (wrapped, with the size and the limit) when
// a frame exceeds its Splitter's maximum. Test for it with errors.Is.
var ErrFrameTooLarge = errors.New("codec: frame too large")

// ErrStop, returned by Each's callback, ends the iteration without error
// after the current frame. Use it to switch Splitters mid-stream, as
// asynchat's set_terminator does: a header line announces a body, the
// callback stops, and the handler splits the rest with Fixed(n).
var ErrStop = errors.New("codec: stop")

// Splitter finds the first frame in buf. It returns the frame (a sub-slice
// of buf, capped so an append to it cannot overwrite the bytes after it)
// and the number of bytes it used, including terminators and headers.
// consumed == 0 with a nil error means buf holds no complete frame yet;
// consumed > 0 means a frame was found, possibly an empty one. After an
// error the stream cannot be resynchronised: close the connection.
// Implementations must not retain buf; the ones in this package are safe
// for concurrent use.
type Splitter interface {
	Split(buf []byte) (frame []byte, consumed int, err error)
}

// SplitFunc adapts a function to a Splitter, for framings this package
// does not provide.
type SplitFunc func(buf []byte) (frame []byte, consumed int, err error)

// Split calls f(buf).
func (f SplitFunc) Split(buf []byte) ([]byte, int, error) { return f(buf) }

// Each calls fn for every complete frame in buf, in order, and returns how
// many bytes those frames used: pass it to Discard. It stops at the first
// incomplete frame, at a Splitter error (consumed then covers the frames
// before it), or when fn returns an error (consumed then includes the frame
// fn was given). fn returning ErrStop ends the iteration with a nil error.
func Each(s Splitter, buf []byte, fn func(frame []byte) error) (consumed int, err error) {
	for {
		frame, n, err := s.Split(buf[consumed:])
		if err != nil || n == 0 {
			return consumed, err
		}
		consumed += n
		if err := fn(frame); err != nil {
			if err == ErrStop {
				return consumed, nil
			}
			return consumed, err
		}
	}
}

// Lines splits at "\n" and strips the "\n" or "\r\n" from the frame. A
// line longer than max bytes (not counting its terminator) is an error.
// It panics if max is not positive.
func Lines(max int) Splitter {
	mustPositive("Lines", max)
	return lines{max: max}
}

type lines struct{ max int }

func (s lines) Split(buf []byte) ([]byte, int, error) {
	// Search only as far as the longest acceptable line could reach
	// ("max bytes, then \r\n"): the scan is bounded by max, whatever the
	// buffer holds.
	i := bytes.IndexByte(buf[:window(len(buf), s.max, 2)], '\n')
	if i < 0 {
		// Without a terminator, more than max bytes are fine only while
		// the byte past max may be the "\r" of "\r\n".
		if len(buf) <= s.max || len(buf) == s.max+1 && buf[s.max] == '\r' {
			return nil, 0, nil
		}
		return nil, 0, tooLongUnterminated(len(buf), s.max)
	}
	line := buf[:i:i]
	if i > 0 && line[i-1] == '\r' {
		line = line[: i-1 : i-1]
	}
	if len(line) > s.max {
		return nil, 0, tooLarge(len(line), s.max)
	}
	return line, i + 1, nil
}

// Delimiter splits at delim (asynchat's bytes terminator) and strips it from
// the frame. A frame longer than max bytes (not counting delim) is an
// error. It panics on an empty delim or a max that is not positive.
func Delimiter(delim []byte, max int) Splitter {
	if len(delim) == 0 {
		panic("codec: Delimiter with an empty delimiter")
	}
	mustPositive("Delimiter", max)
	return delimiter{delim: bytes.Clone(delim), max: max}
}

type delimiter struct {
	delim []byte
	max   int
}

func (s delimiter) Split(buf []byte) ([]byte, int, error) {
	d := len(s.delim)
	// A frame of at most max bytes has its delimiter within max+d bytes.
	i := bytes.Index(buf[:window(len(buf), s.max, d)], s.delim)
	if i >= 0 {
		return buf[:i:i], i + d, nil
	}
	if len(buf) <= s.max || s.partialDelimiter(buf) {
		return nil, 0, nil
	}
	return nil, 0, tooLongUnterminated(len(buf), s.max)
}

// partialDelimiter reports whether buf, longer than max, may still be a
// frame of at most max bytes whose delimiter has only partly arrived: its
// tail, starting at or before max, is a prefix of the delimiter.
func (s delimiter) partialDelimiter(buf []byte) bool {
	for start := max(len(buf)-len(s.delim)+1, 0); start <= s.max; start++ {
		if bytes.HasPrefix(s.delim, buf[start:]) {
			return true
		}
	}
	return false
}

// Fixed splits frames of exactly n bytes (asynchat's integer terminator).
// When n comes from the peer, bound it first: a peer can make the
// connection buffer n bytes. It panics if n is not positive.
func Fixed(n int) Splitter {
	mustPositive("Fixed", n)
	return fixed(n)
}

type fixed int

func (n fixed) Split(buf []byte) ([]byte, int, error) {
	if len(buf) < int(n) {
		return nil, 0, nil
	}
	return buf[:n:n], int(n), nil
}

// window returns min(n, max+extra) without overflowing when max is huge.
func window(n, max, extra int) int {
	if n-extra > max {
		return max + extra
	}
	return n
}

func mustPositive(fn string, n int) {
	if n <= 0 {
		panic(fmt.Sprintf("codec: %s(%d): size must be positive", fn, n))
	}
}

func tooLarge(size, limit int) error {
	return fmt.Errorf("%w: %d bytes, limit %d", ErrFrameTooLarge, size, limit)
}

func tooLongUnterminated(buffered, limit int) error {
	return fmt.Errorf("%w: %d bytes buffered without a terminator, limit %d",
		ErrFrameTooLarge, buffered, limit)
}
