package http1

import (
	"bytes"
	"net/http"
	"net/url"
	"strconv"
)

// initialLineLimit is how much of a line net/http buffers (its bufio.Reader's
// size) before it gives up waiting for the LF of a first field line that
// starts with a blank, a line it refuses anyway.
const initialLineLimit = 4096

// EarlyError reports whether net/http would already refuse the head that
// begins buf although its empty line has not arrived: net/http answers 400
// as soon as a bad request line or a field line without a colon has its
// LF, and a field with a bad name or value as soon as the first byte after
// it shows that no continuation line follows. A server calls it when
// HeadEnd finds no end, after its own 431 check (bytes past
// Limits.MaxHead are never net/http's to read), with from the next of its
// last call on this head (0 at first); next is what to pass the next
// time, so that a head fed one byte at a time costs linear time overall.
// err is nil or an *Error. Past the head's empty line EarlyError looks no
// further: ParseRequest judges a complete head.
func EarlyError(buf []byte, from int) (next int, err error) {
	from = min(max(from, 0), len(buf))
	if from > 0 && from < len(buf) && buf[from-1] == '\n' && isBlank(buf[from]) {
		// Only a first field line that starts with a blank is left
		// pending at its start (every other scan stops elsewhere than
		// right after an LF): look at it again, at most 4 KiB.
		return initialLine(buf, from)
	}
	for i := from; i < len(buf); i++ {
		if i > 0 && buf[i-1] == '\n' {
			// A line starts at i: the field before it ends unless i
			// continues it.
			prev := lineStart(buf, i-1)
			switch {
			case prev == 0 && isBlank(buf[i]):
				return initialLine(buf, i)
			case prev > 0 && !isBlank(buf[i]):
				if e := fieldError(buf, prev, i); e != nil {
					return len(buf), e
				}
			}
		}
		if buf[i] != '\n' {
			j := bytes.IndexByte(buf[i:], '\n')
			if j < 0 {
				break
			}
			i += j
		}
		// A line ends at i.
		start := lineStart(buf, i)
		line := trimCR(buf[start:i])
		switch {
		case len(line) == 0:
			return len(buf), nil // the head's end
		case start == 0:
			var r http.Request
			var u url.URL
			if e := parseRequestLine(&r, &u, string(line)); e != nil {
				return len(buf), e
			}
		case isBlank(line[0]):
			// A continuation line: its bytes are judged with its field.
		case bytes.IndexByte(line, ':') < 0:
			return len(buf), badRequest("malformed MIME header: missing colon: " + strconv.Quote(string(line)))
		}
	}
	// Stop before a final LF, so that the next call sees the line after
	// it start (and so that no scan but initialLine's stops right after
	// an LF): that costs the LF's line a second look, once.
	next = len(buf)
	if next > 0 && buf[next-1] == '\n' {
		next--
	}
	return next, nil
}

// initialLine judges a first field line, at start, that begins with a
// blank, as net/textproto does: refused once whole (quoted if it is at
// most 80 bytes), or once it fills net/http's 4 KiB buffer without an LF;
// until then it is pending, and next is its start.
func initialLine(buf []byte, start int) (next int, err error) {
	j := bytes.IndexByte(buf[start:], '\n')
	if j < 0 {
		if len(buf)-start >= initialLineLimit {
			return len(buf), badRequest("message too large")
		}
		return start, nil
	}
	line := trimCR(buf[start : start+j])
	if len(line) > 80 {
		return len(buf), badRequest("message too large")
	}
	return len(buf), badRequest("malformed MIME header initial line: " + strconv.Quote(string(line)))
}

// lineStart returns where the line whose LF (or last byte) is at i starts.
func lineStart(buf []byte, i int) int {
	return bytes.LastIndexByte(buf[:i], '\n') + 1
}

func trimCR(line []byte) []byte {
	if n := len(line); n > 0 && line[n-1] == '\r' {
		return line[:n-1]
	}
	return line
}

func isBlank(c byte) bool { return c == ' ' || c == '\t' }

// fieldError judges the field whose last line starts at start and that
// ends at end, where a line that does not continue it starts: its name must be a token (a space is let
// through, refused later as net/http does) and its value, continuation
// lines included, free of controls.
func fieldError(buf []byte, start, end int) error {
	for start > 0 && isBlank(buf[start]) {
		start = lineStart(buf, start-1)
	}
	field := buf[start:end]
	colon := bytes.IndexByte(field, ':') // the first line has one: checked when it ended
	ok := colon > 0
	for _, c := range field[:colon] {
		ok = ok && (tokenByte[c] || c == ' ')
	}
	for k := colon + 1; ok && k < len(field); k++ {
		c := field[k]
		ok = fieldValueByte(c) || c == '\n' || c == '\r' && k+1 < len(field) && field[k+1] == '\n'
	}
	if ok {
		return nil
	}
	s := string(field)
	line, pos, _ := nextLine(s, 0)
	kv := trimOWS(line)
	if pos < len(s) && isBlank(s[pos]) {
		kv, _ = unfold(s, pos, kv)
	}
	return badRequest("malformed MIME header line: " + strconv.Quote(kv))
}
