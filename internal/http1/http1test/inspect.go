// Package http1test holds what tests of HTTP/1 servers share: raw request
// Cases from RFC 9110/9112 and the request-smuggling literature, the
// Inspect handler that reports what a handler sees, Exchange, which plays a
// case against a server over TCP, and Compare, which says how two servers'
// answers differ. It is imported by tests only.
package http1test

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
)

// Report is what Inspect answers about a request, as JSON.
type Report struct {
	Method           string      `json:"method"`
	Target           string      `json:"target"` // RequestURI
	Proto            string      `json:"proto"`
	Host             string      `json:"host"`
	Headers          http.Header `json:"headers"` // without Host
	ContentLength    int64       `json:"content_length"`
	TransferEncoding []string    `json:"transfer_encoding"`
	Close            bool        `json:"close"`
	BodyLen          int64       `json:"body_len"`
	BodySHA256       string      `json:"body_sha256"`          // hex, of the bytes read
	BodyError        string      `json:"body_error,omitempty"` // the error that ended the body, if not EOF
	Trailers         http.Header `json:"trailers"`             // r.Trailer once the body is read
}

// Describe reads r's body to its end and reports what a handler sees of r.
func Describe(r *http.Request) Report {
	rep := Report{
		Method:           r.Method,
		Target:           r.RequestURI,
		Proto:            r.Proto,
		Host:             r.Host,
		Headers:          r.Header,
		ContentLength:    r.ContentLength,
		TransferEncoding: r.TransferEncoding,
		Close:            r.Close,
	}
	if _, ok := r.Header["Host"]; ok {
		rep.Headers = r.Header.Clone()
		delete(rep.Headers, "Host")
	}
	sum := sha256.New()
	if r.Body != nil {
		n, err := io.Copy(sum, r.Body)
		rep.BodyLen = n
		if err != nil {
			rep.BodyError = err.Error()
		}
	}
	rep.BodySHA256 = hex.EncodeToString(sum.Sum(nil))
	rep.Trailers = r.Trailer
	return rep
}

// InspectJSON reads r's body and returns Describe's report as JSON: what
// Inspect answers, and iomux http-server's /inspect.
func InspectJSON(r *http.Request) []byte {
	b, err := json.Marshal(Describe(r))
	if err != nil {
		panic(err) // a Report always marshals
	}
	return b
}

// Inspect answers every request with 200, application/json and a
// Content-Length: InspectJSON's report.
var Inspect http.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	b := InspectJSON(r)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.Write(b)
})
