package loophttp

import (
	"errors"
	"io"
	"net/http"
	"runtime"
	"sync"
	"time"

	"github.com/iomux/iomux/loop"
)

// flushAt is how much output the serving goroutine gathers before handing
// it to the loop: pipelined responses go out in one write.
const flushAt = 32 << 10

// outBuf is gathered output on its way to the loop, and what to do once
// it is written. It is pooled with its array, and its written callback is
// bound once, so that a flush allocates nothing.
type outBuf struct {
	b         []byte
	cn        *conn
	completed int    // responses that end in b
	close     bool   // the connection closes after b
	then      func() // run on the loop once b is written
	done      func(*loop.Conn, error)
}

var outBufs sync.Pool

func init() { // not outBufs' initializer: written leads back to outBufs
	outBufs.New = func() any {
		o := &outBuf{b: make([]byte, 0, 4096)}
		o.done = o.written
		return o
	}
}

// getOut gives the serving goroutine a buffer to gather output in.
func (b *busy) getOut() {
	o := outBufs.Get().(*outBuf)
	b.out, b.outBuf = o.b[:0], o
}

// written runs on the loop once o is written (or failed).
func (o *outBuf) written(*loop.Conn, error) {
	cn, completed, close, then := o.cn, o.completed, o.close, o.then
	o.release()
	if completed > 0 || close {
		cn.written(completed, close)
	}
	if then != nil {
		then()
	}
}

// release gives o back to the pool (its array too, unless it grew large).
func (o *outBuf) release() {
	b := o.b[:0]
	if cap(b) > 64<<10 {
		b = nil
	}
	*o = outBuf{b: b, done: o.done}
	outBufs.Put(o)
}

// serve runs on a goroutine of its own while the connection has requests
// to answer: it runs their handlers in order, gathers their responses and
// hands them to the loop. An idle connection has none.
func (cn *conn) serve() { cn.serveAs(false) }

// serveAs is serve on a worker, or with inline on the loop itself
// (Server.NonBlocking).
func (cn *conn) serveAs(inline bool) {
	b := cn.busy // this goroutine's until stopServing
	b.inline = inline
	completed := 0 // responses in b.out whose handlers are done
	for {
		cn.mu.Lock()
		if cn.closed {
			if b.outBuf != nil {
				b.outBuf.release()
			}
			b.out, b.outBuf = nil, nil
			cn.payOwed()
			cn.stopServing()
			return
		}
		if b.head == nil {
			if len(b.out) > 0 || completed > 0 {
				cn.mu.Unlock()
				cn.flush(completed, false)
				completed = 0
				continue
			}
			cn.stopServing()
			return
		}
		r := b.head
		if b.inline && !r.inline {
			// One that may block (a body's Reads would): a worker serves
			// the rest, after what is gathered so far.
			cn.mu.Unlock()
			cn.flush(completed, false)
			b.inline = false // before the worker reads it
			cn.srv.workers.serve(cn)
			return
		}
		b.dequeue()
		b.current = r
		cn.mu.Unlock()

		if r.body != nil && r.body.wantContinue && len(b.out) > 0 {
			// 100 Continue goes straight to the loop: what precedes it first.
			cn.flush(completed, false)
			completed = 0
		}
		end := cn.run(r)
		completed++
		r.cancel()
		cn.mu.Lock()
		b.current = nil
		cn.mu.Unlock()
		b.owed++ // Shutdown waits until the response is handed to the loop
		if end != keepServing {
			cn.mu.Lock()
			cn.stopped = true
			rest := cn.takeQueue()
			cn.mu.Unlock()
			for q := rest; q != nil; q = q.next {
				q.cancel()
				if q.body != nil {
					_ = q.body.Close()
				}
				cn.srv.active.Done()
			}
			switch end {
			case closeConn:
				cn.flushThen(completed, true, nil)
			case upgraded:
				// Handed over once the 101 is out, and before anything
				// could take what follows the request for HTTP: written
				// is not run (its requests' count no longer matters).
				h := r.upgradeTo
				cn.flushThen(0, false, func() { cn.handOver(h) })
			case hijacked:
				if b.inline { // on the loop, which took the connection over
					if hc, ok := takenOver(cn.c).(*hijackedConn); ok {
						hc.inline.Store(false) // its Writes come from goroutines now
					}
				}
				cn.payOwed()
			}
			cn.mu.Lock()
			cn.stopServing()
			return
		}
		if len(b.out) >= flushAt {
			cn.flush(completed, false)
			completed = 0
		}
	}
}

// ending is what becomes of a connection after a response.
type ending int

const (
	keepServing ending = iota
	closeConn          // the response said close
	upgraded           // Upgrade: the connection goes to r.upgradeTo
	hijacked           // Hijack: the handler has the connection
)

// run serves one request and says what becomes of the connection.
func (cn *conn) run(r *request) (end ending) {
	b := cn.busy
	if b.out == nil {
		b.getOut()
	}
	if r.refusal != nil {
		b.out = append(b.out, r.refusal...)
		return closeConn
	}
	w := &r.w
	*w = response{cn: cn, r: r, req: r.req, contentLength: -1, start: len(b.out), bodyStart: len(b.out)}
	defer func() {
		if v := recover(); v != nil {
			if v != http.ErrAbortHandler {
				const size = 64 << 10
				buf := make([]byte, size)
				buf = buf[:runtime.Stack(buf, false)]
				cn.srv.logf("http: panic serving %v: %v\n%s", r.req.RemoteAddr, v, buf)
			}
			if w.hijacked {
				end = hijacked
				return
			}
			// What was committed goes out; what was not, does not.
			if !w.committed {
				b.out = b.out[:w.start]
			}
			end = closeConn
		}
		if r.body != nil {
			_ = r.body.Close()
		}
	}()
	h := cn.srv.serveHandler()
	if r.req.RequestURI == "*" && r.req.Method == http.MethodOptions {
		h = globalOptions // as net/http's server answers it
	}
	h.ServeHTTP(w, r.req)
	switch {
	case w.hijacked:
		return hijacked
	case w.upgrade != nil:
		w.finish()
		if w.status == http.StatusSwitchingProtocols && !w.closeAfter {
			r.upgradeTo = w.upgrade
			return upgraded
		}
	default:
		w.finish()
	}
	if w.closeAfter {
		return closeConn
	}
	return keepServing
}

// flush hands the gathered output to the loop; completed responses end in
// it, and close says the connection closes after it. It blocks while the
// connection's backlog is at the loop's HighWater.
func (cn *conn) flush(completed int, close bool) error {
	return cn.flushThen(completed, close, nil)
}

// flushThen is flush with then to run on the loop once the output is
// written.
func (cn *conn) flushThen(completed int, close bool, then func()) error {
	b := cn.busy
	o := b.outBuf
	if o == nil { // out was begun after a flush, by append
		o = outBufs.Get().(*outBuf)
	}
	o.b, o.cn, o.completed, o.close, o.then = b.out, cn, completed, close, then
	b.out, b.outBuf = nil, nil
	p := o.b
	if len(p) == 0 {
		p = nil
	}
	onLoop := b.inline
	err := cn.sendFrom(onLoop, p, o.done)
	if err != nil && !onLoop { // on the loop, done has run
		o.release()
	}
	cn.payOwed()
	return err
}

// payOwed tells Shutdown that the finished requests are handed over.
func (cn *conn) payOwed() {
	for b := cn.busy; b.owed > 0; b.owed-- {
		cn.srv.active.Done()
	}
}

// send is AsyncWriteFunc that waits while the backlog is full, for the
// serving goroutine (or the loop, serving inline).
func (cn *conn) send(p []byte, done func(*loop.Conn, error)) error {
	return cn.sendFrom(cn.busy.inline, p, done)
}

// sendFrom is send from the loop if onLoop (it writes at once, never
// waits), else from a goroutine.
func (cn *conn) sendFrom(onLoop bool, p []byte, done func(*loop.Conn, error)) error {
	if onLoop {
		_, err := cn.c.Write(p)
		if done != nil {
			done(cn.c, err)
		}
		return err
	}
	for {
		err := cn.c.AsyncWriteFunc(p, done)
		if err == nil || !errors.Is(err, loop.ErrQueueFull) {
			return err
		}
		if err := cn.waitDrained(); err != nil {
			return err
		}
	}
}

// waitDrained blocks until the connection's queued output is sent.
func (cn *conn) waitDrained() error {
	ch := make(chan error, 1)
	for {
		err := cn.c.AsyncWriteFunc(nil, func(_ *loop.Conn, err error) { ch <- err })
		if err == nil {
			return <-ch
		}
		if !errors.Is(err, loop.ErrQueueFull) {
			return err
		}
		time.Sleep(time.Millisecond) // the loop is behind on its posts
	}
}

// sendContinue sends "100 Continue" for a body's first Read.
func (cn *conn) sendContinue() {
	_ = cn.send(continueLine, nil)
}

var continueLine = []byte("HTTP/1.1 100 Continue\r\n\r\n")

// wakeLoop makes the loop read again after a body Read made room.
func (cn *conn) wakeLoop() {
	for {
		err := cn.c.AsyncOnData()
		if err == nil || !errors.Is(err, loop.ErrQueueFull) {
			return
		}
		time.Sleep(time.Millisecond)
	}
}

// discard reads and drops at most n bytes of a body: what net/http does
// for a handler that answered without reading the body.
func discard(b io.Reader, n int64) (tooBig bool, err error) {
	_, err = io.CopyN(io.Discard, b, n+1)
	switch err {
	case nil:
		return true, nil
	case io.EOF:
		return false, nil
	}
	return false, err
}

// globalOptions answers "OPTIONS *" as net/http does: 200 with no body,
// reading at most 4 KiB of a body the request has.
var globalOptions = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Length", "0")
	if r.ContentLength != 0 {
		_, _ = io.Copy(io.Discard, http.MaxBytesReader(w, r.Body, 4<<10))
	}
})
