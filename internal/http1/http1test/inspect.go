// Package http1test holds what tests of HTTP/1 servers share: raw request
// Cases from RFC 9110/9112 and the request-smuggling literature, the
// Inspect handler that reports what a handler sees, Exchange, which plays a
// case against a server over TCP, and Compare, which says how two servers'
// answers differ. It is imported by tests only.
package http1test

import (
	"net/http"

	"github.com/iomux/iomux/internal/httpserver"
)

// Inspect is iomux http-server's /inspect for every request: 200,
// application/json and a Content-Length, with what the handler saw
// (httpserver.Report).
var Inspect http.Handler = http.HandlerFunc(httpserver.Inspect)
