package http1

import (
	"net/http"
	"reflect"
	"strings"
	"testing"
)

// decodeAll feeds in to d in pieces of at most step bytes, as a server
// appends what arrives to what is left, and returns the body, the bytes
// left over after it, and the error.
func decodeAll(d *BodyDecoder, in []byte, step int) (body, rest []byte, done bool, err error) {
	var buf []byte
	for {
		for {
			n, data, fin, err := d.Decode(buf)
			body = append(body, data...)
			buf = buf[n:]
			if err != nil {
				return body, buf, false, err
			}
			if fin {
				return body, append(buf, in...), true, nil
			}
			if n == 0 {
				break
			}
		}
		if len(in) == 0 {
			return body, buf, false, nil
		}
		k := min(step, len(in))
		buf, in = append(buf, in[:k]...), in[k:]
	}
}

func TestContentLengthBoundaries(t *testing.T) {
	const next = "GET / HTTP/1.1\r\n"
	for cl := range 6 {
		in := []byte(strings.Repeat("b", cl) + next)
		for step := 1; step <= len(in); step++ {
			var d BodyDecoder
			d.Reset(Framing{ContentLength: int64(cl)}, Limits{})
			body, rest, done, err := decodeAll(&d, in, step)
			if err != nil || !done || len(body) != cl || string(rest) != next || d.Remaining() != 0 {
				t.Errorf("cl %d step %d: body %q rest %q done %v err %v remaining %d", cl, step, body, rest, done, err, d.Remaining())
			}
		}
	}
	var d BodyDecoder
	d.Reset(Framing{ContentLength: 10}, Limits{})
	if n, data, done, _ := d.Decode([]byte("abc")); n != 3 || string(data) != "abc" || done || d.Remaining() != 7 {
		t.Errorf("partial: n %d data %q done %v remaining %d", n, data, done, d.Remaining())
	}
}

func TestChunkedEverySplit(t *testing.T) {
	const next = "GET / HTTP/1.1\r\n"
	for _, tc := range []struct {
		in, body string
		trailer  http.Header
	}{
		{"0\r\n\r\n", "", nil},
		{"5\r\nhello\r\n0\r\n\r\n", "hello", nil},
		{"5;a=b\r\nhello\r\n1 \r\n!\r\nA;x\r\n0123456789\r\n0\r\n\r\n", "hello!0123456789", nil},
		{"3\r\nabc\r\n0\r\nX-Sum: 1\r\nx-sum: 2\r\n\r\n", "abc", http.Header{"X-Sum": {"1", "2"}}},
		{"3\r\nabc\r\n0\r\nX-A: 1\r\n 2\r\n\r\n", "abc", http.Header{"X-A": {"1 2"}}},
	} {
		in := []byte(tc.in + next)
		for step := 1; step <= len(in); step++ {
			var d BodyDecoder
			d.Reset(Framing{ContentLength: -1, Chunked: true}, Limits{})
			body, rest, done, err := decodeAll(&d, in, step)
			if err != nil || !done || string(body) != tc.body || string(rest) != next || d.Remaining() != -1 {
				t.Errorf("%q step %d: body %q rest %q done %v err %v", tc.in, step, body, rest, done, err)
			}
			if !reflect.DeepEqual(d.Trailer(), tc.trailer) {
				t.Errorf("%q step %d: trailer %v, want %v", tc.in, step, d.Trailer(), tc.trailer)
			}
		}
	}
}

func TestChunkedErrors(t *testing.T) {
	for _, tc := range []struct{ in, err string }{
		{"5\nhello\r\n0\r\n\r\n", "chunked line ends with bare LF"},
		{"5\r\r\nhello\r\n0\r\n\r\n", "invalid CR in chunked line"},
		{"\r\nhello\r\n0\r\n\r\n", "empty hex number for chunk length"},
		{"0x5\r\nhello\r\n0\r\n\r\n", "invalid byte in chunk length"},
		{"5 ;x\r\nhello\r\n0\r\n\r\n", "invalid byte in chunk length"},
		{"10000000000000000\r\n", "http chunk length too large"},
		{"5\r\nhelloXY", "malformed chunked encoding"},
		{"5;" + strings.Repeat("e", 4093) + "\r\n", "header line too long"},
		{strings.Repeat("1;"+strings.Repeat("e", 1000)+"\r\nx\r\n", 20), "chunked encoding contains too much non-data"},
		{"0\r\nX-A\r\n\r\n", `malformed MIME header: missing colon: "X-A"`},
		{"0\r\n X: a\r\n\r\n", `malformed MIME header initial line: " X: a"`},
		{"0\r\nX-A: " + strings.Repeat("v", 5000) + "\r\n\r\n", "http: suspiciously long trailer after chunked body"},
	} {
		for _, step := range []int{1, 7, len(tc.in)} {
			var d BodyDecoder
			d.Reset(Framing{ContentLength: -1, Chunked: true}, Limits{})
			_, _, _, err := decodeAll(&d, []byte(tc.in), step)
			e, ok := err.(*Error)
			if !ok || e.Status != http.StatusBadRequest || e.Error() != tc.err {
				t.Errorf("%.40q step %d: err %v, want %q", tc.in, step, err, tc.err)
			}
		}
	}
}

func TestTrailerLimit(t *testing.T) {
	trailer := "0\r\nX-A: " + strings.Repeat("v", 90) + "\r\n\r\n"
	for _, tc := range []struct {
		max  int
		fail bool
	}{{len(trailer) - 3 - 1, true}, {len(trailer) - 3, false}, {0, false}} {
		var d BodyDecoder
		// The limit counts from after the last chunk's line.
		d.Reset(Framing{ContentLength: -1, Chunked: true}, Limits{MaxTrailerBytes: tc.max})
		_, _, done, err := decodeAll(&d, []byte(trailer), 1)
		if (err != nil) != tc.fail || done == tc.fail {
			t.Errorf("limit %d: done %v err %v", tc.max, done, err)
		}
	}
}

func TestDecodeAllocs(t *testing.T) {
	in := []byte(strings.Repeat("400\r\n"+strings.Repeat("d", 1024)+"\r\n", 8) + "0\r\n\r\n")
	var d BodyDecoder
	allocs := testing.AllocsPerRun(100, func() {
		d.Reset(Framing{ContentLength: -1, Chunked: true}, Limits{})
		for rest := in; ; {
			n, _, done, err := d.Decode(rest)
			if err != nil || done {
				break
			}
			rest = rest[n:]
		}
	})
	if allocs != 0 {
		t.Errorf("%v allocations per chunked body", allocs)
	}
}

func TestHeadEndIncremental(t *testing.T) {
	for _, head := range []string{
		"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
		"GET / HTTP/1.1\nHost: a\n\n",
		"GET / HTTP/1.1\r\nHost: a\n\r\n",
		"\r\n",
		"\n",
	} {
		in := []byte(head + "NEXT")
		if end, _ := HeadEnd(in, 0); end != len(head) {
			t.Errorf("%q whole: end %d, want %d", head, end, len(head))
		}
		from := 0
		for i := 1; i <= len(in); i++ {
			end, next := HeadEnd(in[:i], from)
			if end >= 0 {
				if end != len(head) {
					t.Errorf("%q at %d: end %d, want %d", head, i, end, len(head))
				}
				break
			}
			if i >= len(head) {
				t.Errorf("%q: no end at %d", head, i)
			}
			from = next
		}
	}
	if end, _ := HeadEnd([]byte("GET / HTTP/1.1\r\nHost: a\r\r\n"), 0); end != -1 {
		t.Errorf("a line of one CR before CRLF ended the head at %d", end)
	}
}
