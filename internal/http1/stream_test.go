package http1

import (
	"bufio"
	"bytes"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/textproto"
	"slices"
	"strings"
	"testing"

	"github.com/iomux/iomux/internal/http1/http1test"
)

// parseStream reads pieces, in order, as a server on a loop reads a
// connection's input: HeadEnd, ParseRequest, BodyDecoder, the CRLF after a
// POST. It returns one line per request: what was parsed, or why reading
// stopped.
func parseStream(pieces [][]byte, lim Limits) []string {
	var buf []byte
	more := func() bool {
		if len(pieces) == 0 {
			return false
		}
		buf = append(buf, pieces[0]...)
		pieces = pieces[1:]
		return true
	}
	var out []string
	afterPOST := false
	for {
		if afterPOST {
			for {
				n, ok := SkipCRLFAfterPOST(buf)
				if ok {
					buf = buf[n:]
					break
				}
				if !more() {
					return append(out, fmt.Sprintf("waiting for a request, %d bytes", len(buf)))
				}
			}
		}
		end, from := HeadEnd(buf, 0)
		for end < 0 {
			if len(buf) > lim.MaxHead() {
				return append(out, "431")
			}
			if !more() {
				return append(out, fmt.Sprintf("waiting for a head, %d bytes", len(buf)))
			}
			end, from = HeadEnd(buf, from)
		}
		r, f, err := ParseRequest(buf[:end], lim)
		buf = buf[end:]
		if err != nil {
			return append(out, fmt.Sprintf("refused: %d %s", err.(*Error).Status, err))
		}
		var dec BodyDecoder
		dec.Reset(f, lim)
		var body []byte
		var bodyEnd string
		for {
			n, data, done, err := dec.Decode(buf)
			body = append(body, data...)
			buf = buf[n:]
			if err != nil {
				bodyEnd = "body error: " + err.Error()
				break
			}
			if done {
				break
			}
			if n == 0 && !more() {
				bodyEnd = "body waiting"
				break
			}
		}
		out = append(out, fmt.Sprintf("%s %q %s host=%q header=%v url=%s cl=%d te=%v close=%v trailer=%v %+v body=%q trailers=%v %s",
			r.Method, r.RequestURI, r.Proto, r.Host, r.Header, r.URL, r.ContentLength, r.TransferEncoding, r.Close, r.Trailer,
			f, body, dec.Trailer(), bodyEnd))
		if f.Close || bodyEnd != "" {
			return out
		}
		afterPOST = r.Method == "POST"
	}
}

// randomPieces cuts raw at random places.
func randomPieces(raw []byte, r *rand.Rand) [][]byte {
	var p [][]byte
	for len(raw) > 0 {
		n := 1 + r.IntN(min(len(raw), 64))
		p = append(p, raw[:n])
		raw = raw[n:]
	}
	return p
}

// TestSplitInvariance reads every case whole, byte by byte and in 20
// random cuts, and requires the same requests every time.
func TestSplitInvariance(t *testing.T) {
	lim := Limits{MaxHeaderBytes: http1test.MaxHeaderBytes}
	for _, c := range http1test.Cases {
		whole := parseStream([][]byte{c.Raw}, lim)
		bytewise := parseStream(http1test.Split{Mode: http1test.ByteByByte}.Pieces(c.Raw), lim)
		if !slices.Equal(whole, bytewise) {
			t.Errorf("%s: byte by byte:\n%s\nwhole:\n%s", c.Name, strings.Join(bytewise, "\n"), strings.Join(whole, "\n"))
		}
		r := rand.New(rand.NewPCG(1, 2))
		for i := range 20 {
			got := parseStream(randomPieces(c.Raw, r), lim)
			if !slices.Equal(whole, got) {
				t.Errorf("%s: random cut %d:\n%s\nwhole:\n%s", c.Name, i, strings.Join(got, "\n"), strings.Join(whole, "\n"))
			}
		}
	}
}

// stdStatus is the status net/http.Server answers a head with, and the
// request its handler would see (nil if refused): http.ReadRequest, then
// the checks of the server's readRequest and serve, from net/http's
// server.go.
func stdStatus(data []byte) (*http.Request, int) {
	req, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(data)))
	if err != nil {
		if s := err.Error(); strings.HasPrefix(s, "too many transfer encodings") || strings.HasPrefix(s, "unsupported transfer encoding") {
			return nil, 501
		}
		return nil, 400
	}
	if req.ProtoMajor != 1 && !(req.ProtoMajor == 2 && req.ProtoMinor == 0 && req.Method == "PRI" && req.RequestURI == "*") {
		return nil, 505
	}
	// ReadRequest has removed Host: find it again from the raw head.
	h2 := req.Method == "PRI" && req.URL.Path == "*" && req.Proto == "HTTP/2.0" && req.Close && req.ContentLength == -1
	hosts, haveHost := rawHosts(data)
	if req.ProtoAtLeast(1, 1) && !haveHost && !h2 && req.Method != "CONNECT" {
		return nil, 400
	}
	if len(hosts) == 1 && !validHost(hosts[0]) {
		return nil, 400
	}
	for k := range req.Header {
		if !IsToken(k) {
			return nil, 400
		}
	}
	if !hasToken(req.Header.Get("Expect"), "100-continue") && req.Header.Get("Expect") != "" {
		return nil, 417
	}
	return req, 200
}

// rawHosts reads the Host fields of a head with net/textproto's reader.
func rawHosts(data []byte) ([]string, bool) {
	br := bufio.NewReader(bytes.NewReader(data))
	br.ReadString('\n')
	h, _ := newTextprotoReader(br).ReadMIMEHeader()
	v, ok := h["Host"]
	return v, ok
}

// FuzzParseRequest checks, on any input, that the parser does not panic,
// reads the same whole and in pieces, and accepts and refuses the first
// request as net/http (http.ReadRequest and its server's checks) does,
// with the same status and the same request.
func FuzzParseRequest(f *testing.F) {
	for _, c := range http1test.Cases {
		if len(c.Raw) < 4096 {
			f.Add(c.Raw)
		}
	}
	lim := Limits{}
	f.Fuzz(func(t *testing.T, data []byte) {
		whole := parseStream([][]byte{data}, lim)
		r := rand.New(rand.NewPCG(uint64(len(data)), 7))
		if got := parseStream(randomPieces(data, r), lim); !slices.Equal(whole, got) {
			t.Fatalf("in pieces:\n%s\nwhole:\n%s", strings.Join(got, "\n"), strings.Join(whole, "\n"))
		}
		end, _ := HeadEnd(data, 0)
		if end < 0 {
			return
		}
		got, f, err := ParseRequest(data[:end], lim)
		status := 200
		if err != nil {
			status = err.(*Error).Status
		}
		want, wantStatus := stdStatus(data[:end])
		if status != wantStatus {
			t.Fatalf("status %d (%v), net/http %d", status, err, wantStatus)
		}
		if want == nil {
			return
		}
		if g, w := describe(got), describe(want); g != w {
			t.Fatalf("request:\n%s\nnet/http:\n%s", g, w)
		}
		if want10 := want.ProtoMajor == 1 && want.ProtoMinor == 0 && hasToken(want.Header.Get("Connection"), "keep-alive"); f.KeepAlive10 != want10 {
			t.Fatalf("KeepAlive10 %v", f.KeepAlive10)
		}
	})
}

func describe(r *http.Request) string {
	return fmt.Sprintf("%s %q %s %d.%d host=%q header=%v url=%q %q %q %q %q %q %q cl=%d te=%v close=%v trailer=%v",
		r.Method, r.RequestURI, r.Proto, r.ProtoMajor, r.ProtoMinor, r.Host, r.Header, r.URL.String(), r.URL.Scheme, r.URL.Opaque, r.URL.Host, r.URL.Path, r.URL.RawPath, r.URL.RawQuery, r.ContentLength, r.TransferEncoding, r.Close, r.Trailer)
}

func newTextprotoReader(br *bufio.Reader) *textproto.Reader { return textproto.NewReader(br) }
