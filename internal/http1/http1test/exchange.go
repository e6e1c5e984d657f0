package http1test

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/iomux/iomux/internal/iomuxtest"
)

// Split is how Exchange writes a case: whole, byte by byte or in random
// cuts (iomuxtest's, shared with the other protocols' tests).
type Split = iomuxtest.Split

// The ways of cutting a case.
const (
	Whole      = iomuxtest.Whole
	ByteByByte = iomuxtest.ByteByByte
	Random     = iomuxtest.Random
)

// Splits are the three ways every case is played.
var Splits = iomuxtest.Splits

// Response is one response as Exchange read it.
type Response struct {
	Proto  string      // "HTTP/1.1"
	Status string      // the status line after the version: "400 Bad Request: missing required Host header"
	Header http.Header // every field but Date
	Body   []byte      // none for HEAD; up to the close when not delimited
	Before int         // for an interim (1xx) response: the index of the final response it came before
}

// Result is what a server answered to one case.
type Result struct {
	Interim   []Response // 1xx responses
	Responses []Response // final responses, in order
	Closed    bool       // the server closed (or reset) the connection
	Received  []byte     // every byte read, for messages
}

// Exchange dials addr, writes raw cut as split says, and reads every
// response until the server closes the connection, or until it has been
// quiet for settle once everything was written. The whole exchange is
// bounded by a few seconds. The responses are parsed in order, knowing
// which answer HEAD (their bodies are empty) from raw as net/http reads it.
func Exchange(addr string, raw []byte, split Split, settle time.Duration) (res Result, err error) {
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return Result{}, err
	}
	defer c.Close()
	c.(*net.TCPConn).SetNoDelay(true)

	var mu sync.Mutex
	var writtenAt time.Time // when the last write ended, zero until then
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for _, p := range split.Pieces(raw) {
			if _, err := c.Write(p); err != nil {
				break // the server closed: what it answered is still to be read
			}
		}
		mu.Lock()
		writtenAt = time.Now()
		mu.Unlock()
	}()
	defer wg.Wait()

	tr := &teeReader{c: c}
	br := bufio.NewReader(tr)
	heads := headRequests(raw)
	limit := time.Now().Add(5 * time.Second)

	defer func() { res.Received = tr.got.Bytes() }()
	for {
		// Wait for the next response's first byte, or the quiet end.
		for {
			c.SetReadDeadline(time.Now().Add(settle))
			_, err := br.Peek(1)
			if err == nil {
				break
			}
			if !isTimeout(err) {
				res.Closed = true
				return res, nil
			}
			mu.Lock()
			quietSince := writtenAt
			mu.Unlock()
			if !quietSince.IsZero() {
				if tr.last.After(quietSince) {
					quietSince = tr.last
				}
				if time.Since(quietSince) >= settle {
					return res, nil
				}
			}
			if time.Now().After(limit) {
				return res, errors.New("http1test: exchange took too long")
			}
		}
		c.SetReadDeadline(limit)
		req := &http.Request{Method: "GET"}
		if n := len(res.Responses); n < len(heads) && heads[n] {
			req.Method = "HEAD"
		}
		resp, err := http.ReadResponse(br, req)
		if err != nil {
			if isClosed(err) {
				res.Closed = true
				return res, nil
			}
			return res, fmt.Errorf("http1test: response %d: %w", len(res.Responses), err)
		}
		body, err := io.ReadAll(resp.Body)
		r := Response{Proto: resp.Proto, Status: resp.Status, Header: resp.Header, Body: body}
		delete(r.Header, "Date")
		if resp.StatusCode/100 == 1 {
			r.Before = len(res.Responses)
			res.Interim = append(res.Interim, r)
		} else {
			res.Responses = append(res.Responses, r)
		}
		if err != nil {
			if isClosed(err) {
				res.Closed = true
				return res, nil
			}
			return res, fmt.Errorf("http1test: response %d body: %w", len(res.Responses), err)
		}
	}
}

// teeReader keeps what it reads, and when it last read.
type teeReader struct {
	c    net.Conn
	got  bytes.Buffer
	last time.Time
}

func (t *teeReader) Read(p []byte) (int, error) {
	n, err := t.c.Read(p)
	if n > 0 {
		t.got.Write(p[:n])
		t.last = time.Now()
	}
	return n, err
}

func isTimeout(err error) bool { return errors.Is(err, os.ErrDeadlineExceeded) }

// isClosed reports whether err means the server closed or reset the
// connection.
func isClosed(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed) ||
		errors.Is(err, errReset())
}

// headRequests reads raw as net/http reads a connection and says which
// requests are HEAD, so that their responses are read without a body.
func headRequests(raw []byte) []bool {
	var heads []bool
	br := bufio.NewReader(bytes.NewReader(raw))
	for {
		req, err := http.ReadRequest(br)
		if err != nil {
			return heads
		}
		heads = append(heads, req.Method == "HEAD")
		if _, err := io.Copy(io.Discard, req.Body); err != nil {
			return heads
		}
	}
}
