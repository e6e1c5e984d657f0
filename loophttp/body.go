package loophttp

import (
	"io"
	"net/http"
)

// body is a request's body: an inbox of at most Server.MaxBodyBuffer (plus
// one read's chunk framing) that the loop fills and the handler's Reads
// drain, with what HTTP adds: 100 Continue on the first Read, trailers at
// the end.
type body struct {
	inbox
	r *request

	sawEOF       bool // the handler read to the end
	wantContinue bool // 100 Continue is due on the first Read
	continued    bool // 100 Continue was sent (or is not needed)
	trailer      http.Header
}

func newBody(r *request) *body {
	b := &body{r: r, wantContinue: r.framing.Expect100}
	b.init(r.cn.srv.maxBodyBuffer(), r.cn.wakeLoop)
	return b
}

func (b *body) setTrailer(t http.Header) {
	b.mu.Lock()
	b.trailer = t
	b.mu.Unlock()
}

// Read reads the body; it blocks the handler's goroutine, never the loop.
func (b *body) Read(p []byte) (int, error) {
	b.mu.Lock()
	if b.wantContinue && !b.continued && !b.closed {
		b.continued = true
		b.mu.Unlock()
		b.r.cn.sendContinue()
		b.mu.Lock()
	}
	n, err := b.readLocked(p, http.ErrBodyReadAfterClose)
	var t http.Header
	if err == io.EOF {
		b.sawEOF = true
		t, b.trailer = b.trailer, nil
	}
	b.mu.Unlock()
	if t != nil {
		req := b.r.req
		if req.Trailer == nil {
			req.Trailer = make(http.Header, len(t))
		}
		for k, v := range t {
			req.Trailer[k] = v
		}
	}
	return n, err
}

// Close stops the handler's reading; the rest of the body is dropped as it
// arrives.
func (b *body) Close() error {
	b.close()
	return nil
}

// state says whether the handler read the body to its end (or it is all
// in and read), closed it, and whether all of it arrived.
func (b *body) state() (sawEOF, closed, complete bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.sawEOF || (b.done && b.off == len(b.buf)), b.closed, b.done
}
