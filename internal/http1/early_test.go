package http1

import (
	"strings"
	"testing"
	"time"

	"github.com/iomux/iomux/internal/http1/http1test"
)

// earlyAt feeds raw in the pieces split makes, as a server does, and
// returns how many bytes had arrived when EarlyError refused (-1 if it
// never did) and its error.
func earlyAt(raw []byte, split http1test.Split) (int, error) {
	var buf []byte
	next := 0
	for _, p := range split.Pieces(raw) {
		buf = append(buf, p...)
		var err error
		if next, err = EarlyError(buf, next); err != nil {
			return len(buf), err
		}
	}
	return -1, nil
}

// TestEarlyErrorSplits requires the same refusal, at the first byte that
// allows it, however the head arrives.
func TestEarlyErrorSplits(t *testing.T) {
	for _, c := range append(http1test.Cases[:len(http1test.Cases):len(http1test.Cases)], http1test.EarlyCases...) {
		end, _ := HeadEnd(c.Raw, 0)
		if end < 0 {
			end = len(c.Raw)
		}
		head := c.Raw[:end]
		if len(head) > 1<<13 {
			continue // the limit cases: long and uninteresting here
		}
		byteAt, byteErr := earlyAt(head, http1test.Split{Mode: http1test.ByteByByte})
		for _, split := range http1test.Splits {
			at, err := earlyAt(head, split)
			if (err == nil) != (byteErr == nil) || err != nil && err.Error() != byteErr.Error() {
				t.Errorf("%s, %s: %v, byte by byte %v", c.Name, split, err, byteErr)
			}
			if split.Mode == http1test.Whole || err == nil {
				continue
			}
			// A cut may deliver the decisive byte with others.
			if at < byteAt {
				t.Errorf("%s, %s: refused after %d bytes, before the decisive byte %d", c.Name, split, at, byteAt)
			}
		}
	}
}

func TestEarlyError(t *testing.T) {
	for _, tc := range []struct {
		head string
		want string // the error's text, "" for none
	}{
		{"hello\r\n", `malformed HTTP request "hello"`},
		{"GET / HTTP/1.1\r\nHost: a\r\n", ""},
		{"GET / HTTP/1.1\r\nX(A): b\r\n", ""},
		{"GET / HTTP/1.1\r\nX(A): b\r\n c\r\n\t\r\nY", `malformed MIME header line: "X(A): b c "`},
		{"GET / HTTP/1.1\r\nX-A\r\n", `malformed MIME header: missing colon: "X-A"`},
		{"GET / HTTP/1.1\r\n: b\r\nY", `malformed MIME header line: ": b"`},
		{"GET / HTTP/1.1\r\n x\r\n", `malformed MIME header initial line: " x"`},
		{"GET / HTTP/1.1\r\n " + strings.Repeat("x", 90) + "\r\n", "message too large"},
		{"GET / HTTP/1.1\r\nA: b\r\n\r\nX(: y\r\nY", ""}, // past the head's end
	} {
		_, err := EarlyError([]byte(tc.head), 0)
		got := ""
		if err != nil {
			got = err.Error()
		}
		if got != tc.want {
			t.Errorf("%q: got %q, want %q", tc.head, got, tc.want)
		}
	}
}

// TestEarlyErrorLinear feeds long lines one byte at a time: a quadratic
// scan would take minutes.
func TestEarlyErrorLinear(t *testing.T) {
	const n = 1 << 20
	for _, head := range [][]byte{
		[]byte("GET /" + strings.Repeat("a", n)),                                                 // a long request line
		[]byte("GET / HTTP/1.1\r\nX-A: " + strings.Repeat("v", n)),                               // a long field line
		[]byte("GET / HTTP/1.1\r\nX-A: v\r\n" + strings.Repeat(" v\r\n", n/4)),                   // many continuation lines
		[]byte("GET /" + strings.Repeat("a", n) + " HTTP/1.1\r\n\t" + strings.Repeat("b", 4000)), // a pending initial line after a long request line
		[]byte("GET / HTTP/1.1\r\n" + strings.Repeat("X: v\r\n", n/6)),                           // many short fields
	} {
		start := time.Now()
		buf := make([]byte, 0, len(head))
		next := 0
		for _, c := range head {
			buf = append(buf, c)
			next, _ = EarlyError(buf, next)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("%.20q...: %v for %d bytes", head, d, len(head))
		}
	}
}
