// Package codec cuts a byte stream into frames: asynchat-style terminators
// (a line, a custom delimiter, a fixed count) and length-prefixed messages.
//
// Each framer is a bufio.SplitFunc, so it serves a bufio.Scanner over an
// io.Reader as it serves an event loop, where Each runs it over the bytes a
// connection has buffered. A framer here is a pure function of the bytes it
// is given: it never copies them, never keeps them and holds no state
// between calls, so one framer serves every connection and may be called
// again on the same bytes as more arrive. A frame is a sub-slice of those
// bytes (capped, so an append to it cannot overwrite the bytes after it):
// it is valid only until they are discarded (for package loop: until
// OnData returns); copy what you keep.
//
// In a loop handler:
//
//	var lines = codec.Lines(4096)
//
//	func (h *handler) OnData(c *loop.Conn) {
//		n, err := codec.Each(lines, c.Peek(-1), func(line []byte) error {
//			return h.command(c, line) // c.Write a reply, say
//		})
//		c.Discard(n) // the unconsumed tail stays buffered for the next OnData
//		if err != nil { // a line longer than 4096 bytes, or a command error
//			c.CloseNow()
//		}
//	}
//
// Over an io.Reader:
//
//	sc := bufio.NewScanner(conn)
//	sc.Split(codec.Lines(4096))
//	for sc.Scan() {
//		h.command(sc.Bytes())
//	}
//	err := sc.Err() // ErrFrameTooLarge, or the reader's error
//
// Every framer has a maximum frame size (a max of 0 or less is
// DefaultMaxFrame, 64 KiB) and reports ErrFrameTooLarge as soon as the
// buffered bytes can no longer start a frame within it, so a peer cannot
// make a connection buffer grow without bound. With package
// loop, keep the maximum (plus its header) within loop.Options.MaxInput
// (1 MiB by default): the loop reads no more than that ahead of the
// handler, so a larger frame would never complete. A bufio.Scanner has a
// bound of its own, 64 KiB unless Scanner.Buffer says otherwise, past
// which it stops with bufio.ErrTooLong. Splitting allocates nothing; only
// the error path does.
//
// At the end of the stream (a SplitFunc's atEOF, which only a Scanner
// sets: Each leaves what is left to its caller), a line or a delimited
// frame without its terminator is the last frame, as bufio.ScanLines has
// it, and a fixed or length-prefixed frame cut short is an error that
// wraps io.ErrUnexpectedEOF.
package codec

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
)

// ErrFrameTooLarge is returned (wrapped, with the size and the limit) when
// a frame exceeds its framer's maximum. Test for it with errors.Is.
var ErrFrameTooLarge = errors.New("codec: frame too large")

// DefaultMaxFrame is the maximum frame size of a framer given a max of 0 or
// less: 64 KiB, bufio.MaxScanTokenSize, the largest token a bufio.Scanner
// takes unless Scanner.Buffer says otherwise.
const DefaultMaxFrame = bufio.MaxScanTokenSize

// ErrStop, returned by Each's callback, ends the iteration without error
// after the current frame. Use it to switch framers mid-stream, as
// asynchat's set_terminator does: a header line announces a body, the
// callback stops, and the handler splits the rest with Fixed(n).
var ErrStop = errors.New("codec: stop")

// Each calls fn for every complete frame that split finds in buf, in
// order, and returns how many bytes those frames used: pass it to Discard.
// It stops at the first incomplete frame (split asks for more), at an
// error from split (consumed then covers the frames before it; after an
// error the stream cannot be resynchronised: close the connection), or
// when fn returns an error (consumed then includes the frame fn was
// given). fn returning ErrStop ends the iteration with a nil error.
//
// split may be any bufio.SplitFunc; Each calls it with atEOF false. Bytes
// it skips without a token (bufio.ScanWords's spaces) are consumed,
// bufio.ErrFinalToken ends the iteration after its token with a nil
// error, and an advance outside buf is bufio.ErrNegativeAdvance or
// bufio.ErrAdvanceTooFar, as a bufio.Scanner says.
func Each(split bufio.SplitFunc, buf []byte, fn func(frame []byte) error) (consumed int, err error) {
	for consumed < len(buf) {
		rest := buf[consumed:]
		advance, frame, err := split(rest, false)
		final := err == bufio.ErrFinalToken
		switch {
		case err != nil && !final:
			return consumed, err
		case advance < 0:
			return consumed, bufio.ErrNegativeAdvance
		case advance > len(rest):
			return consumed, bufio.ErrAdvanceTooFar
		case advance == 0 && !final:
			return consumed, nil // no complete frame yet
		}
		consumed += advance
		if frame != nil {
			if err := fn(frame); err != nil {
				if err == ErrStop {
					return consumed, nil
				}
				return consumed, err
			}
		}
		if final {
			return consumed, nil
		}
	}
	return consumed, nil
}

// Lines splits at "\n" and strips the "\n" or "\r\n" from the frame. A
// line longer than max bytes (not counting its terminator) is an error;
// max <= 0 is DefaultMaxFrame. At EOF, a last line without "\n" is a frame
// (its "\r" stripped).
func Lines(max int) bufio.SplitFunc {
	return lines{max: orDefault(max)}.split
}

type lines struct{ max int }

func (s lines) split(buf []byte, atEOF bool) (int, []byte, error) {
	// Search only as far as the longest acceptable line could reach
	// ("max bytes, then \r\n"): the scan is bounded by max, whatever the
	// buffer holds.
	i := bytes.IndexByte(buf[:window(len(buf), s.max, 2)], '\n')
	if i < 0 {
		// Without a terminator, more than max bytes are fine only while
		// the byte past max may be the "\r" of "\r\n".
		if len(buf) <= s.max || len(buf) == s.max+1 && buf[s.max] == '\r' {
			if atEOF && len(buf) > 0 {
				return len(buf), dropCR(buf[:len(buf):len(buf)]), nil
			}
			return 0, nil, nil
		}
		return 0, nil, tooLongUnterminated(len(buf), s.max)
	}
	line := dropCR(buf[:i:i])
	if len(line) > s.max {
		return 0, nil, tooLarge(len(line), s.max)
	}
	return i + 1, line, nil
}

// dropCR drops a terminal "\r" from line, keeping it capped.
func dropCR(line []byte) []byte {
	if n := len(line); n > 0 && line[n-1] == '\r' {
		return line[: n-1 : n-1]
	}
	return line
}

// Delimiter splits at delim (asynchat's bytes terminator) and strips it from
// the frame. A frame longer than max bytes (not counting delim) is an
// error; max <= 0 is DefaultMaxFrame. At EOF, what follows the last delim
// is a frame. An empty delim is an error. delim is copied.
func Delimiter(delim []byte, max int) (bufio.SplitFunc, error) {
	if len(delim) == 0 {
		return nil, errors.New("codec: Delimiter with an empty delimiter")
	}
	return delimiter{delim: bytes.Clone(delim), max: orDefault(max)}.split, nil
}

type delimiter struct {
	delim []byte
	max   int
}

func (s delimiter) split(buf []byte, atEOF bool) (int, []byte, error) {
	d := len(s.delim)
	// A frame of at most max bytes has its delimiter within max+d bytes.
	i := bytes.Index(buf[:window(len(buf), s.max, d)], s.delim)
	switch {
	case i >= 0:
		return i + d, buf[:i:i], nil
	case atEOF && len(buf) > s.max: // a partial delimiter that will not complete
		return 0, nil, tooLarge(len(buf), s.max)
	case atEOF && len(buf) > 0:
		return len(buf), buf[:len(buf):len(buf)], nil
	case len(buf) <= s.max || s.partialDelimiter(buf):
		return 0, nil, nil
	}
	return 0, nil, tooLongUnterminated(len(buf), s.max)
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
// connection buffer n bytes. At EOF, a frame cut short is an error
// wrapping io.ErrUnexpectedEOF. An n that is not positive is an error.
func Fixed(n int) (bufio.SplitFunc, error) {
	if n <= 0 {
		return nil, fmt.Errorf("codec: Fixed(%d): the size must be positive", n)
	}
	return fixed(n).split, nil
}

type fixed int

func (n fixed) split(buf []byte, atEOF bool) (int, []byte, error) {
	if len(buf) < int(n) {
		if atEOF && len(buf) > 0 {
			return 0, nil, cutShort(len(buf), int(n))
		}
		return 0, nil, nil
	}
	return int(n), buf[:n:n], nil
}

// window returns min(n, max+extra) without overflowing when max is huge.
func window(n, max, extra int) int {
	if n-extra > max {
		return max + extra
	}
	return n
}

// orDefault is max, or DefaultMaxFrame for a max of 0 or less.
func orDefault(max int) int {
	if max <= 0 {
		return DefaultMaxFrame
	}
	return max
}

func tooLarge(size, limit int) error {
	return fmt.Errorf("%w: %d bytes, limit %d", ErrFrameTooLarge, size, limit)
}

func tooLongUnterminated(buffered, limit int) error {
	return fmt.Errorf("%w: %d bytes buffered without a terminator, limit %d",
		ErrFrameTooLarge, buffered, limit)
}

// cutShort is the error for a frame the stream ended in: got of its want
// bytes (header included) arrived.
func cutShort(got, want int) error {
	return fmt.Errorf("codec: the stream ended %d bytes into a frame of %d: %w", got, want, io.ErrUnexpectedEOF)
}
