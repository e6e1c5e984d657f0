package http1

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// Framing is how the body that follows a head is delimited, and what the
// connection does after the request.
type Framing struct {
	// ContentLength is the body's length in bytes: 0 for no body, -1 when
	// chunked. (It is 0 for the HTTP/2 preface "PRI * HTTP/2.0", whose
	// Request.ContentLength net/http sets to -1.)
	ContentLength int64
	Chunked       bool
	// Close is true when the connection must close after this request's
	// response whatever the response is: Connection: close (as a token
	// anywhere in the first Connection field, as net/http looks for it),
	// HTTP/1.0 without keep-alive, the HTTP/2 preface.
	Close bool
	// KeepAlive10 is true for an HTTP/1.0 request whose first Connection
	// field has a keep-alive token: its connection stays open only if the
	// response has a Content-Length (or answers HEAD, or has a status with
	// no body), and that response then carries "Connection: keep-alive";
	// otherwise the connection closes after it. Close may still be true
	// (net/http keeps "Connection: keep-alive, close" on HTTP/1.0 open).
	KeepAlive10 bool
	// Expect100 is true when the client waits for "100 Continue" before it
	// sends the body: "Expect: 100-continue" on HTTP/1.1 with a body that is
	// chunked or of non-zero length. net/http sends the 100 Continue when
	// the handler first reads the body.
	Expect100 bool
}

// errTooLarge is a head longer than net/http reads.
var errTooLarge = &Error{Status: http.StatusRequestHeaderFieldsTooLarge, detail: "http: request too large"}

// ParseRequest parses one complete head, as HeadEnd delimits it, into the
// *http.Request a handler of net/http.Server would see: Method, URL,
// Proto, ProtoMajor/Minor, Header (canonical keys, Host removed, and the
// other changes net/http makes), Host, RequestURI, ContentLength,
// TransferEncoding, Close and Trailer (the keys a Trailer field declares,
// with nil values). Body, RemoteAddr, TLS and the context are the server's
// to set. On a request net/http.Server refuses it returns an *Error whose
// status and text are net/http's. Bytes after the head's empty line are
// ignored.
//
// The strings of the request (method, target, header values) share one
// copy of head, so a value a handler keeps keeps the whole head alive.
func ParseRequest(head []byte, lim Limits) (*http.Request, Framing, error) {
	p := new(requestAndURL)
	f, err := ParseRequestInto(&p.req, &p.url, head, lim)
	if err != nil {
		return nil, Framing{}, err
	}
	return &p.req, f, nil
}

// ParseRequestInto is ParseRequest into *r, which it overwrites; r.URL is
// u when the target is a plain path (most are), else a URL of its own.
// A server that copies the request it parses (WithContext does) can parse
// every head into one r, and put u in the memory of the request's own
// state.
func ParseRequestInto(r *http.Request, u *url.URL, head []byte, lim Limits) (Framing, error) {
	*r = http.Request{}
	if len(head) > lim.MaxHead() {
		// net/http stops reading at this point: whatever it was parsing
		// fails, and it answers 431.
		return Framing{}, errTooLarge
	}
	return parseRequest(r, u, string(head))
}

// nextLine returns the line of s starting at pos, without its LF and a
// CR before it, and where the next line starts; ok is false if the line
// has no LF.
func nextLine(s string, pos int) (line string, next int, ok bool) {
	i := strings.IndexByte(s[pos:], '\n')
	if i < 0 {
		return "", len(s), false
	}
	line = s[pos : pos+i]
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	return line, pos + i + 1, true
}

// parseRequest follows net/http's readRequest, readTransfer and the checks
// of its server's readRequest, in their order, so that the first rule a
// request breaks is the one reported.
func parseRequest(r *http.Request, u *url.URL, s string) (Framing, error) {
	line, pos, ok := nextLine(s, 0)
	if !ok {
		return Framing{}, badRequest("http1: head has no end")
	}
	if err := parseRequestLine(r, u, line); err != nil {
		return Framing{}, err
	}
	method, target, proto := r.Method, r.RequestURI, r.Proto
	h, hosts, err := parseFieldsAside(s, pos, "Host") // net/http takes Host out of the header
	if err != nil {
		return Framing{}, err
	}
	r.Header = h
	if hosts.n > 1 {
		return Framing{}, badRequest("too many Host headers")
	}
	// RFC 9112 section 3.2.2: an absolute-form target's authority wins
	// over the Host field.
	r.Host = r.URL.Host
	if r.Host == "" && hosts.n > 0 {
		r.Host = hosts.first
	}
	if p := h["Pragma"]; len(p) > 0 && p[0] == "no-cache" {
		if _, ok := h["Cache-Control"]; !ok {
			h["Cache-Control"] = []string{"no-cache"}
		}
	}
	r.Close = shouldClose(r.ProtoMajor, r.ProtoMinor, h)
	if err := readTransfer(r); err != nil {
		return Framing{}, err
	}
	h2Preface := method == "PRI" && len(h) == 0 && hosts.n == 0 && r.URL.Path == "*" && proto == "HTTP/2.0"
	if h2Preface {
		// Neither chunked nor of a declared length; net/http lets the
		// handler hijack the connection, else closes it.
		r.ContentLength = -1
		r.Close = true
	}

	// The server's checks, after the request has been read.
	if r.ProtoMajor != 1 && (r.ProtoMajor != 2 || r.ProtoMinor != 0 || method != "PRI" || target != "*") {
		return Framing{}, &Error{Status: http.StatusHTTPVersionNotSupported, Reason: "unsupported protocol version"}
	}
	if r.ProtoAtLeast(1, 1) && hosts.n == 0 && !h2Preface && method != "CONNECT" {
		return Framing{}, &Error{Status: http.StatusBadRequest, Reason: "missing required Host header"}
	}
	if hosts.n == 1 && !validHost(hosts.first) {
		return Framing{}, &Error{Status: http.StatusBadRequest, Reason: "malformed Host header"}
	}
	for k := range h {
		// Values never fail net/http's check here: parseFields has
		// refused the same bytes already. A name with a space in it
		// reaches this far.
		if !IsToken(k) {
			return Framing{}, &Error{Status: http.StatusBadRequest, Reason: "invalid header name"}
		}
	}

	f := Framing{ContentLength: r.ContentLength, Chunked: r.ContentLength < 0 && !h2Preface}
	if h2Preface {
		f.ContentLength = 0
	}
	conn := h.Get("Connection")
	f.KeepAlive10 = r.ProtoMajor == 1 && r.ProtoMinor == 0 && hasToken(conn, "keep-alive")
	wantsClose := r.Close || hasToken(conn, "close")
	f.Close = h2Preface || (!f.KeepAlive10 && (!r.ProtoAtLeast(1, 1) || wantsClose))
	if hasToken(h.Get("Expect"), "100-continue") {
		f.Expect100 = r.ProtoAtLeast(1, 1) && r.ContentLength != 0
	} else if h.Get("Expect") != "" {
		return Framing{}, &Error{Status: http.StatusExpectationFailed,
			detail: "http1: unsupported Expect", proto10: !r.ProtoAtLeast(1, 1), head: method == "HEAD"}
	}
	return f, nil
}

// parseRequestLine reads a request line as net/http does: method SP
// request-target SP version, cut at the first two spaces (so
// "GET /a b HTTP/1.1" has version "b HTTP/1.1").
func parseRequestLine(r *http.Request, u *url.URL, line string) error {
	method, rest, ok1 := strings.Cut(line, " ")
	target, proto, ok2 := strings.Cut(rest, " ")
	if !ok1 || !ok2 {
		return badString("malformed HTTP request", line)
	}
	if !IsToken(method) {
		return badString("invalid method", method)
	}
	r.Method, r.RequestURI, r.Proto = method, target, proto
	var ok bool
	if r.ProtoMajor, r.ProtoMinor, ok = http.ParseHTTPVersion(proto); !ok {
		return badString("malformed HTTP version", proto)
	}
	if path, query, forceQuery, ok := plainTarget(target); ok {
		*u = url.URL{Path: path, RawQuery: query, ForceQuery: forceQuery}
		r.URL = u
		return nil
	}
	// CONNECT's target is an authority (RFC 9112 section 3.2.3), unless it
	// is a path, as net/rpc sends.
	rawURL := target
	justAuthority := method == "CONNECT" && !strings.HasPrefix(target, "/")
	if justAuthority {
		rawURL = "http://" + target
	}
	var err error
	if r.URL, err = url.ParseRequestURI(rawURL); err != nil {
		return badRequest(err.Error())
	}
	if justAuthority {
		r.URL.Scheme = ""
	}
	return nil
}

// requestAndURL is a request with the URL it points to.
type requestAndURL struct {
	req http.Request
	url url.URL
}

// plainTarget splits a target that is an absolute path of letters,
// digits, "-._~/" and perhaps a query of bytes other than controls: the
// URL url.ParseRequestURI makes of it is only a Path (with no escapes,
// no RawPath), a RawQuery and ForceQuery (for a lone "?" at the end).
// ok is false for any other target (which ParseRequestURI parses).
func plainTarget(target string) (path, query string, forceQuery, ok bool) {
	path, query, hasQuery := strings.Cut(target, "?")
	if len(path) == 0 || path[0] != '/' {
		return "", "", false, false
	}
	for i := 0; i < len(path); i++ {
		if c := path[i]; !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~' || c == '/') {
			return "", "", false, false
		}
	}
	for i := 0; i < len(query); i++ {
		if c := query[i]; c < ' ' || c == 0x7f {
			return "", "", false, false
		}
	}
	return path, query, hasQuery && query == "", true
}

// shouldClose is net/http's r.Close: HTTP/1.0 closes unless a Connection
// field lists keep-alive, any version closes if one lists close.
func shouldClose(major, minor int, h http.Header) bool {
	if major < 1 {
		return true
	}
	conn := h["Connection"]
	hasClose := listHasToken(conn, "close")
	if major == 1 && minor == 0 {
		return hasClose || !listHasToken(conn, "keep-alive")
	}
	return hasClose
}

// readTransfer decides the body's framing as net/http's readTransfer does
// for a request (RFC 9112 section 6.3, hardened against smuggling):
// Transfer-Encoding only on HTTP/1.1 and up, only one field, only
// "chunked"; several Content-Length fields only if equal; chunked wins over
// Content-Length, which it removes.
func readTransfer(r *http.Request) error {
	h := r.Header
	major, minor := r.ProtoMajor, r.ProtoMinor
	if major == 0 && minor == 0 {
		major, minor = 1, 1 // as net/http assumes for "HTTP/0.0"
	}
	chunked := false
	if te, ok := h["Transfer-Encoding"]; ok {
		delete(h, "Transfer-Encoding")
		if major > 1 || major == 1 && minor >= 1 { // HTTP/1.0's is ignored
			if len(te) != 1 {
				return &Error{Status: http.StatusNotImplemented, detail: "too many transfer encodings: " + quoteList(te)}
			}
			if !equalFoldBytes(te[0], "chunked") {
				return &Error{Status: http.StatusNotImplemented, detail: "unsupported transfer encoding: " + strconv.Quote(te[0])}
			}
			chunked = true
		}
	}

	cls := h["Content-Length"]
	if len(cls) > 1 {
		first := trimSpace(cls[0])
		for _, cl := range cls[1:] {
			if trimSpace(cl) != first {
				return badRequest("http: message cannot contain multiple Content-Length headers; got " + quoteList(cls))
			}
		}
		cls = []string{first}
		h["Content-Length"] = cls
	}
	var n int64
	if len(cls) > 0 {
		cl := trimSpace(cls[0])
		if cl == "" {
			return badString("invalid empty Content-Length", cl)
		}
		u, err := strconv.ParseUint(cl, 10, 63)
		if err != nil {
			return badString("bad Content-Length", cl)
		}
		n = int64(u)
	}
	switch {
	case chunked:
		delete(h, "Content-Length")
		n = -1
	case len(cls) == 0:
		n = 0
	}
	r.ContentLength = n
	if chunked {
		r.TransferEncoding = []string{"chunked"}
		if err := declareTrailer(r); err != nil {
			return err
		}
	}
	return nil
}

// declareTrailer moves the keys a Trailer field lists into r.Trailer, with
// nil values, as net/http's fixTrailer does (for chunked bodies only).
func declareTrailer(r *http.Request) error {
	vv, ok := r.Header["Trailer"]
	if !ok {
		return nil
	}
	delete(r.Header, "Trailer")
	var t http.Header
	for _, v := range vv {
		for _, key := range strings.Split(v, ",") {
			if key = trimSpace(key); key == "" {
				continue
			}
			key = http.CanonicalHeaderKey(key)
			switch key {
			case "Transfer-Encoding", "Trailer", "Content-Length":
				return badString("bad trailer key", key)
			}
			if t == nil {
				t = make(http.Header)
			}
			t[key] = nil
		}
	}
	r.Trailer = t
	return nil
}

// equalFoldBytes compares as net/http's ascii.EqualFold: ASCII letters
// without case, every other byte as itself.
func equalFoldBytes(s, t string) bool {
	if len(s) != len(t) {
		return false
	}
	for i := 0; i < len(s); i++ {
		if lower(s[i]) != lower(t[i]) {
			return false
		}
	}
	return true
}

func lower(b byte) byte {
	if 'A' <= b && b <= 'Z' {
		return b + 'a' - 'A'
	}
	return b
}

// quoteList formats vv as fmt's %q formats a []string.
func quoteList(vv []string) string {
	b := []byte{'['}
	for i, v := range vv {
		if i > 0 {
			b = append(b, ' ')
		}
		b = strconv.AppendQuote(b, v)
	}
	return string(append(b, ']'))
}
