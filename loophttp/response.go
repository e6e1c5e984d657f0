package loophttp

import (
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/iomux/iomux/internal/http1"
	"github.com/iomux/iomux/loop"
)

// stageSize is how much body a response holds before it commits to a
// head: a handler that writes at most this much and returns gets a
// Content-Length, one that writes more is chunked (net/http's
// bufferBeforeChunkingSize).
const stageSize = 2048

// maxPostHandlerReadBytes is how much of an unread request body is read
// and dropped after the handler answered, to keep the connection (net/http's
// figure); past it the connection closes.
const maxPostHandlerReadBytes = 256 << 10

// response is the http.ResponseWriter of one request. It writes into the
// connection's output (busy.out), which the serving goroutine hands to the
// loop; it is used by the handler's goroutine only, as net/http's is.
type response struct {
	cn  *conn
	r   *request
	req *http.Request

	handlerHeader http.Header // what Header returns
	sent          snapshot    // the header map as WriteHeader found it: what the head is made of
	calledHeader  bool
	status        int
	contentLength int64 // declared or set; -1 unknown
	written       int64
	start         int // where this response begins in conn.out
	bodyStart     int // where its body begins (before commit: the staged body)
	trailers      []string

	wroteHeader bool // a final status is set
	committed   bool // the head is in conn.out
	chunking    bool
	handlerDone bool
	closeAfter  bool
	fullDuplex  bool
	hijacked    bool         // Hijack took the connection
	upgrade     loop.Handler // Upgrade's handler, taking over after a 101
	werr        error
}

var (
	_ http.Flusher                          = (*response)(nil)
	_ interface{ FlushError() error }       = (*response)(nil)
	_ interface{ EnableFullDuplex() error } = (*response)(nil)
	_ http.Hijacker                         = (*response)(nil)
	_ io.ReaderFrom                         = (*response)(nil)
	_ io.StringWriter                       = (*response)(nil)
)

func (w *response) Header() http.Header {
	w.calledHeader = true
	if w.handlerHeader == nil {
		w.handlerHeader = make(http.Header)
	}
	return w.handlerHeader
}

func (w *response) WriteHeader(code int) {
	if w.hijacked {
		w.cn.srv.logf("http: response.WriteHeader on hijacked connection")
		return
	}
	if w.wroteHeader {
		w.cn.srv.logf("http: superfluous response.WriteHeader call with %d", code)
		return
	}
	if code < 100 || code > 999 {
		panic(fmt.Sprintf("invalid WriteHeader code %v", code))
	}
	if code < 101 || code > 199 {
		w.noContinue()
	}
	if code >= 100 && code <= 199 && code != http.StatusSwitchingProtocols {
		// An interim response: sent at once, the header map kept.
		out := appendStatusLine(w.cn.busy.out, w.req.ProtoAtLeast(1, 1), code)
		out = appendHeader(out, w.handlerHeader, func(k string) bool {
			return k == "Content-Length" || k == "Transfer-Encoding"
		})
		w.cn.busy.out = append(out, "\r\n"...)
		w.werr = w.cn.flush(0, false)
		w.start, w.bodyStart = len(w.cn.busy.out), len(w.cn.busy.out)
		return
	}
	w.wroteHeader = true
	w.status = code
	w.sent = takeSnapshot(w.cn.busy, w.handlerHeader)
	if cl := w.sent.first("Content-Length"); cl != "" {
		v, err := strconv.ParseInt(cl, 10, 64)
		if err == nil && v >= 0 {
			w.contentLength = v
		} else {
			w.cn.srv.logf("http: invalid Content-Length of %q", cl)
			w.sent.remove("Content-Length")
		}
	}
}

// noContinue gives up the automatic 100 Continue: the handler answered
// before reading the body.
func (w *response) noContinue() {
	if b := w.r.body; b != nil {
		b.mu.Lock()
		b.continued = true
		b.mu.Unlock()
	}
}

func (w *response) Write(p []byte) (int, error) { return w.write(p, "") }

// WriteString writes s without converting it (io.StringWriter).
func (w *response) WriteString(s string) (int, error) { return w.write(nil, s) }

func (w *response) write(p []byte, s string) (int, error) {
	if w.hijacked {
		return 0, http.ErrHijacked
	}
	n := len(p) + len(s)
	w.noContinue()
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if n == 0 {
		return 0, nil
	}
	if !bodyAllowedForStatus(w.status) {
		return 0, http.ErrBodyNotAllowed
	}
	w.written += int64(n)
	if w.contentLength != -1 && w.written > w.contentLength {
		return 0, http.ErrContentLength
	}
	if w.werr != nil {
		return 0, w.werr
	}
	if !w.committed {
		if len(w.cn.busy.out)-w.bodyStart+n <= stageSize {
			w.cn.busy.out = append(append(w.cn.busy.out, p...), s...)
			return n, nil
		}
		if len(w.cn.busy.out) == w.bodyStart {
			// Nothing staged: sniff what is written now.
			w.commitWith(p, s)
		} else {
			w.commit()
		}
	}
	if w.req.Method == http.MethodHead {
		return n, nil
	}
	out := w.cn.busy.out
	if w.chunking {
		out = strconv.AppendInt(out, int64(n), 16)
		out = append(out, "\r\n"...)
	}
	out = append(append(out, p...), s...)
	if w.chunking {
		out = append(out, "\r\n"...)
	}
	w.cn.busy.out = out
	if len(out) >= flushAt {
		if err := w.cn.flush(0, false); err != nil {
			w.werr = err
		}
		w.start, w.bodyStart = 0, 0
	}
	return n, w.werr
}

// Flush sends what the handler wrote so far (http.Flusher).
func (w *response) Flush() { _ = w.FlushError() }

// FlushError is Flush that says why it failed (http.ResponseController).
func (w *response) FlushError() error {
	if w.hijacked {
		return http.ErrHijacked
	}
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if !w.committed {
		w.commit()
	}
	if w.werr != nil {
		return w.werr
	}
	w.werr = w.cn.flush(0, false)
	w.start, w.bodyStart = len(w.cn.busy.out), len(w.cn.busy.out)
	return w.werr
}

// EnableFullDuplex lets the handler read the body while it writes the
// response (http.ResponseController): the rest of the body is then not
// read and dropped when the head goes out.
func (w *response) EnableFullDuplex() error {
	w.fullDuplex = true
	return nil
}

// SetReadDeadline and SetWriteDeadline (http.ResponseController) close
// the connection at t if the request or response is not done by then.
func (w *response) SetReadDeadline(t time.Time) error  { return w.cn.setDeadline(t) }
func (w *response) SetWriteDeadline(t time.Time) error { return w.cn.setDeadline(t) }

// finish ends the response once the handler returned.
func (w *response) finish() {
	w.handlerDone = true
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if !w.committed {
		w.commit()
	}
	if w.chunking {
		out := append(w.cn.busy.out, "0\r\n"...)
		out = w.appendTrailers(out)
		w.cn.busy.out = append(out, "\r\n"...)
	}
	if w.req.Method != http.MethodHead && w.contentLength != -1 && bodyAllowedForStatus(w.status) && w.contentLength != w.written {
		w.closeAfter = true // short: the stream would be out of step
	}
	if w.werr != nil {
		w.closeAfter = true
	}
	if b := w.r.body; b != nil {
		if sawEOF, _, _ := b.state(); !sawEOF {
			if w.fullDuplex || w.closeAfter {
				w.closeAfter = true
			} else if tooBig, err := discard(b, maxPostHandlerReadBytes); tooBig || err != nil {
				w.closeAfter = true
			}
		}
	}
}

func (w *response) appendTrailers(out []byte) []byte {
	h := w.handlerHeader
	for _, k := range w.trailers {
		for _, v := range h[k] {
			out = appendField(out, k, v)
		}
	}
	for k, vv := range h {
		if name, ok := strings.CutPrefix(k, http.TrailerPrefix); ok {
			for _, v := range vv {
				out = appendField(out, http.CanonicalHeaderKey(name), v)
			}
		}
	}
	return out
}

// commit puts the head before the staged body.
func (w *response) commit() { w.commitWith(nil, "") }

// commitWith decides the head, as net/http's chunkWriter.writeHeader does,
// and puts it before the staged body; next (p or s), when nothing is
// staged, is the body's start for Content-Type sniffing.
func (w *response) commitWith(next []byte, nextS string) {
	w.committed = true
	h := w.sent
	req := w.req
	isHEAD := req.Method == http.MethodHead
	staged := w.cn.busy.out[w.bodyStart:]
	sniff := staged
	if len(sniff) == 0 {
		if next != nil {
			sniff = next
		} else if nextS != "" {
			sniff = []byte(nextS[:min(len(nextS), 512)])
		}
	}
	del := h.leaveOut
	hasTrailers := h.trailerKeys()
	for _, t := range h {
		if t.key != "Trailer" || t.none {
			continue
		}
		hasTrailers = true
		for f := range strings.SplitSeq(t.value, ",") {
			if f = strings.TrimSpace(f); f != "" {
				w.trailers = append(w.trailers, http.CanonicalHeaderKey(f))
			}
		}
	}
	te := h.first("Transfer-Encoding")
	hasTE := te != ""
	var setLength []byte
	var lenBuf [20]byte
	if w.handlerDone && !hasTrailers && !hasTE && bodyAllowedForStatus(w.status) && !h.has("Content-Length") && (!isHEAD || len(staged) > 0) {
		w.contentLength = int64(len(staged))
		setLength = strconv.AppendInt(lenBuf[:0], w.contentLength, 10)
	}
	keepAlives := !w.cn.srv.shutting.Load()
	wants10KeepAlive := w.r.framing.KeepAlive10
	if wants10KeepAlive && keepAlives && h.first("Content-Length") != "" && h.first("Connection") == "keep-alive" {
		w.closeAfter = false
	}
	hasCL := w.contentLength != -1
	var connection, contentType, transferEncoding string
	if wants10KeepAlive && (isHEAD || hasCL || !bodyAllowedForStatus(w.status)) {
		if !h.has("Connection") {
			connection = "keep-alive"
		}
	} else if w.r.framing.Close {
		w.closeAfter = true
	}
	if h.first("Connection") == "close" || !keepAlives {
		w.closeAfter = true
	}
	if b := w.r.body; b != nil {
		b.mu.Lock()
		sawEOF := b.sawEOF
		unsentContinue := b.wantContinue && !sawEOF
		closed := b.closed
		b.mu.Unlock()
		switch {
		case unsentContinue:
			w.closeAfter = true
		case req.ContentLength != 0 && !w.closeAfter && !w.fullDuplex:
			tooBig := false
			if closed {
				if !sawEOF {
					w.closeAfter = true
				}
			} else if !sawEOF {
				var err error
				if tooBig, err = discard(b, maxPostHandlerReadBytes); err != nil {
					w.closeAfter = true
				}
			}
			if tooBig {
				w.closeAfter = true
				del("Connection")
				connection = "close"
			}
		}
	}
	code := w.status
	if bodyAllowedForStatus(code) {
		haveType := h.has("Content-Type")
		if h.first("Content-Encoding") == "" && !haveType && !hasTE && len(sniff) > 0 {
			contentType = http.DetectContentType(sniff)
		}
	} else {
		if code == http.StatusNotModified {
			del("Content-Type")
		}
		del("Content-Length")
		del("Transfer-Encoding")
	}
	if hasCL && hasTE && te != "identity" {
		w.cn.srv.logf("http: WriteHeader called with both Transfer-Encoding of %q and a Content-Length of %d", te, w.contentLength)
		del("Content-Length")
		hasCL = false
	}
	switch {
	case isHEAD || !bodyAllowedForStatus(code) || code == http.StatusNoContent:
		del("Transfer-Encoding")
	case hasCL:
		del("Transfer-Encoding")
	case req.ProtoAtLeast(1, 1):
		if hasTE && te == "identity" {
			w.closeAfter = true
			del("Transfer-Encoding")
		} else {
			w.chunking = true
			transferEncoding = "chunked"
			if hasTE && te == "chunked" {
				del("Transfer-Encoding")
			}
		}
	default:
		w.closeAfter = true
		del("Transfer-Encoding")
	}
	if w.chunking {
		del("Content-Length")
	}
	if w.closeAfter && (!keepAlives || !h.hasToken("Connection", "close")) && !(code == http.StatusSwitchingProtocols && h.hasValue("Upgrade")) {
		del("Connection")
		if req.ProtoAtLeast(1, 1) {
			connection = "close"
		}
	}

	var headBuf [512]byte
	head := appendStatusLine(headBuf[:0], req.ProtoAtLeast(1, 1), code)
	head = h.appendTo(head)
	if !h.has("Date") {
		head = append(head, "Date: "...)
		head = appendDate(head)
		head = append(head, "\r\n"...)
	}
	if setLength != nil {
		head = append(append(append(head, "Content-Length: "...), setLength...), "\r\n"...)
	}
	if contentType != "" {
		head = appendField(head, "Content-Type", contentType)
	}
	if connection != "" {
		head = appendField(head, "Connection", connection)
	}
	if transferEncoding != "" {
		head = appendField(head, "Transfer-Encoding", transferEncoding)
	}
	head = append(head, "\r\n"...)

	n := len(staged)
	if isHEAD || !bodyAllowedForStatus(code) {
		w.cn.busy.out = append(w.cn.busy.out[:w.bodyStart], head...)
		w.bodyStart = len(w.cn.busy.out)
		return
	}
	if w.chunking && n > 0 {
		head = strconv.AppendInt(head, int64(n), 16)
		head = append(head, "\r\n"...)
	}
	out := slices.Grow(w.cn.busy.out, len(head)+2)
	out = out[:len(out)+len(head)]
	copy(out[w.bodyStart+len(head):], out[w.bodyStart:w.bodyStart+n])
	copy(out[w.bodyStart:], head)
	if w.chunking && n > 0 {
		out = append(out, "\r\n"...)
	}
	w.cn.busy.out = out
	w.bodyStart = len(out)
}

func bodyAllowedForStatus(status int) bool {
	switch {
	case status >= 100 && status <= 199:
		return false
	case status == http.StatusNoContent, status == http.StatusNotModified:
		return false
	}
	return true
}

// hasToken reports whether comma-separated header values list token,
// case-insensitively.
func hasToken(values []string, token string) bool {
	for _, v := range values {
		if listsToken(v, token) {
			return true
		}
	}
	return false
}

// listsToken reports whether the comma-separated value v lists token,
// case-insensitively.
func listsToken(v, token string) bool {
	for f := range strings.SplitSeq(v, ",") {
		if strings.EqualFold(strings.TrimSpace(f), token) {
			return true
		}
	}
	return false
}

func appendStatusLine(b []byte, http11 bool, code int) []byte {
	if http11 {
		b = append(b, "HTTP/1.1 "...)
	} else {
		b = append(b, "HTTP/1.0 "...)
	}
	b = strconv.AppendInt(b, int64(code), 10)
	b = append(b, ' ')
	if text := http.StatusText(code); text != "" {
		b = append(b, text...)
	} else {
		b = append(b, "status code "...)
		b = strconv.AppendInt(b, int64(code), 10)
	}
	return append(b, "\r\n"...)
}

// appendHeader writes h's fields sorted by key, as net/http does, leaving
// out those skip names and invalid names; a value's line breaks become
// spaces.
func appendHeader(b []byte, h http.Header, skip func(string) bool) []byte {
	if len(h) == 0 {
		return b
	}
	var keysBuf [16]string
	keys := keysBuf[:0]
	for k := range h {
		if !skip(k) && http1.IsToken(k) {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		for _, v := range h[k] {
			b = appendField(b, k, v)
		}
	}
	return b
}

func appendField(b []byte, k, v string) []byte {
	b = append(b, k...)
	b = append(b, ": "...)
	v = strings.TrimSpace(v)
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c == '\r' || c == '\n' {
			c = ' '
		}
		b = append(b, c)
	}
	return append(b, "\r\n"...)
}

// dateCache holds the Date header's value for the current second.
type dateValue struct {
	sec  int64
	text []byte
}

var dateCache atomic.Pointer[dateValue]

func appendDate(b []byte) []byte {
	now := time.Now()
	sec := now.Unix()
	d := dateCache.Load()
	if d == nil || d.sec != sec {
		d = &dateValue{sec: sec, text: now.UTC().AppendFormat(nil, http.TimeFormat)}
		dateCache.Store(d)
	}
	return append(b, d.text...)
}
