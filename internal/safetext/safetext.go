// Package safetext makes text from the network safe to show on a terminal
// or to write to a log: nobody else's bytes may move the cursor, clear the
// screen, set the title or the clipboard, or fake a line
// ("\r[127.0.0.1:5555] ..." over another client's prefix). chat-server
// escapes what members say with it, log-server what clients log, and
// chat-client and watch what a server sends.
package safetext

import (
	"bytes"
	"unicode/utf8"
)

// Escape returns p with every byte that could drive a terminal written as a
// visible escape: the C0 controls but tab and newline (`\r`, `\x1b`), DEL
// (`\x7f`), the C1 controls U+0080 to U+009F (`\u009b`, which some
// terminals take for ESC [) and bytes that are not UTF-8 (`\xff`: a
// terminal in a legacy charset reads 0x9b as that same C1 control). So are
// the characters that make text look other than it is (unicodeHidden): the
// line and paragraph separators U+2028 and U+2029, which some programs show
// as a new line, and the bidi controls, which reorder what follows them on
// screen (`\u202e`). Printable UTF-8 passes untouched, and p itself is
// returned when nothing needs escaping, which is the common case (no copy).
func Escape(p []byte) []byte {
	i := 0
	for i < len(p) && safeASCII(p[i]) {
		i++
	}
	if i == len(p) || !needsEscape(p[i:]) {
		return p
	}
	out := append(make([]byte, 0, len(p)+16), p[:i]...)
	for i < len(p) {
		b := p[i]
		switch {
		case safeASCII(b):
			out = append(out, b)
			i++
		case b == '\r':
			out = append(out, `\r`...)
			i++
		case b < utf8.RuneSelf: // the other C0 controls, DEL
			out = appendHexEscape(out, `\x`, uint32(b), 2)
			i++
		default:
			r, size := utf8.DecodeRune(p[i:])
			switch {
			case r == utf8.RuneError && size == 1:
				out = appendHexEscape(out, `\x`, uint32(b), 2)
			case r <= 0x9f || unicodeHidden(r):
				out = appendHexEscape(out, `\u`, uint32(r), 4)
			default:
				out = append(out, p[i:i+size]...)
			}
			i += size
		}
	}
	return out
}

// needsEscape reports whether Escape would change p.
func needsEscape(p []byte) bool {
	for i := 0; i < len(p); {
		if safeASCII(p[i]) {
			i++
			continue
		}
		if p[i] < utf8.RuneSelf {
			return true
		}
		r, size := utf8.DecodeRune(p[i:])
		if r == utf8.RuneError && size == 1 || r <= 0x9f || unicodeHidden(r) {
			return true
		}
		i += size
	}
	return false
}

// unicodeHidden reports whether r is a character that changes how the
// text around it looks without being seen: U+2028 and U+2029 (line and
// paragraph separators) and the bidi controls (U+202A to U+202E embeddings
// and overrides, U+2066 to U+2069 isolates, and the marks U+200E, U+200F
// and U+061C).
func unicodeHidden(r rune) bool {
	return r >= 0x2028 && r <= 0x202e || r >= 0x2066 && r <= 0x2069 ||
		r == 0x200e || r == 0x200f || r == 0x061c
}

// safeASCII reports whether b is printable ASCII, a tab or a newline.
func safeASCII(b byte) bool { return b >= 0x20 && b < 0x7f || b == '\t' || b == '\n' }

func appendHexEscape(out []byte, prefix string, v uint32, digits int) []byte {
	const hex = "0123456789abcdef"
	out = append(out, prefix...)
	for shift := 4 * (digits - 1); shift >= 0; shift -= 4 {
		out = append(out, hex[v>>shift&0xf])
	}
	return out
}

// ForTerminal is what a client shows of a server's line (chat-client,
// watch): carriage returns dropped (the tutorial's chat server's "\r" +
// prompt trick, which only makes sense on its own client) and every other
// control escaped, as Escape does.
func ForTerminal(p []byte) []byte {
	return Escape(bytes.ReplaceAll(p, []byte("\r"), nil))
}
