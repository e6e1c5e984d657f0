package http1

import (
	"bytes"
	"net/http"
)

// BodyDecoder delimits one request body incrementally, by Content-Length
// or chunked (RFC 9112 section 7.1), as strictly as net/http reads it. Its
// zero value decodes an empty body; Reset starts each body.
type BodyDecoder struct {
	remaining int64 // Content-Length: bytes still to come
	chunked   bool
	state     chunkState
	chunkLeft uint64 // bytes left of the current chunk's data
	excess    int64  // framing bytes beyond what the data justifies (net/http's overhead guard)
	maxTrail  int
	trailer   http.Header
	err       error
}

type chunkState uint8

const (
	chunkSize    chunkState = iota // expecting a chunk-size line
	chunkData                      // inside a chunk's data
	chunkDataEnd                   // expecting the CRLF after a chunk's data
	chunkTrailer                   // after the last chunk: trailers, empty line
	chunkDone
)

// Reset prepares d for the body that f describes.
func (d *BodyDecoder) Reset(f Framing, lim Limits) {
	*d = BodyDecoder{remaining: f.ContentLength, chunked: f.Chunked, maxTrail: lim.maxTrailer()}
	if f.Chunked {
		d.remaining = -1
	} else if d.remaining < 0 {
		d.remaining = 0
	}
}

// Body errors, with the texts net/http's reader gives a handler.
var (
	errLineTooLong  = badRequest("header line too long")
	errBareLF       = badRequest("chunked line ends with bare LF")
	errCRInLine     = badRequest("invalid CR in chunked line")
	errEmptySize    = badRequest("empty hex number for chunk length")
	errSizeByte     = badRequest("invalid byte in chunk length")
	errSizeTooLarge = badRequest("http chunk length too large")
	errTooMuchFrame = badRequest("chunked encoding contains too much non-data")
	errMalformed    = badRequest("malformed chunked encoding")
	errLongTrailer  = badRequest("http: suspiciously long trailer after chunked body")
)

// Decode consumes a prefix of in. data is body payload within in (no
// copy; may be empty); n is how many bytes of in were consumed, framing
// included; done is true once the body (and for chunked, its trailers) has
// ended: what follows in belongs to the next request. While n > 0 and not
// done, call again with in[n:]; when n is 0 and not done, call again once
// more bytes have been appended to in[n:]. (A chunk-size line up to 4096
// bytes and a trailer section up to MaxTrailerBytes must be presented
// whole before they are consumed.) A malformed chunk size, extension,
// CRLF or trailer is an *Error (400) whose text is net/http's; the
// decoder then stays failed. Decode allocates nothing, except for
// trailers.
func (d *BodyDecoder) Decode(in []byte) (n int, data []byte, done bool, err error) {
	if d.err != nil {
		return 0, nil, false, d.err
	}
	if !d.chunked {
		k := int64(len(in))
		if k > d.remaining {
			k = d.remaining
		}
		d.remaining -= k
		return int(k), in[:k], d.remaining == 0, nil
	}
	n, data, err = d.decodeChunked(in)
	if err != nil {
		d.err = err
		return n, data, false, err
	}
	return n, data, d.state == chunkDone, nil
}

// decodeChunked consumes framing up to and including at most one piece of
// data, so that data is one contiguous slice of in.
func (d *BodyDecoder) decodeChunked(in []byte) (n int, data []byte, err error) {
	for {
		rest := in[n:]
		switch d.state {
		case chunkSize:
			line, used, err := chunkLine(rest)
			if err != nil || used == 0 {
				return n, nil, err
			}
			if err := d.beginChunk(line); err != nil {
				return n, nil, err
			}
			n += used
		case chunkData:
			if len(rest) == 0 {
				return n, nil, nil
			}
			k := uint64(len(rest))
			if k > d.chunkLeft {
				k = d.chunkLeft
			}
			d.chunkLeft -= k
			if d.chunkLeft == 0 {
				d.state = chunkDataEnd
			}
			return n + int(k), rest[:k], nil
		case chunkDataEnd:
			if len(rest) < 2 {
				return n, nil, nil
			}
			if rest[0] != '\r' || rest[1] != '\n' {
				return n, nil, errMalformed
			}
			n += 2
			d.state = chunkSize
		case chunkTrailer:
			used, err := d.readTrailer(rest)
			if err != nil || used == 0 {
				return n, nil, err
			}
			d.state = chunkDone
			return n + used, nil, nil
		case chunkDone:
			return n, nil, nil
		}
	}
}

// chunkLine returns the chunk-size line at the start of in without its
// CRLF, and its length with it; used is 0 if the line is not all there.
// Like net/http: the line must end in CRLF and hold no other CR, and fit
// in 4096 bytes.
func chunkLine(in []byte) (line []byte, used int, err error) {
	lf := bytes.IndexByte(in, '\n')
	if lf < 0 || lf >= maxChunkLine {
		if len(in) >= maxChunkLine {
			return nil, 0, errLineTooLong
		}
		return nil, 0, nil
	}
	p := in[:lf+1]
	if cr := bytes.IndexByte(p, '\r'); cr < 0 {
		return nil, 0, errBareLF
	} else if cr != len(p)-2 {
		return nil, 0, errCRInLine
	}
	return p[:len(p)-2], lf + 1, nil
}

// beginChunk reads a chunk-size line: hex digits (at most 16), then
// optional blanks, then an extension after ';' that is ignored, whatever
// its bytes (CR and LF aside), as net/http ignores it.
func (d *BodyDecoder) beginChunk(line []byte) error {
	d.excess += int64(len(line)) + 2
	for len(line) > 0 && (line[len(line)-1] == ' ' || line[len(line)-1] == '\t') {
		line = line[:len(line)-1]
	}
	if i := bytes.IndexByte(line, ';'); i >= 0 {
		line = line[:i]
	}
	if len(line) == 0 {
		return errEmptySize
	}
	var size uint64
	for i, c := range line {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			c = c - 'A' + 10
		default:
			return errSizeByte
		}
		if i == 16 {
			return errSizeTooLarge
		}
		size = size<<4 | uint64(c)
	}
	// net/http's guard against a body of tiny chunks with long lines: the
	// framing may exceed 16 bytes plus twice the data by 16 KiB at most.
	// (int64 wraps as net/http's arithmetic does, for sizes past 2^63.)
	d.excess -= 16 + 2*int64(size)
	d.excess = max(d.excess, 0)
	if d.excess > 16*1024 {
		return errTooMuchFrame
	}
	d.chunkLeft = size
	if size == 0 {
		d.state = chunkTrailer
	} else {
		d.state = chunkData
	}
	return nil
}

var crlfcrlf = []byte("\r\n\r\n")

// readTrailer reads the trailer section after the last chunk as net/http
// does: CRLF alone ends it; otherwise a CRLFCRLF must come within
// maxTrail bytes, and the fields up to the first empty line are read as a
// head's (bare LF, obs-fold and all).
func (d *BodyDecoder) readTrailer(in []byte) (used int, err error) {
	if len(in) < 2 {
		return 0, nil
	}
	if in[0] == '\r' && in[1] == '\n' {
		return 2, nil
	}
	window := in[:min(len(in), d.maxTrail)]
	if !bytes.Contains(window, crlfcrlf) {
		if len(in) >= d.maxTrail {
			return 0, errLongTrailer
		}
		return 0, nil
	}
	end, _ := HeadEnd(in, 0)
	s := string(in[:end])
	t, err := parseFields(s, 0)
	if err != nil {
		return 0, err
	}
	d.trailer = t
	return end, nil
}

// Trailer returns the trailer fields read after the last chunk, nil if
// none. A server merges them into Request.Trailer key by key, as net/http
// does (a key no Trailer field declared is added too).
func (d *BodyDecoder) Trailer() http.Header { return d.trailer }

// Remaining returns the bytes of a Content-Length body still to come, -1
// for a chunked body.
func (d *BodyDecoder) Remaining() int64 { return d.remaining }
