package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"time"

	"github.com/iomux/iomux/internal/httpserver"
	"github.com/iomux/iomux/internal/httpserver/wsecho"
	"github.com/iomux/iomux/loophttp"
)

// httpServerProgram is iomux http-server.
func httpServerProgram() *command {
	return &command{
		name:    "http-server",
		summary: "serve HTTP/1.1 with net/http handlers on the event loop (loophttp)",
		usage: `Usage: iomux http-server [--addr 127.0.0.1:8080] [--dir DIR] [--tls-cert FILE --tls-key FILE]
                        [--read-header-timeout 5s] [--read-timeout 0] [--write-timeout 0] [--idle-timeout 2m]
                        [--inline=true] [--loops N] [--backend auto] [-v]

HTTP/1.0 and 1.1 from the event loop: plain net/http handlers (the same
code the tests also run under net/http.Server), served by loophttp, with
no goroutine for an idle keep-alive connection. Endpoints:

  /inspect            what the server saw of the request, as JSON (method,
                      target, proto, host, headers, content_length,
                      transfer_encoding, body_len, body_sha256, trailers);
                      a body over 8 MiB gets 413
  /echo               the body back as it arrives (full duplex), 200
  /status/NNN         that status (200..599), body "status NNN"
  /stream?n=N&size=S  N chunks of S bytes, chunk i all 'a'+i%26, flushed each
  /slow?ms=M          "ok" after M ms (at most 10 s)
  /plaintext          TechEmpower's plaintext test
  /ws                 a WebSocket echo on the loop (text as text, binary as
                      binary; permessage-deflate; 16 MiB a message; a ping
                      after 30 s of silence): what Autobahn's fuzzingclient
                      tests
  /...                --dir's files (http.FileServer), or an index

--tls-cert/--tls-key serve HTTPS (ALPN http/1.1). The timeouts are
http.Server's: a client that dribbles its head is closed after
--read-header-timeout, one idle between requests after --idle-timeout
(0: never). The handlers that never block (/plaintext, /status/NNN,
/inspect without a body) run on the loop itself (--inline, on by
default), the others on worker goroutines. -v prints a line per request
on stderr.

` + stopHelp + ` stops it gracefully: requests in flight finish, idle
connections close.

Example:
  $ iomux http-server --addr 127.0.0.1:8080 &
  starting up on 127.0.0.1 port 8080
  $ curl -s 'http://127.0.0.1:8080/inspect?x=1' -d hello
`,
		run: runHTTPServer,
	}
}

// httpRunner is a loophttp.Server as serve runs it.
type httpRunner struct{ *loophttp.Server }

func (h httpRunner) Stop(ctx context.Context) error { return h.Shutdown(ctx) }

func runHTTPServer(e *env, args []string) error {
	fs := newFlags(httpServerProgram())
	var opt serverOptions
	opt.bind(fs, "127.0.0.1:8080", true)
	dir := fs.String("dir", "", "serve the files of `directory` below / (default: an index of the endpoints)")
	readHeader := fs.Duration("read-header-timeout", 5*time.Second, "close a connection whose request head has not all arrived after this long (0: never)")
	read := fs.Duration("read-timeout", 0, "close a connection whose request (body included) has not all arrived after this long (0: never)")
	write := fs.Duration("write-timeout", 0, "close a connection whose response is not done this long after its head arrived (0: never)")
	idle := fs.Duration("idle-timeout", 2*time.Minute, "close a keep-alive connection idle between requests for this long (0: never)")
	inline := fs.Bool("inline", true, "serve /plaintext, /status/NNN and /inspect without a body on the loop itself (their handlers never block:\n"+
		"loophttp.Server.NonBlocking); false: on worker goroutines, as every other request")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := opt.check(fs); err != nil {
		return err
	}
	for _, d := range []struct {
		name  string
		value time.Duration
	}{{"read-header-timeout", *readHeader}, {"read-timeout", *read}, {"write-timeout", *write}, {"idle-timeout", *idle}} {
		if d.value < 0 {
			return fmt.Errorf("%w: --%s must not be negative", errUsage, d.name)
		}
	}
	if *dir != "" {
		if st, err := os.Stat(*dir); err != nil {
			return fmt.Errorf("--dir: %w", err)
		} else if !st.IsDir() {
			return fmt.Errorf("--dir %s: not a directory", *dir)
		}
	}
	opt.openOutputs(e)
	verbose := opt.verbose
	opt.verbose = false // -v traces requests here, not the loop's events
	opts := opt.loopOptions()
	var h http.Handler = httpserver.NewWithWebSocket(*dir, wsecho.Handler)
	if verbose {
		h = traceRequests(h, opt.stderr)
	}
	srv := &loophttp.Server{
		Handler:           h,
		ReadHeaderTimeout: *readHeader,
		ReadTimeout:       *read,
		WriteTimeout:      *write,
		IdleTimeout:       *idle,
		Loop:              opts,
	}
	if *inline {
		srv.NonBlocking = httpserver.NonBlocking
	}
	if *readHeader == 0 {
		srv.ReadHeaderTimeout = -1 // never, not ReadTimeout's
	}
	return opt.run(e, httpRunner{srv})
}

// traceRequests prints a line per request on w: who, what, the status,
// the bytes of body sent and how long it took.
func traceRequests(h http.Handler, w *console) http.Handler {
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		start := time.Now()
		tw := &tracedWriter{ResponseWriter: rw, status: http.StatusOK}
		defer func() {
			fmt.Fprintf(w, "%s %s %s %s %d %d bytes %v\n", r.RemoteAddr, r.Method, r.RequestURI, r.Proto, tw.status, tw.bytes, time.Since(start).Round(time.Microsecond))
		}()
		h.ServeHTTP(tw, r)
	})
}

// tracedWriter notes the status and the body's size; Unwrap lets
// http.ResponseController reach the server's writer.
type tracedWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
	wrote  bool
}

func (t *tracedWriter) WriteHeader(code int) {
	if !t.wrote && code >= 200 {
		t.status, t.wrote = code, true
	}
	t.ResponseWriter.WriteHeader(code)
}

func (t *tracedWriter) Write(p []byte) (int, error) {
	t.wrote = true
	n, err := t.ResponseWriter.Write(p)
	t.bytes += int64(n)
	return n, err
}

func (t *tracedWriter) Flush() { _ = http.NewResponseController(t.ResponseWriter).Flush() }

func (t *tracedWriter) Unwrap() http.ResponseWriter { return t.ResponseWriter }
