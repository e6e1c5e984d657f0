package loophttp

import (
	"io"
	"net/http"
	"sync"
)

// body is a request's body between the loop, which puts what arrives, and
// the handler's goroutine, which reads it. It holds at most
// Server.MaxBodyBuffer (plus one read's chunk framing): when it is full the
// loop stops reading the connection, and a Read that makes room wakes it.
type body struct {
	r    *request
	mu   sync.Mutex
	cond sync.Cond
	buf  []byte
	off  int
	max  int

	done         bool // every byte is in buf
	sawEOF       bool // the handler read to the end
	closed       bool // the handler closed it
	full         bool // the loop found no room and waits for a Read
	wantContinue bool // 100 Continue is due on the first Read
	continued    bool // 100 Continue was sent (or is not needed)
	err          error
	trailer      http.Header
}

func newBody(r *request) *body {
	b := &body{r: r, max: r.cn.srv.maxBodyBuffer(), wantContinue: r.framing.Expect100}
	b.cond.L = &b.mu
	return b
}

// room is how much more the loop may put.
func (b *body) room() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return 1 << 30 // dropped as it comes
	}
	n := b.max - (len(b.buf) - b.off)
	if n <= 0 {
		b.full = true
	}
	return n
}

// put appends what arrived (on the loop; data is the loop's buffer).
func (b *body) put(data []byte) {
	b.mu.Lock()
	if !b.closed {
		if b.off > 0 && b.off == len(b.buf) {
			b.buf, b.off = b.buf[:0], 0
		} else if b.off > 0 && len(b.buf)+len(data) > cap(b.buf) {
			n := copy(b.buf, b.buf[b.off:])
			b.buf, b.off = b.buf[:n], 0
		}
		b.buf = append(b.buf, data...)
		b.cond.Broadcast()
	}
	b.mu.Unlock()
}

// finish says the body is all in.
func (b *body) finish() {
	b.mu.Lock()
	b.done = true
	b.cond.Broadcast()
	b.mu.Unlock()
}

func (b *body) setTrailer(t http.Header) {
	b.mu.Lock()
	b.trailer = t
	b.mu.Unlock()
}

// fail ends the body with err (a malformed chunk, a connection gone).
func (b *body) fail(err error) {
	b.mu.Lock()
	if !b.done && b.err == nil {
		b.err = err
	}
	b.cond.Broadcast()
	b.mu.Unlock()
}

// Read reads the body; it blocks the handler's goroutine, never the loop.
func (b *body) Read(p []byte) (int, error) {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return 0, http.ErrBodyReadAfterClose
	}
	if b.wantContinue && !b.continued {
		b.continued = true
		b.mu.Unlock()
		b.r.cn.sendContinue()
		b.mu.Lock()
	}
	for b.off == len(b.buf) && !b.done && b.err == nil && !b.closed {
		b.cond.Wait()
	}
	if b.closed {
		b.mu.Unlock()
		return 0, http.ErrBodyReadAfterClose
	}
	if b.off < len(b.buf) {
		n := copy(p, b.buf[b.off:])
		b.off += n
		if b.off == len(b.buf) {
			b.buf, b.off = b.buf[:0], 0
		}
		wake := b.full && b.max-(len(b.buf)-b.off) >= b.max/2
		if wake {
			b.full = false
		}
		b.mu.Unlock()
		if wake {
			b.r.cn.wakeLoop()
		}
		return n, nil
	}
	if b.err != nil {
		err := b.err
		b.mu.Unlock()
		return 0, err
	}
	b.sawEOF = true
	t := b.trailer
	b.trailer = nil
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
	return 0, io.EOF
}

// Close stops the handler's reading; the rest of the body is dropped as it
// arrives.
func (b *body) Close() error {
	b.mu.Lock()
	wake := b.full
	b.closed, b.full = true, false
	b.buf, b.off = nil, 0
	b.cond.Broadcast()
	b.mu.Unlock()
	if wake {
		b.r.cn.wakeLoop()
	}
	return nil
}

// state says, for the response's decisions, whether the body was read to
// its end, closed early, or how much of it is buffered unread.
func (b *body) state() (sawEOF, closed, complete bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.sawEOF || (b.done && b.off == len(b.buf)), b.closed, b.done
}
