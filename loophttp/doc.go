// Package loophttp serves HTTP/1.0 and HTTP/1.1 with standard net/http
// Handlers on event loops (package loop): requests are parsed on the loop,
// handlers run on goroutines only while a request is in flight, and an idle
// keep-alive connection holds no goroutine and no buffers.
//
// Moving a net/http program onto the loop is one line:
//
//	http.ListenAndServe(":8080", mux)     // before
//	loophttp.ListenAndServe(":8080", mux) // after
//
// or, with a configured server, http.Server{...} becomes loophttp.Server{...}:
// the fields they share mean the same.
//
// How a connection is served: the loop reads it and parses request heads
// as they arrive, in any split (internal/http1, as strict as net/http: the
// same requests are refused with the same status). A complete head starts
// the connection's serving goroutine, which runs the handlers of its
// requests in order and exits when none waits. The body streams: the loop
// puts what arrives into the request's buffer (Server.MaxBodyBuffer) and
// stops reading the connection while it is full; r.Body.Read blocks the
// handler's goroutine, never the loop. Up to Server.MaxPipelined requests
// are parsed ahead; their responses go out in order, gathered into one
// write. A handler's output is buffered (a small response gets a
// Content-Length, a larger one is chunked, as with net/http) and handed to
// the loop; past the loop's HighWater, Write blocks until the client reads.
//
// Handlers run on a pool of worker goroutines; Server.NonBlocking names
// requests whose handler never blocks, which then run on the loop itself.
//
// The ResponseWriter is an http.Flusher, an http.Hijacker and an
// io.ReaderFrom (files go out with sendfile(2) on plain TCP on Linux, as
// net/http sends them), and works with http.ResponseController (Flush,
// EnableFullDuplex, SetReadDeadline and SetWriteDeadline, which close the
// connection at the deadline). Upgrade hands a connection to a
// loop.Handler after a 101 (a protocol served on the loop, as WebSocket).
package loophttp
