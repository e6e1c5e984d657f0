package http1test

import (
	"strings"
)

// Case is a raw request (or several, pipelined) and what it tests.
type Case struct {
	Name string
	Raw  []byte
	Note string
}

// MaxHeaderBytes is the http.Server.MaxHeaderBytes the servers a test
// compares must be configured with: the cases at the head limit are sized
// for it (net/http reads a head of up to MaxHeaderBytes+4096 bytes).
const MaxHeaderBytes = 8 << 10

// maxHead is the longest head net/http reads with MaxHeaderBytes.
const maxHead = MaxHeaderBytes + 4096

const get = "GET / HTTP/1.1\r\nHost: a\r\n\r\n"

// padded returns a GET head of exactly n bytes, padded by one long field.
func padded(n int) string {
	const pre, post = "GET / HTTP/1.1\r\nHost: a\r\nX-Pad: ", "\r\n\r\n"
	return pre + strings.Repeat("p", n-len(pre)-len(post)) + post
}

// longTarget returns a GET head of exactly n bytes with a long target.
func longTarget(n int) string {
	const pre, post = "GET /", " HTTP/1.1\r\nHost: a\r\n\r\n"
	return pre + strings.Repeat("t", n-len(pre)-len(post)) + post
}

// chunks returns n one-byte chunks, each with an extension of extLen bytes.
func chunks(n, extLen int) string {
	var b strings.Builder
	for range n {
		b.WriteString("1;" + strings.Repeat("e", extLen) + "\r\nx\r\n")
	}
	return b.String() + "0\r\n\r\n"
}

const chunkedPost = "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"

// Cases are the raw requests every HTTP/1 server of ours is compared on
// with net/http.Server: RFC 9110/9112's rules and the request-smuggling
// literature's probes.
var Cases = func() []Case {
	cs := []Case{
		// Versions and keep-alive.
		{"get", nil, "the smallest HTTP/1.1 request, kept alive"},
		{"get-1.0", []byte("GET / HTTP/1.0\r\n\r\n" + get), "HTTP/1.0 closes by default: the second request is never served"},
		{"get-1.0-keepalive", []byte("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET /2 HTTP/1.0\r\n\r\n"), "HTTP/1.0 keep-alive: a response with Content-Length keeps the connection and says so"},
		{"get-1.0-keepalive-close", []byte("GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n" + get), "HTTP/1.0 with both tokens: r.Close, yet net/http keeps the connection"},
		{"get-1.0-close-then-keepalive", []byte("GET / HTTP/1.0\r\nConnection: close\r\nConnection: keep-alive\r\n\r\n" + get), "only the first Connection field decides 1.0 keep-alive"},
		{"get-1.0-keepalive-second-field", []byte("GET / HTTP/1.0\r\nConnection: foo\r\nConnection: keep-alive\r\n\r\n" + get), "r.Close is false (any field), but the connection closes (first field)"},
		{"get-close", []byte("GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n" + get), "Connection: close: the second request is never served"},
		{"get-close-capitalised", []byte("GET / HTTP/1.1\r\nHost: a\r\nConnection: Close\r\n\r\n" + get), "connection tokens are case-insensitive"},
		{"get-close-space-token", []byte("GET / HTTP/1.1\r\nHost: a\r\nConnection: foo close\r\n\r\n" + get), "net/http finds close between spaces, though not a list element: r.Close false, connection closed"},
		{"get-keepalive-1.1", []byte("GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive\r\n\r\n" + get), "keep-alive on 1.1 changes nothing"},
		{"get-1.2", []byte("GET / HTTP/1.2\r\nHost: a\r\n\r\n"), "HTTP/1.2 is served as an HTTP/1.x request"},
		{"get-1.2-no-host", []byte("GET / HTTP/1.2\r\n\r\n"), "HTTP/1.2 needs Host as 1.1 does"},
		{"get-2.0", []byte("GET / HTTP/2.0\r\nHost: a\r\n\r\n"), "HTTP/2.0 over HTTP/1: 505"},
		{"get-0.9", []byte("GET / HTTP/0.9\r\n\r\n"), "HTTP/0.9 version: 505"},
		{"get-3.0", []byte("GET / HTTP/3.0\r\nHost: a\r\n\r\n"), "HTTP/3.0: 505"},
		{"get-0.0-te-gzip", []byte("GET / HTTP/0.0\r\nTransfer-Encoding: gzip\r\n\r\n"), "HTTP/0.0 is read as 1.1 for Transfer-Encoding: 501 comes before 505"},
		{"version-trailing-space", []byte("GET / HTTP/1.1 \r\nHost: a\r\n\r\n"), "a space after the version: malformed version"},
		{"version-lowercase", []byte("GET / http/1.1\r\nHost: a\r\n\r\n"), "the version is case-sensitive"},
		{"version-two-digit", []byte("GET / HTTP/1.10\r\nHost: a\r\n\r\n"), "one digit each side of the dot"},
		{"version-missing", []byte("GET /\r\nHost: a\r\n\r\n"), "an HTTP/0.9-style request line"},
		{"version-plus", []byte("GET / HTTP/+.1\r\nHost: a\r\n\r\n"), "a sign is no digit"},

		// Pipelining and what comes between requests.
		{"pipeline-3", []byte(get + "GET /2 HTTP/1.1\r\nHost: a\r\n\r\nGET /3 HTTP/1.1\r\nHost: a\r\n\r\n"), "three requests in one write, answered in order"},
		{"pipeline-partial", []byte(get + "GET /2 HTTP/1.1\r\nHost: a\r\n\r\nGET /3 HTTP/1.1\r\nHos"), "a partial last request waits"},
		{"pipeline-post-get", []byte("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello" + get), "a body, then the next request"},
		{"pipeline-head-get", []byte("HEAD / HTTP/1.1\r\nHost: a\r\n\r\n" + get), "a response to HEAD has no body; the next one does"},
		{"post-then-crlf", []byte("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello\r\n" + get), "net/http skips the CRLF an old client sends after a POST body"},
		{"post-then-3-crlf", []byte("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello\r\n\r\n\r\n" + get), "but only the CR and LF among four bytes"},
		{"post-then-lf", []byte("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello\n" + get), "a bare LF after a POST is skipped too"},
		{"get-then-crlf", []byte(get + "\r\n" + get), "after a GET, an empty line is a malformed request"},
		{"leading-crlf", []byte("\r\n" + get), "an empty line before the first request: 400"},
		{"leading-lf", []byte("\n" + get), "a bare LF before the first request: 400"},
		{"post-no-length", []byte("POST / HTTP/1.1\r\nHost: a\r\n\r\nabc\r\n\r\n"), "no Content-Length, no chunked: no body; what follows is the next request"},

		// Content-Length.
		{"cl-5", []byte("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello"), "a Content-Length body"},
		{"cl-0", []byte("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n"), "an empty body"},
		{"cl-get-body", []byte("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc" + get), "a GET may have a body"},
		{"cl-plus", []byte("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +5\r\n\r\nhello"), "a sign is no digit: 400"},
		{"cl-leading-space", []byte("POST / HTTP/1.1\r\nHost: a\r\nContent-Length:  5\r\n\r\nhello"), "blanks around a value are no part of it"},
		{"cl-trailing-tab", []byte("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\t\r\n\r\nhello"), "trailing blanks too"},
		{"cl-list", []byte("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5,5\r\n\r\nhello"), "a list of lengths is refused, even equal ones"},
		{"cl-dup-equal", []byte("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello"), "equal Content-Length fields are merged into one"},
		{"cl-dup-differ", []byte("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!"), "different Content-Length fields: 400"},
		{"cl-empty", []byte("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: \r\n\r\n"), "an empty Content-Length: 400"},
		{"cl-negative", []byte("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n"), "a negative length: 400"},
		{"cl-hex", []byte("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0x5\r\n\r\nhello"), "lengths are decimal"},
		{"cl-overflow", []byte("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999\r\n\r\n"), "a length past int63: 400"},
		{"cl-junk", []byte("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5a\r\n\r\nhello"), "junk after the digits: 400"},
		{"cl-underscore", []byte("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1_0\r\n\r\n0123456789"), "Go literal syntax is no length"},
		{"cl-partial-body", []byte("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nhello"), "a body still coming: no answer yet"},

		// Transfer-Encoding.
		{"te-chunked", []byte(chunkedPost + "5\r\nhello\r\n0\r\n\r\n"), "a chunked body"},
		{"te-chunked-capitalised", []byte("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: Chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"), "transfer codings are case-insensitive"},
		{"te-chunked-identity", []byte("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, identity\r\n\r\n5\r\nhello\r\n0\r\n\r\n"), "only chunked alone is accepted: 501"},
		{"te-gzip-chunked", []byte("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"), "gzip then chunked: 501"},
		{"te-gzip", []byte("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n"), "gzip alone, chunked not last: 501"},
		{"te-identity", []byte("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: identity\r\nContent-Length: 5\r\n\r\nhello"), "identity (RFC 2616's) is unsupported: 501"},
		{"te-empty", []byte("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:\r\n\r\n"), "an empty Transfer-Encoding: 501"},
		{"te-two-fields", []byte("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"), "two Transfer-Encoding fields: 501"},
		{"te-padded", []byte("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:  chunked \r\n\r\n5\r\nhello\r\n0\r\n\r\n"), "blanks around chunked are trimmed"},
		{"te-obs-fold", []byte("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:\r\n chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"), "chunked on a continuation line is chunked"},
		{"te-vertical-tab", []byte("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: \x0bchunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"), "a vertical tab is no blank: a control in a value, 400"},
		{"te-1.0", []byte("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\nhello"), "HTTP/1.0's Transfer-Encoding is ignored (and removed): Content-Length frames"},
		{"te-1.0-gzip", []byte("POST / HTTP/1.0\r\nTransfer-Encoding: gzip\r\n\r\n"), "an unsupported coding on 1.0 is ignored too"},
		{"cl-and-te", []byte("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"), "CL.TE: chunked wins and Content-Length is removed"},
		{"te-and-cl", []byte("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 100\r\n\r\n5\r\nhello\r\n0\r\n\r\n" + get), "TE.CL: chunked wins, the next request is read after the last chunk"},
		{"cl-bad-and-te", []byte("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: x\r\n\r\n0\r\n\r\n"), "a malformed Content-Length is refused even beside chunked"},

		// Chunked bodies.
		{"chunked-multi", []byte(chunkedPost + "5\r\nhello\r\n1\r\n \r\na\r\n0123456789\r\n0\r\n\r\n"), "several chunks"},
		{"chunked-extension", []byte(chunkedPost + "5;name=value\r\nhello\r\n0;last\r\n\r\n"), "chunk extensions are ignored"},
		{"chunked-extension-quoted", []byte(chunkedPost + "5;name=\"a;b\\\"c\"\r\nhello\r\n0\r\n\r\n"), "a quoted extension value"},
		{"chunked-extension-space", []byte(chunkedPost + "5 ; name\r\nhello\r\n0\r\n\r\n"), "a space before ';' makes a bad size in net/http: body error"},
		{"chunked-extension-nul", []byte(chunkedPost + "5;\x00\r\nhello\r\n0\r\n\r\n"), "whatever an extension holds is ignored"},
		{"chunked-size-trailing-space", []byte(chunkedPost + "5 \r\nhello\r\n0\r\n\r\n"), "blanks after the size are trimmed"},
		{"chunked-size-leading-space", []byte(chunkedPost + " 5\r\nhello\r\n0\r\n\r\n"), "blanks before the size: body error"},
		{"chunked-size-upper-hex", []byte(chunkedPost + "A\r\n0123456789\r\n0\r\n\r\n"), "hex digits in either case"},
		{"chunked-size-0x", []byte(chunkedPost + "0x5\r\nhello\r\n0\r\n\r\n"), "0x is no hex prefix: body error"},
		{"chunked-size-negative", []byte(chunkedPost + "-5\r\nhello\r\n0\r\n\r\n"), "a negative size: body error"},
		{"chunked-size-empty", []byte(chunkedPost + "\r\nhello\r\n0\r\n\r\n"), "an empty size: body error"},
		{"chunked-size-overflow", []byte(chunkedPost + "10000000000000005\r\nhello\r\n0\r\n\r\n"), "17 hex digits: body error"},
		{"chunked-size-16-digits", []byte(chunkedPost + "fffffffffffffff0\r\nhello"), "a 16-digit size is read: the body is still coming"},
		{"chunked-size-plus", []byte(chunkedPost + "+5\r\nhello\r\n0\r\n\r\n"), "a sign: body error"},
		{"chunked-size-cr", []byte(chunkedPost + "5\r\r\nhello\r\n0\r\n\r\n"), "a CR inside the size line: body error"},
		{"chunked-size-bare-lf", []byte(chunkedPost + "5\nhello\r\n0\r\n\r\n"), "a size line ending in bare LF: body error"},
		{"chunked-data-no-crlf", []byte(chunkedPost + "5\r\nhelloX0\r\n\r\n"), "data not followed by CRLF: body error"},
		{"chunked-data-bare-lf", []byte(chunkedPost + "5\r\nhello\n0\r\n\r\n"), "data followed by bare LF: body error"},
		{"chunked-data-too-long", []byte(chunkedPost + "3\r\nhello\r\n0\r\n\r\n"), "more data than the size: body error"},
		{"chunked-no-final-crlf", []byte(chunkedPost + "5\r\nhello\r\n0\r\n" + get), "the last chunk without its empty line: the next request is read as trailers"},
		{"chunked-final-bare-lf", []byte(chunkedPost + "5\r\nhello\r\n0\r\n\n" + get), "the last chunk ended by bare LF: net/http waits for a CRLFCRLF (the next head's) before it ends the trailers"},
		{"chunked-long-extension", []byte(chunkedPost + "5;" + strings.Repeat("x", 5000) + "\r\nhello\r\n0\r\n\r\n"), "an absurdly long chunk extension: body error (line too long)"},
		{"chunked-extension-4094", []byte(chunkedPost + "5;" + strings.Repeat("x", 4092) + "\r\nhello\r\n0\r\n\r\n"), "a size line of 4096 bytes with its CRLF is the longest read"},
		{"chunked-extension-4095", []byte(chunkedPost + "5;" + strings.Repeat("x", 4093) + "\r\nhello\r\n0\r\n\r\n"), "one byte more: body error"},
		{"chunked-tiny-chunks-long-extensions", []byte(chunkedPost + chunks(20, 1000)), "more than 16 KiB of framing over the data: body error"},
		{"chunked-then-get", []byte(chunkedPost + "5\r\nhello\r\n0\r\n\r\n" + get), "the next request after a chunked body"},
		{"chunked-partial", []byte(chunkedPost + "5\r\nhel"), "a chunked body still coming: no answer yet"},

		// Trailers.
		{"trailer-declared", []byte("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTrailer: X-Sum, x-other\r\n\r\n5\r\nhello\r\n0\r\nX-Sum: 1\r\n\r\n"), "declared trailers: X-Other stays nil"},
		{"trailer-undeclared", []byte(chunkedPost + "5\r\nhello\r\n0\r\nX-Sum: 1\r\nX-Sum: 2\r\n\r\n"), "a trailer no Trailer field declared is kept"},
		{"trailer-declared-none-sent", []byte("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTrailer: X-Sum\r\n\r\n0\r\n\r\n"), "a declared trailer never sent"},
		{"trailer-bad-key", []byte("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTrailer: Content-Length\r\n\r\n0\r\n\r\n"), "Content-Length may not be declared a trailer: 400"},
		{"trailer-not-chunked", []byte("POST / HTTP/1.1\r\nHost: a\r\nTrailer: X-Sum\r\nContent-Length: 1\r\n\r\nx"), "Trailer without chunked stays a header"},
		{"trailer-obs-fold", []byte(chunkedPost + "0\r\nX-Sum: 1\r\n 2\r\n\r\n"), "a folded trailer"},
		{"trailer-no-colon", []byte(chunkedPost + "0\r\nX-Sum\r\n\r\n"), "a trailer line without a colon: body error"},
		{"trailer-host", []byte(chunkedPost + "0\r\nHost: b\r\nX Y: z\r\n\r\n"), "trailers are not held to a head's checks"},
		{"trailer-bare-lf", []byte(chunkedPost + "0\r\nX-Sum: 1\n\r\n\r\n"), "trailers read as a head: bare LF ends a line"},
		{"trailer-long", []byte(chunkedPost + "0\r\nX-Long: " + strings.Repeat("l", 5000) + "\r\n\r\n"), "a trailer section past 4096 bytes: body error"},

		// Field syntax.
		{"obs-fold", []byte("GET / HTTP/1.1\r\nHost: a\r\nX-Fold: one\r\n  two\r\n\tthree\r\n\r\n"), "obs-fold: continuation lines joined by one space"},
		{"obs-fold-blank-line", []byte("GET / HTTP/1.1\r\nHost: a\r\nX-Fold: one\r\n \r\n\r\n"), "a blank continuation line leaves a trailing space"},
		{"obs-fold-first-field", []byte("GET / HTTP/1.1\r\n Host: a\r\n\r\n"), "a continuation with nothing to continue: 400"},
		{"bare-lf", []byte("GET / HTTP/1.1\nHost: a\nX-A: b\n\n"), "bare LF line ends are accepted"},
		{"bare-lf-mixed", []byte("GET / HTTP/1.1\r\nHost: a\nX-A: b\r\n\n"), "mixed line ends"},
		{"bare-cr-in-value", []byte("GET / HTTP/1.1\r\nHost: a\r\nX-A: b\rc\r\n\r\n"), "a CR inside a value: 400"},
		{"bare-cr-line-end", []byte("GET / HTTP/1.1\rHost: a\r\n\r\n"), "bare CR does not end a line: malformed version"},
		{"bare-cr-field-end", []byte("GET / HTTP/1.1\r\nHost: a\rX-A: b\r\n\r\n"), "bare CR does not end a field: 400"},
		{"cr-cr-lf", []byte("GET / HTTP/1.1\r\nHost: a\r\r\n\r\n"), "one CR is dropped before LF, not two: 400"},
		{"nul-in-name", []byte("GET / HTTP/1.1\r\nHost: a\r\nX-\x00A: b\r\n\r\n"), "NUL in a name: 400"},
		{"nul-in-value", []byte("GET / HTTP/1.1\r\nHost: a\r\nX-A: b\x00c\r\n\r\n"), "NUL in a value: 400"},
		{"ctl-in-value", []byte("GET / HTTP/1.1\r\nHost: a\r\nX-A: b\x01c\r\n\r\n"), "a control byte in a value: 400"},
		{"del-in-value", []byte("GET / HTTP/1.1\r\nHost: a\r\nX-A: b\x7fc\r\n\r\n"), "DEL in a value: 400"},
		{"obs-text-in-value", []byte("GET / HTTP/1.1\r\nHost: a\r\nX-A: caf\xc3\xa9 \xff\r\n\r\n"), "bytes past 0x7f in a value are kept"},
		{"tab-in-value", []byte("GET / HTTP/1.1\r\nHost: a\r\nX-A: b\tc\r\n\r\n"), "a tab inside a value is kept"},
		{"space-before-colon", []byte("GET / HTTP/1.1\r\nHost: a\r\nX-A : b\r\n\r\n"), "a space before the colon: 400 invalid header name"},
		{"space-before-colon-host", []byte("GET / HTTP/1.1\r\nHost : a\r\n\r\n"), "Host with a space before the colon is no Host: 400 missing Host"},
		{"space-in-name", []byte("GET / HTTP/1.1\r\nHost: a\r\nX A: b\r\n\r\n"), "a space inside a name: 400 invalid header name"},
		{"empty-name", []byte("GET / HTTP/1.1\r\nHost: a\r\n: b\r\n\r\n"), "an empty name: 400"},
		{"no-colon", []byte("GET / HTTP/1.1\r\nHost: a\r\nX-A\r\n\r\n"), "a field line without a colon: 400"},
		{"name-separator", []byte("GET / HTTP/1.1\r\nHost: a\r\nX(A): b\r\n\r\n"), "a separator in a name: 400"},
		{"name-underscore", []byte("GET / HTTP/1.1\r\nHost: a\r\nx_forwarded_for: 1.2.3.4\r\n\r\n"), "an underscore is a token byte"},
		{"name-lowercase", []byte("GET / HTTP/1.1\r\nhost: a\r\nuser-agent: t\r\ncontent-type: text/plain\r\nx-custom-thing: 1\r\n\r\n"), "names are canonicalized"},
		{"field-repeated", []byte("GET / HTTP/1.1\r\nHost: a\r\nAccept: a\r\naccept: b\r\nACCEPT: c\r\n\r\n"), "repeated fields keep every value, in order"},
		{"value-empty", []byte("GET / HTTP/1.1\r\nHost: a\r\nX-A:\r\nX-B: \r\n\r\n"), "empty values"},
		{"pragma-no-cache", []byte("GET / HTTP/1.1\r\nHost: a\r\nPragma: no-cache\r\n\r\n"), "net/http adds Cache-Control: no-cache"},

		// Request targets and methods.
		{"absolute-form", []byte("GET http://example.com/x?y=1 HTTP/1.1\r\nHost: other\r\n\r\n"), "the target's authority is the request's Host"},
		{"absolute-form-no-host", []byte("GET http://example.com/ HTTP/1.1\r\n\r\n"), "absolute-form still needs a Host field: 400"},
		{"asterisk-options", []byte("OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n"), "asterisk-form"},
		{"asterisk-get", []byte("GET * HTTP/1.1\r\nHost: a\r\n\r\n"), "asterisk-form with GET: net/http accepts it"},
		{"authority-connect", []byte("CONNECT example.com:443 HTTP/1.1\r\n\r\n"), "authority-form, and CONNECT needs no Host"},
		{"authority-connect-path", []byte("CONNECT /rpc HTTP/1.1\r\n\r\n"), "CONNECT with a path (net/rpc)"},
		{"authority-get", []byte("GET example.com:80 HTTP/1.1\r\nHost: a\r\n\r\n"), "authority-form outside CONNECT: 400"},
		{"target-relative", []byte("GET a/b HTTP/1.1\r\nHost: a\r\n\r\n"), "a relative target: 400"},
		{"target-double-space", []byte("GET  / HTTP/1.1\r\nHost: a\r\n\r\n"), "two spaces: an empty target, 400"},
		{"target-space", []byte("GET /a b HTTP/1.1\r\nHost: a\r\n\r\n"), "a space in the target: malformed version"},
		{"target-ctl", []byte("GET /a\x01b HTTP/1.1\r\nHost: a\r\n\r\n"), "a control byte in the target: 400"},
		{"target-fragment", []byte("GET /a?b#c HTTP/1.1\r\nHost: a\r\n\r\n"), "a fragment in the target"},
		{"target-encoded", []byte("GET /a%20b/%2e%2e/c HTTP/1.1\r\nHost: a\r\n\r\n"), "percent-encoding is kept in RequestURI"},
		{"method-lowercase", []byte("get / HTTP/1.1\r\nHost: a\r\n\r\n"), "methods are case-sensitive tokens: get is another method"},
		{"method-invalid", []byte("G@T / HTTP/1.1\r\nHost: a\r\n\r\n"), "a separator in the method: 400"},
		{"method-nul", []byte("G\x00T / HTTP/1.1\r\nHost: a\r\n\r\n"), "NUL in the method: 400"},
		{"method-empty", []byte(" / HTTP/1.1\r\nHost: a\r\n\r\n"), "an empty method: 400"},
		{"head", []byte("HEAD / HTTP/1.1\r\nHost: a\r\n\r\n"), "HEAD: the response has a Content-Length and no body"},
		{"garbage", []byte("hello\r\n\r\n"), "no request line: 400"},

		// Host.
		{"no-host-1.1", []byte("GET / HTTP/1.1\r\n\r\n"), "HTTP/1.1 needs Host: 400"},
		{"no-host-1.0", []byte("GET / HTTP/1.0\r\n\r\n"), "HTTP/1.0 does not"},
		{"host-dup", []byte("GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n"), "two Host fields: 400"},
		{"host-empty", []byte("GET / HTTP/1.1\r\nHost:\r\n\r\n"), "an empty Host is a Host"},
		{"host-invalid", []byte("GET / HTTP/1.1\r\nHost: a/b\r\n\r\n"), "a slash in Host: 400 malformed Host header"},
		{"host-space", []byte("GET / HTTP/1.1\r\nHost: a b\r\n\r\n"), "a space in Host: 400"},
		{"host-ipv6", []byte("GET / HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n"), "an IPv6 literal and port"},
		{"host-utf8", []byte("GET / HTTP/1.1\r\nHost: caf\xc3\xa9\r\n\r\n"), "non-ASCII Host: 400"},

		// Expect.
		{"expect-100-body", []byte("POST / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\nhello"), "100 Continue before the response, once the handler reads"},
		{"expect-100-no-body", []byte("GET / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\n\r\n"), "no body: no 100 Continue"},
		{"expect-100-chunked", []byte(chunkedPost[:len(chunkedPost)-2] + "Expect: 100-Continue\r\n\r\n5\r\nhello\r\n0\r\n\r\n"), "chunked body, token in another case"},
		{"expect-100-1.0", []byte("POST / HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\nhello"), "HTTP/1.0 gets no 100 Continue"},
		{"expect-unknown", []byte("POST / HTTP/1.1\r\nHost: a\r\nExpect: something\r\nContent-Length: 5\r\n\r\nhello"), "an unknown expectation: 417"},
		{"expect-unknown-1.0", []byte("GET / HTTP/1.0\r\nExpect: something\r\n\r\n"), "417 on HTTP/1.0"},
		{"expect-unknown-head", []byte("HEAD / HTTP/1.1\r\nHost: a\r\nExpect: something\r\n\r\n"), "417 to HEAD: no Content-Length"},
		{"expect-100-and-unknown", []byte("POST / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue, foo\r\nContent-Length: 1\r\n\r\nx"), "100-continue among others is enough"},
		{"expect-second-field", []byte("POST / HTTP/1.1\r\nHost: a\r\nExpect: foo\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\nx"), "only the first Expect field counts: 417"},
		{"expect-empty", []byte("GET / HTTP/1.1\r\nHost: a\r\nExpect:\r\n\r\n"), "an empty Expect is none"},

		// Upgrades and HTTP/2.
		{"h2-preface", []byte("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"), "the HTTP/2 preface on an HTTP/1 port: served, then closed"},
		{"h2-pri-with-field", []byte("PRI * HTTP/2.0\r\nHost: a\r\n\r\n"), "PRI with a field is no preface: an HTTP/2.0 request net/http serves"},
		{"upgrade-websocket", []byte("GET /chat HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"), "an upgrade the handler ignores"},
		{"upgrade-h2c", []byte("GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n"), "h2c upgrade, ignored"},

		// Limits.
		{"head-at-limit", []byte(padded(maxHead)), "a head of exactly MaxHeaderBytes+4096 bytes is read"},
		{"head-past-limit", []byte(padded(maxHead + 1)), "one byte more: 431"},
		{"request-line-past-limit", []byte(longTarget(maxHead + 1)), "a huge request line: 431 (net/http never answers 414)"},
		{"request-line-at-limit", []byte(longTarget(maxHead)), "a long request line within the limit"},
		{"many-fields", []byte("GET / HTTP/1.1\r\nHost: a\r\n" + strings.Repeat("X-F: v\r\n", 1000) + "\r\n"), "a thousand fields"},
	}
	cs[0].Raw = []byte(get)
	return cs
}()

// EarlyCases are heads net/http refuses before their end has arrived: a
// bad line is answered as soon as it can be judged, not when the empty
// line comes (http1.EarlyError). They are kept apart from Cases until
// every server compared on Cases refuses early.
var EarlyCases = []Case{
	{"early-garbage", []byte("hello\r\n"), "a bad request line is refused once it has its LF"},
	{"early-garbage-no-lf", []byte("hello"), "but not before: no answer"},
	{"early-method", []byte("G@T / HTTP/1.1\r\n"), "a bad method, refused at once"},
	{"early-version", []byte("GET / HTTP/9\r\nHost: a\r\n"), "a bad version, refused at once"},
	{"early-target", []byte("GET a/b HTTP/1.1\r\n"), "a relative target, refused at once"},
	{"early-no-colon", []byte("GET / HTTP/1.1\r\nHost: a\r\nX-A\r\n"), "a field line without a colon, refused once it has its LF"},
	{"early-bad-name-waits", []byte("GET / HTTP/1.1\r\nHost: a\r\nX(A): b\r\n"), "a bad name waits for the byte that says no continuation follows"},
	{"early-bad-name", []byte("GET / HTTP/1.1\r\nHost: a\r\nX(A): b\r\nY"), "and is refused once it comes"},
	{"early-bad-value-folded", []byte("GET / HTTP/1.1\r\nHost: a\r\nX-A: \x01\r\n more\r\n and more\r\n"), "a bad value waits for its continuation lines to end"},
	{"early-bad-value-folded-end", []byte("GET / HTTP/1.1\r\nHost: a\r\nX-A: \x01\r\n more\r\n and more\r\nZ"), "then is refused"},
	{"early-bad-continuation", []byte("GET / HTTP/1.1\r\nHost: a\r\nX-A: ok\r\n b\x01d\r\nZ: c\r\n"), "a control in a continuation line, refused when the next field starts"},
	{"early-bad-cr", []byte("GET / HTTP/1.1\r\nHost: a\r\nX-A: a\rb\r\nZ"), "a CR inside a value"},
	{"early-name-space", []byte("GET / HTTP/1.1\r\nHost: a\r\nX A: b\r\nZ: c\r\n"), "a space in a name is refused only with the whole head: no answer yet"},
	{"early-initial-space", []byte("GET / HTTP/1.1\r\n Host: a\r\n"), "a first field line that starts with a blank, refused once it has its LF"},
	{"early-initial-space-long", []byte("GET / HTTP/1.1\r\n " + strings.Repeat("a", 5000)), "or once net/http's 4 KiB buffer is full"},
	{"early-initial-space-short", []byte("GET / HTTP/1.1\r\n\t" + strings.Repeat("a", 3000)), "not before"},
	{"early-good-so-far", []byte("GET / HTTP/1.1\r\nHost: a\r\nX-A: b\r\n c\r\n"), "a good head still coming: no answer"},
	{"early-bad-after-good", []byte(get + "GET / HTTP/1.1\r\nX(A): b\r\nY"), "a bad second request, refused early after the first is answered"},
}
