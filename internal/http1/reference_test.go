package http1

import (
	"bytes"
	"io"
	"maps"
	"net"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"
)

// refServer is the smallest HTTP/1 server this package makes possible: a
// goroutine per connection that reads with HeadEnd, ParseRequest and
// BodyDecoder and answers as net/http.Server answers. The differential
// test holds it to net/http.
type refServer struct {
	ln      net.Listener
	lim     Limits
	handler http.Handler
	wg      sync.WaitGroup
	mu      sync.Mutex
	conns   map[net.Conn]bool
}

// startRef starts a refServer on 127.0.0.1 until the test ends.
func startRef(t testing.TB, lim Limits, h http.Handler) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &refServer{ln: ln, lim: lim, handler: h, conns: make(map[net.Conn]bool)}
	s.wg.Add(1)
	go s.accept()
	t.Cleanup(func() {
		ln.Close()
		s.mu.Lock()
		for c := range s.conns {
			c.Close()
		}
		s.mu.Unlock()
		s.wg.Wait()
	})
	return ln.Addr().String()
}

func (s *refServer) accept() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		s.conns[c] = true
		s.mu.Unlock()
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			(&refConn{c: c, s: s}).serve()
			s.mu.Lock()
			delete(s.conns, c)
			s.mu.Unlock()
			c.Close()
		}()
	}
}

// refConn is one connection: its unparsed input, and the request in
// progress.
type refConn struct {
	s   *refServer
	c   net.Conn
	buf []byte // read, not consumed
	rd  [4096]byte
}

// fill reads more input; false once the peer has gone.
func (c *refConn) fill() bool {
	n, err := c.c.Read(c.rd[:])
	c.buf = append(c.buf, c.rd[:n]...)
	return n > 0 || err == nil
}

func (c *refConn) refuse(e *Error) {
	c.c.Write(e.AppendResponse(nil))
	if e.Status == http.StatusRequestHeaderFieldsTooLarge {
		// As net/http: half-close, let the client read, then close.
		c.c.(*net.TCPConn).CloseWrite()
		c.c.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
		io.Copy(io.Discard, c.c)
	}
}

func (c *refConn) serve() {
	lim := c.s.lim
	afterPOST := false
	for {
		if afterPOST {
			for {
				n, ok := SkipCRLFAfterPOST(c.buf)
				if ok {
					c.buf = c.buf[n:]
					break
				}
				if !c.fill() {
					return
				}
			}
		}
		end, from := HeadEnd(c.buf, 0)
		early := 0
		for end < 0 {
			if len(c.buf) > lim.MaxHead() {
				c.refuse(errTooLarge)
				return
			}
			var err error
			if early, err = EarlyError(c.buf, early); err != nil {
				c.refuse(err.(*Error))
				return
			}
			if !c.fill() {
				return
			}
			end, from = HeadEnd(c.buf, from)
		}
		r, f, err := ParseRequest(c.buf[:end], lim)
		c.buf = c.buf[end:]
		if err != nil {
			c.refuse(err.(*Error))
			return
		}
		afterPOST = r.Method == "POST"
		body := &refBody{c: c, req: r, f: f}
		body.dec.Reset(f, lim)
		r.Body = body
		w := &refWriter{header: make(http.Header), status: http.StatusOK}
		if r.Method == "OPTIONS" && r.RequestURI == "*" {
			// net/http's serverHandler answers "OPTIONS *" itself
			// (globalOptionsHandler): a server's rule, not the parser's.
			w.header.Set("Content-Length", "0")
			io.Copy(io.Discard, io.LimitReader(body, 4<<10))
		} else {
			c.s.handler.ServeHTTP(w, r)
		}
		if !c.respond(r, f, w, body) {
			return
		}
	}
}

// respond writes the handler's response as net/http's chunkWriter would
// for a handler that sets Content-Length (as Inspect does), and reports
// whether the connection stays open.
func (c *refConn) respond(r *http.Request, f Framing, w *refWriter, body *refBody) bool {
	h := w.header
	isHEAD := r.Method == "HEAD"
	closeAfter := f.Close || body.err != nil
	_, hasCL := h["Content-Length"]
	proto11 := r.ProtoAtLeast(1, 1)
	connection := ""
	if f.KeepAlive10 && (isHEAD || hasCL) {
		connection = "keep-alive"
	} else if !proto11 {
		closeAfter = true
	}
	if closeAfter && proto11 {
		connection = "close"
	}
	var out []byte
	if proto11 {
		out = append(out, "HTTP/1.1 "...)
	} else {
		out = append(out, "HTTP/1.0 "...)
	}
	out = strconv.AppendInt(out, int64(w.status), 10)
	out = append(out, ' ')
	out = append(out, http.StatusText(w.status)...)
	out = append(out, "\r\n"...)
	if connection != "" {
		h.Set("Connection", connection)
	}
	h.Set("Date", time.Now().UTC().Format(http.TimeFormat))
	for _, k := range slices.Sorted(maps.Keys(h)) {
		for _, v := range h[k] {
			out = append(out, k+": "+v+"\r\n"...)
		}
	}
	out = append(out, "\r\n"...)
	if !isHEAD {
		out = append(out, w.body.Bytes()...)
	}
	if _, err := c.c.Write(out); err != nil {
		return false
	}
	return !closeAfter
}

// refBody is a request body read through the decoder.
type refBody struct {
	c       *refConn
	req     *http.Request
	f       Framing
	dec     BodyDecoder
	pending []byte
	started bool
	done    bool
	err     error
}

func (b *refBody) Read(p []byte) (int, error) {
	if !b.started {
		b.started = true
		if b.f.Expect100 {
			b.c.c.Write([]byte("HTTP/1.1 100 Continue\r\n\r\n"))
		}
	}
	for len(b.pending) == 0 {
		if b.err != nil {
			return 0, b.err
		}
		if b.done {
			return 0, io.EOF
		}
		n, data, done, err := b.dec.Decode(b.c.buf)
		b.pending = append(b.pending[:0], data...)
		b.c.buf = b.c.buf[n:]
		switch {
		case err != nil:
			b.err = err
		case done:
			b.done = true
			if t := b.dec.Trailer(); t != nil {
				if b.req.Trailer == nil {
					b.req.Trailer = t
				} else {
					maps.Copy(b.req.Trailer, t)
				}
			}
		case n == 0 && !b.c.fill():
			b.err = io.ErrUnexpectedEOF
		}
	}
	n := copy(p, b.pending)
	b.pending = b.pending[n:]
	return n, nil
}

func (b *refBody) Close() error { return nil }

// refWriter keeps what the handler writes.
type refWriter struct {
	header http.Header
	status int
	wrote  bool
	body   bytes.Buffer
}

func (w *refWriter) Header() http.Header { return w.header }
func (w *refWriter) WriteHeader(code int) {
	if !w.wrote {
		w.wrote, w.status = true, code
	}
}
func (w *refWriter) Write(p []byte) (int, error) {
	w.wrote = true
	return w.body.Write(p)
}
