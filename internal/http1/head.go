package http1

import (
	"bytes"
	"net/http"
)

// Limits bound what the parser accepts; zero fields take the documented
// default.
type Limits struct {
	// MaxHeaderBytes bounds the request line and header fields, counted as
	// net/http counts them: a head (through its empty line) of up to
	// MaxHeaderBytes+4096 bytes is read, a longer one refused with 431.
	// Default http.DefaultMaxHeaderBytes (1 MiB).
	MaxHeaderBytes int
	// MaxTrailerBytes bounds the trailer section of a chunked body, from
	// the end of the last chunk's size line through the trailers' empty
	// line. Default 4096, what net/http allows (its read buffer).
	MaxTrailerBytes int
}

// DefaultMaxTrailerBytes is Limits.MaxTrailerBytes's default.
const DefaultMaxTrailerBytes = 4096

// maxChunkLine is the longest chunk-size line, CRLF included, net/http
// reads: its read buffer's size.
const maxChunkLine = 4096

// MaxHead returns the length of the longest head ParseRequest accepts: a
// server that has buffered more than this without HeadEnd finding an end
// refuses the request with 431, as net/http does.
func (l Limits) MaxHead() int {
	n := l.MaxHeaderBytes
	if n <= 0 {
		n = http.DefaultMaxHeaderBytes
	}
	return n + 4096 // net/http's "bufio slop"
}

func (l Limits) maxTrailer() int {
	if l.MaxTrailerBytes <= 0 {
		return DefaultMaxTrailerBytes
	}
	return l.MaxTrailerBytes
}

// HeadEnd looks for the end of a request head (request line, header
// fields, empty line) in buf. from is how much of buf an earlier call
// scanned already (0 at first), so that a head fed one byte at a time costs
// linear time overall. It returns the head's length including its empty
// line, or -1 and the from to pass next time.
//
// Lines end as net/textproto ends them: at LF, a CR before it dropped. The
// head ends at the first empty line, even the first line: net/http does not
// skip empty lines before a request line (ParseRequest refuses such a head)
// except the few after a POST (see SkipCRLFAfterPOST).
func HeadEnd(buf []byte, from int) (end int, next int) {
	if from > len(buf) {
		from = len(buf)
	}
	// lineStart is where the line being scanned began, if that matters:
	// only a line that is empty or a lone CR ends the head.
	lineStart := -1
	switch {
	case from == 0:
		lineStart = 0
	case buf[from-1] == '\n':
		lineStart = from
	case buf[from-1] == '\r' && (from == 1 || buf[from-2] == '\n'):
		lineStart = from - 1
	}
	for i := from; i < len(buf); {
		j := bytes.IndexByte(buf[i:], '\n')
		if j < 0 {
			break
		}
		lf := i + j
		if lf == lineStart || (lf == lineStart+1 && buf[lineStart] == '\r') {
			return lf + 1, lf + 1
		}
		i = lf + 1
		lineStart = i
	}
	return -1, len(buf)
}

// SkipCRLFAfterPOST returns how many bytes net/http discards at the start
// of the request that follows a POST on a connection (a tolerance RFC 9112
// section 2.2 allows for old clients that end a POST body with a CRLF): the
// CR and LF bytes among the first four. net/http waits for four bytes
// before it decides, so ok is false while buf holds fewer.
func SkipCRLFAfterPOST(buf []byte) (n int, ok bool) {
	if len(buf) < 4 {
		return 0, false
	}
	for n < 4 && (buf[n] == '\r' || buf[n] == '\n') {
		n++
	}
	return n, true
}
