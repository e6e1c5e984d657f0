package http1

import (
	"net/http"
	"strconv"
	"time"
)

// Error is a request the server must refuse. The connection always closes
// after an Error, as net/http closes it.
type Error struct {
	Status int    // 400, 417, 431, 501, 505
	Reason string // the text net/http adds to the status ("missing required Host header"), or ""

	detail  string // the error net/http's reading reports (Error's text), if not Reason
	proto10 bool   // the request was HTTP/1.0 (for 417, answered as a response)
	head    bool   // the request was HEAD (for 417)
}

// Error returns the text of the error net/http's own reading would report:
// what a handler reading a malformed chunked body sees, for instance
// ("malformed chunked encoding").
func (e *Error) Error() string {
	if e.detail != "" {
		return e.detail
	}
	return http.StatusText(e.Status) + ": " + e.Reason
}

// errorHeaders are the fields net/http sends with a refusal.
const errorHeaders = "\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n"

// AppendResponse appends to dst the response net/http.Server writes when it
// refuses a request this way; the server then closes the connection (after
// a 431, net/http half-closes first and lingers, so that the client reads
// it). The body of a refusal is delimited by the close, as net/http's is;
// a 417 is an ordinary response with a Date, now.
func (e *Error) AppendResponse(dst []byte) []byte {
	text := http.StatusText(e.Status)
	switch {
	case e.Status == http.StatusExpectationFailed:
		return e.appendExpectationFailed(dst)
	case e.Status == http.StatusRequestHeaderFieldsTooLarge:
		dst = append(dst, "HTTP/1.1 431 "...)
		dst = append(dst, text...)
		dst = append(dst, errorHeaders...)
		return append(append(dst, "431 "...), text...)
	case e.Status == http.StatusNotImplemented:
		dst = append(dst, "HTTP/1.1 501 "...)
		dst = append(dst, text...)
		dst = append(dst, errorHeaders...)
		return append(dst, "Unsupported transfer encoding"...)
	case e.Reason != "":
		line := strconv.Itoa(e.Status) + " " + text + ": " + e.Reason
		dst = append(dst, "HTTP/1.1 "...)
		dst = append(dst, line...)
		dst = append(dst, errorHeaders...)
		return append(dst, line...)
	default:
		dst = append(dst, "HTTP/1.1 400 Bad Request"...)
		dst = append(dst, errorHeaders...)
		return append(dst, "400 Bad Request"...)
	}
}

// appendExpectationFailed writes what net/http's sendExpectationFailed
// sends: a 417 with Connection: close and an empty body, which has a
// Content-Length: 0 unless it answers HEAD.
func (e *Error) appendExpectationFailed(dst []byte) []byte {
	if e.proto10 {
		dst = append(dst, "HTTP/1.0 417 Expectation Failed\r\nConnection: close\r\nDate: "...)
	} else {
		dst = append(dst, "HTTP/1.1 417 Expectation Failed\r\nConnection: close\r\nDate: "...)
	}
	dst = time.Now().UTC().AppendFormat(dst, http.TimeFormat)
	if e.head {
		return append(dst, "\r\n\r\n"...)
	}
	return append(dst, "\r\nContent-Length: 0\r\n\r\n"...)
}

// badRequest is a refusal net/http answers with a bare 400; detail is its
// reason, which it logs but does not send.
func badRequest(detail string) *Error {
	return &Error{Status: http.StatusBadRequest, detail: detail}
}

// badString is net/http's badStringError: what and val quoted.
func badString(what, val string) *Error {
	return badRequest(what + " " + strconv.Quote(val))
}
