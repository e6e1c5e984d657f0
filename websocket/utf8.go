package websocket

import "unicode/utf8"

// utf8Stream validates UTF-8 as a text message's bytes arrive, failing on
// the first byte that no valid text can follow (RFC 6455 section 8.1: fail
// fast), while a code point split between pieces is fine.
type utf8Stream struct {
	pending [utf8.UTFMax]byte // the start of a code point still to complete
	n       int
}

// write checks p, the next bytes of the text; false means the text is
// already invalid.
func (v *utf8Stream) write(p []byte) bool {
	for v.n > 0 && len(p) > 0 {
		v.pending[v.n] = p[0]
		v.n++
		p = p[1:]
		if !validPrefix(v.pending[:v.n]) {
			return false
		}
		if utf8.FullRune(v.pending[:v.n]) {
			v.n = 0
		}
	}
	if v.n > 0 {
		return true // p is used up completing the pending code point
	}
	tail := incompleteTail(p)
	if !utf8.Valid(p[:tail]) {
		return false
	}
	if !validPrefix(p[tail:]) {
		return false
	}
	v.n = copy(v.pending[:], p[tail:])
	return true
}

// done reports whether the text ended on a whole code point; it resets v
// for the next text.
func (v *utf8Stream) done() bool {
	ok := v.n == 0
	v.n = 0
	return ok
}

// incompleteTail returns where a code point that p cuts short begins, or
// len(p): the last lead byte among the final three, if it announces more
// bytes than follow it.
func incompleteTail(p []byte) int {
	for i := len(p) - 1; i >= 0 && i >= len(p)-3; i-- {
		c := p[i]
		if c < 0x80 {
			return len(p)
		}
		if c >= 0xC0 {
			if need := seqLen(c); need > len(p)-i {
				return i
			}
			return len(p)
		}
	}
	return len(p)
}

// seqLen is the length of the sequence lead byte c begins (1 for a byte
// that begins none, which utf8.Valid then refuses).
func seqLen(c byte) int {
	switch {
	case c >= 0xC2 && c <= 0xDF:
		return 2
	case c >= 0xE0 && c <= 0xEF:
		return 3
	case c >= 0xF0 && c <= 0xF4:
		return 4
	}
	return 1
}

// validPrefix reports whether b (at most three bytes, shorter than its
// sequence) can begin a valid code point: RFC 3629's table, which refuses
// overlong forms, surrogates and code points past U+10FFFF at the second
// byte already.
func validPrefix(b []byte) bool {
	if len(b) == 0 {
		return true
	}
	c := b[0]
	if seqLen(c) == 1 {
		return c < 0x80 && len(b) == 1
	}
	if len(b) >= 2 {
		lo, hi := byte(0x80), byte(0xBF)
		switch c {
		case 0xE0:
			lo = 0xA0
		case 0xED:
			hi = 0x9F
		case 0xF0:
			lo = 0x90
		case 0xF4:
			hi = 0x8F
		}
		if b[1] < lo || b[1] > hi {
			return false
		}
	}
	for _, x := range b[min(2, len(b)):] {
		if x < 0x80 || x > 0xBF {
			return false
		}
	}
	return true
}
