// Package httpserver is what iomux http-server serves: plain net/http
// handlers, run on loophttp by the program and under net/http.Server in the
// tests, so that both servers are compared on the same code.
package httpserver

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Limits of the endpoints.
const (
	MaxInspectBody = 8 << 20          // /inspect reads at most this much: past it, 413
	MaxSlow        = 10 * time.Second // /slow sleeps at most this long
	MaxStreamBytes = 1 << 30          // /stream sends at most this much
)

// New returns the handler: /inspect, /echo, /status/NNN, /stream, /slow,
// /plaintext, and dir's files below / (a short index of the endpoints if
// dir is "").
func New(dir string) http.Handler { return NewWithWebSocket(dir, nil) }

// NewWithWebSocket is New with ws at /ws (the program's is wsecho.Handler,
// kept apart because it imports loophttp, whose tests import this package).
func NewWithWebSocket(dir string, ws http.HandlerFunc) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/inspect", Inspect)
	mux.HandleFunc("/echo", echo)
	mux.HandleFunc("/status/", status)
	mux.HandleFunc("/stream", stream)
	mux.HandleFunc("/slow", slow)
	mux.HandleFunc("/plaintext", plaintext)
	if ws != nil {
		mux.HandleFunc("/ws", ws)
	}
	if dir != "" {
		mux.Handle("/", http.FileServer(http.Dir(dir)))
	} else {
		mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { index(w, r, ws != nil) })
	}
	return mux
}

// NonBlocking reports whether New's handler serves r without blocking:
// /plaintext, /status/NNN and /inspect (a request with a body is never
// served on a loop anyway: see loophttp.Server.NonBlocking).
func NonBlocking(r *http.Request) bool {
	p := r.URL.Path
	return p == "/plaintext" || p == "/inspect" || strings.HasPrefix(p, "/status/")
}

// Report is what /inspect answers about a request, as JSON.
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

// Describe reads body (r.Body, or a reader of it) to its end and reports
// what a handler sees of r; err is the body's error, if it did not end at
// EOF.
func Describe(r *http.Request, body io.Reader) (rep Report, err error) {
	rep = Report{
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
	if body != nil {
		rep.BodyLen, err = io.Copy(sum, body)
		if err != nil {
			rep.BodyError = err.Error()
		}
	}
	rep.BodySHA256 = hex.EncodeToString(sum.Sum(nil))
	rep.Trailers = r.Trailer
	return rep, err
}

// Inspect answers 200, application/json with a Content-Length: Describe's
// report; a body over MaxInspectBody gets 413.
func Inspect(w http.ResponseWriter, r *http.Request) {
	rep, err := Describe(r, http.MaxBytesReader(w, r.Body, MaxInspectBody))
	if tooBig := (*http.MaxBytesError)(nil); errors.As(err, &tooBig) {
		http.Error(w, "request body too large", http.StatusRequestEntityTooLarge)
		return
	}
	b, err := json.Marshal(rep)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.Write(b)
}

// echo sends the body back as it arrives.
func echo(w http.ResponseWriter, r *http.Request) {
	rc := http.NewResponseController(w)
	if err := rc.EnableFullDuplex(); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.WriteHeader(http.StatusOK)
	if err := rc.Flush(); err != nil {
		panic(http.ErrAbortHandler)
	}
	buf := make([]byte, 32<<10)
	for {
		n, err := r.Body.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				panic(http.ErrAbortHandler)
			}
			if werr := rc.Flush(); werr != nil {
				panic(http.ErrAbortHandler)
			}
		}
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			panic(http.ErrAbortHandler) // a broken body: the response is cut too
		}
	}
}

// status answers /status/NNN with that status.
func status(w http.ResponseWriter, r *http.Request) {
	code, err := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/status/"))
	if err != nil || code < 200 || code > 599 {
		http.Error(w, "want /status/NNN with NNN from 200 to 599", http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(code)
	if code != http.StatusNoContent && code != http.StatusNotModified {
		io.WriteString(w, "status "+strconv.Itoa(code)+"\n")
	}
}

// stream sends n chunks of size bytes, chunk i all the letter 'a'+i%26,
// flushing each.
func stream(w http.ResponseWriter, r *http.Request) {
	n, err1 := strconv.Atoi(r.URL.Query().Get("n"))
	size, err2 := strconv.Atoi(r.URL.Query().Get("size"))
	if err1 != nil || err2 != nil || n < 0 || size < 1 || size > 1<<20 || int64(n)*int64(size) > MaxStreamBytes {
		http.Error(w, "want /stream?n=N&size=S, S from 1 to 1 MiB, N*S at most 1 GiB", http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	chunk := make([]byte, size)
	f := w.(http.Flusher)
	for i := range n {
		for j := range chunk {
			chunk[j] = byte('a' + i%26)
		}
		if _, err := w.Write(chunk); err != nil {
			return
		}
		f.Flush()
	}
}

// slow sleeps ms milliseconds (at most MaxSlow), then answers ok.
func slow(w http.ResponseWriter, r *http.Request) {
	ms, err := strconv.Atoi(r.URL.Query().Get("ms"))
	if err != nil || ms < 0 {
		http.Error(w, "want /slow?ms=M", http.StatusBadRequest)
		return
	}
	d := min(time.Duration(ms)*time.Millisecond, MaxSlow)
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-r.Context().Done():
		return
	}
	io.WriteString(w, "ok")
}

// plaintext is TechEmpower's plaintext test.
func plaintext(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h["Content-Type"] = []string{"text/plain"}
	h["Content-Length"] = []string{"13"}
	h["Server"] = []string{"iomux"}
	io.WriteString(w, "Hello, World!")
}

func index(w http.ResponseWriter, r *http.Request, ws bool) {
	if r.URL.Path != "/" {
		http.NotFound(w, r)
		return
	}
	wsLine := ""
	if ws {
		wsLine = "  /ws                 a WebSocket echo (text as text, binary as binary)\n"
	}
	io.WriteString(w, `iomux http-server
  /inspect            what the server saw of your request, as JSON
  /echo               your body back as it arrives
  /status/NNN         that status
  /stream?n=N&size=S  N chunks of S bytes, flushed each
  /slow?ms=M          ok after M ms
  /plaintext          Hello, World!
`+wsLine+`  --dir DIR           serves DIR's files below /
`)
}
