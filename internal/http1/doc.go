// Package http1 reads HTTP/1.x requests for a server on an event loop,
// from bytes as they arrive, exactly as strictly as net/http.Server reads
// them: the same requests accepted, the same refused with the same status,
// the same decisions to close the connection (RFC 9112 as net/http
// applies it).
//
// A server finds a head's end with HeadEnd, parses it with ParseRequest
// into the *http.Request a net/http handler sees, and delimits its body
// with a BodyDecoder; a refusal is an *Error, whose AppendResponse is what
// net/http writes before it closes the connection. Nothing here blocks or
// reads a socket.
//
// The package's tests hold it to net/http itself: every case of
// http1test.Cases is played against a net/http.Server and a small server
// built on this package, whole, byte by byte and in random cuts.
package http1
