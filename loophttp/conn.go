package loophttp

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/iomux/iomux/internal/http1"
	"github.com/iomux/iomux/internal/sock"
	"github.com/iomux/iomux/loop"
)

// headSlack is what net/http reads past MaxHeaderBytes before it answers
// 431 (its bufio reader's slack); we refuse at the same point.
const headSlack = 4096

// handler is the loop.Handler of a Server: it parses requests on the loop
// and hands them to a goroutine per busy connection (conn.serve).
type handler struct {
	srv *Server
}

var (
	_ loop.EOFHandler       = (*handler)(nil)
	_ loop.LoopStartHandler = (*handler)(nil)
)

// conn is one HTTP connection. Fields above mu belong to the loop; those
// below it are shared with the connection's serving goroutine. An idle
// keep-alive connection keeps this and the loop's Conn, so it is kept in
// the 144-byte size class (TestConnSize): what only a connection with
// requests in flight needs is in its busy record and its requests, and
// its body decoder is pooled.
type conn struct {
	srv     *Server
	c       *loop.Conn
	reading *request           // the request whose body is arriving
	dec     *http1.BodyDecoder // its decoder (from decoders, while it arrives)
	since   instant            // when the head being read began (ReadTimeout counts from there), or the wait for it
	// prev and next link it in its loop's list of waiting connections
	// (waiters), if it is on one.
	prev, next *conn
	writeBy    instant  // WriteTimeout's deadline of the request being answered (0: none)
	remote     string   // RemoteAddr's text, made at the first request
	local      net.Addr // the local address, asked of the socket at the first request (Server.sharedAddr)
	netc       *netConn // made when ConnState, ConnContext or Hijack need one
	scan       int32    // how much of the buffered head HeadEnd has seen
	early      int32    // and EarlyError
	pending    int32    // requests parsed whose responses are not yet written
	state      uint8    // the http.ConnState

	afterPOST  bool // the last request was a POST (see http1.SkipCRLFAfterPOST)
	headBegun  bool // part of a head has arrived
	bodyPaused bool // PauseRead because a body buffer or the pipeline is full
	ending     bool // no more requests are read: the connection closes when pending ones are done
	eof        bool // the client ended its side
	barrier    bool // an upgrade was asked: no request is parsed until it is answered
	inlineDue  bool // a request waits for serveInline

	mu      sync.Mutex
	serving bool  // a goroutine serves the queue
	stopped bool  // a response said close: no more requests are served
	closed  bool  // the loop connection is gone
	busy    *busy // while serving (see busy)
}

// busy is what a connection needs only while it has requests to serve:
// the loop makes it (under mu) when serving begins, and the serving
// goroutine, which alone uses out, owed and inline, gives it back when it
// stops serving. An idle connection has none.
type busy struct {
	head, tail *request // parsed, waiting for the serving goroutine (linked by next; under mu)
	current    *request // the one being served (under mu)
	owed       int32    // its finished requests Server.active still counts
	inline     bool     // the loop itself serves (Server.NonBlocking)
	out        []byte   // the serving goroutine's output not yet sent
	outBuf     *outBuf  // the buffer out began in (nil: out was begun by append)
	fields     []field  // the array of the response's header snapshot, used again
}

// maxPooledFields bounds the header snapshot array a pooled busy record
// keeps.
const maxPooledFields = 64

var (
	busyPool = sync.Pool{New: func() any { return new(busy) }}
	// decoders are the body decoders of connections whose request body
	// is arriving.
	decoders = sync.Pool{New: func() any { return new(http1.BodyDecoder) }}
)

// enqueue adds r to the requests waiting for the serving goroutine (under
// mu), making the busy record if serving has not begun.
func (cn *conn) enqueue(r *request) {
	b := cn.busy
	if b == nil {
		b = busyPool.Get().(*busy)
		cn.busy = b
	}
	if b.tail == nil {
		b.head = r
	} else {
		b.tail.next = r
	}
	b.tail = r
}

// dequeue takes the first of the waiting requests, nil if none (under
// mu, while serving).
func (b *busy) dequeue() *request {
	r := b.head
	if r != nil {
		b.head, r.next = r.next, nil
		if b.head == nil {
			b.tail = nil
		}
	}
	return r
}

// takeQueue takes every waiting request, linked by next (under mu).
func (cn *conn) takeQueue() *request {
	b := cn.busy
	if b == nil {
		return nil
	}
	r := b.head
	b.head, b.tail = nil, nil
	return r
}

// stopServing is the serving goroutine's end: serving stops (under mu,
// which it unlocks) and the busy record goes back to the pool.
func (cn *conn) stopServing() {
	b := cn.busy
	cn.serving = false
	cn.busy = nil
	cn.mu.Unlock()
	fields := b.fields
	clear(fields) // no header strings kept
	if cap(fields) > maxPooledFields {
		fields = nil
	}
	*b = busy{fields: fields[:0]}
	busyPool.Put(b)
}

// inFlight returns the request being served and those waiting (under mu).
func (cn *conn) inFlight() (current, queue *request) {
	if cn.busy == nil {
		return nil, nil
	}
	return cn.busy.current, cn.busy.head
}

// context is the connection's context: ConnContext's, else the Server's
// base context.
func (cn *conn) context() context.Context {
	if cn.netc != nil && cn.netc.ctx != nil {
		return cn.netc.ctx
	}
	return cn.srv.base()
}

// cancel ends the request's context.
func (r *request) cancel() {
	if r.stdCancel != nil {
		r.stdCancel()
		return
	}
	r.ctx.cancel()
}

// request is one parsed request on its way through a handler.
type request struct {
	cn        *conn
	req       *http.Request
	framing   http1.Framing
	body      *body // nil when there is none
	ctx       reqContext
	stdCancel context.CancelFunc // with a BaseContext or ConnContext: ctx is not used
	refusal   []byte             // not a request: net/http's answer to a bad one

	upgradeTo loop.Handler // set by the serving goroutine for handOver
	next      *request     // the next in its connection's queue
	url       url.URL      // where req.URL points, unless the target is not a plain path (http1.ParseRequestInto)
	w         response     // its ResponseWriter, one allocation with it
	inline    bool         // Server.NonBlocking says it may be served on the loop
}

func (h *handler) OnOpen(c *loop.Conn) {
	cn := &conn{srv: h.srv, c: c}
	c.SetContext(cn)
	if h.srv.ConnContext != nil {
		nc := cn.netConn()
		nc.ctx = h.srv.ConnContext(h.srv.base(), nc)
		if nc.ctx == nil {
			panic("loophttp: ConnContext returned nil")
		}
	}
	if h.srv.shutting.Load() {
		c.Close()
		return
	}
	cn.setState(http.StateNew)
	cn.armIdle()
}

func (h *handler) OnClose(c *loop.Conn, err error) {
	if to := takenOver(c); to != nil {
		to.OnClose(c, err)
		return
	}
	cn, _ := c.Context().(*conn)
	if cn == nil {
		return
	}
	if cn.reading != nil && cn.reading.body != nil {
		cn.reading.body.fail(io.ErrUnexpectedEOF)
	}
	cn.endBody()
	cn.unwait()
	cn.mu.Lock()
	cn.closed = true
	cur, _ := cn.inFlight()
	dropped := cn.takeQueue()
	cn.mu.Unlock()
	for r := dropped; r != nil; r = r.next {
		r.cancel()
		if r.body != nil {
			r.body.fail(io.ErrUnexpectedEOF)
		}
		cn.srv.active.Done()
	}
	if cur != nil {
		cur.cancel()
	}
	if http.ConnState(cn.state) != http.StateHijacked {
		cn.setState(http.StateClosed)
	}
}

// endBody is the end of the arriving body's reading: its decoder goes back
// to the pool.
func (cn *conn) endBody() {
	cn.reading = nil
	if cn.dec != nil {
		*cn.dec = http1.BodyDecoder{}
		decoders.Put(cn.dec)
		cn.dec = nil
	}
}

// handedOver is the Context of a connection Upgrade or Hijack took: its
// handler, and nothing of HTTP's (an upgraded idle connection keeps no
// more of loophttp).
type handedOver struct{ h loop.Handler }

// takenOver returns the handler a connection was handed to, nil if it is
// HTTP's.
func takenOver(c *loop.Conn) loop.Handler {
	if to, ok := c.Context().(*handedOver); ok {
		return to.h
	}
	return nil
}

// OnPause and OnResume are for a connection Upgrade handed over.
func (h *handler) OnPause(c *loop.Conn) {
	if p, ok := takenOver(c).(loop.PauseHandler); ok {
		p.OnPause(c)
	}
}

func (h *handler) OnResume(c *loop.Conn) {
	if r, ok := takenOver(c).(loop.ResumeHandler); ok {
		r.OnResume(c)
	}
}

// OnEOF: the client ended its side. Requests already in are answered
// (their contexts are cancelled, as net/http cancels on a read error);
// then the connection closes.
func (h *handler) OnEOF(c *loop.Conn) {
	if to := takenOver(c); to != nil {
		if e, ok := to.(loop.EOFHandler); ok {
			e.OnEOF(c)
		} else {
			c.Close()
		}
		return
	}
	cn := c.Context().(*conn)
	cn.eof = true
	if cn.reading != nil && cn.reading.body != nil {
		cn.reading.body.fail(io.ErrUnexpectedEOF)
		cn.ending = true
	}
	cn.mu.Lock()
	cur, queue := cn.inFlight()
	if cur != nil {
		cur.cancel()
	}
	for r := queue; r != nil; r = r.next {
		r.cancel()
	}
	cn.mu.Unlock()
	cn.process() // what is buffered may hold complete requests
	cn.serveInline()
	if cn.pending == 0 {
		c.Close()
	}
}

func (h *handler) OnData(c *loop.Conn) {
	if to := takenOver(c); to != nil {
		to.OnData(c)
		return
	}
	cn := c.Context().(*conn)
	cn.process()
	cn.serveInline()
}

// process reads what arrived: a body, then request heads.
func (cn *conn) process() {
	c := cn.c
	for !c.Closed() {
		if cn.ending {
			c.Discard(-1)
			return
		}
		if cn.reading != nil {
			if !cn.feedBody() {
				return
			}
			continue
		}
		if cn.barrier {
			return // what follows an upgrade request is not HTTP, if it is accepted
		}
		if int(cn.pending) >= cn.srv.maxPipelined() {
			// Paused only when more input waits: a client that sends
			// exactly MaxPipelined requests a write costs no epoll_ctl
			// pair per batch (the next read would bring its pause).
			if c.Inbound() > 0 {
				cn.pauseRead()
			}
			return
		}
		if !cn.readHead() {
			return
		}
	}
}

// readHead parses the next request head if it is all in; it reports
// whether it did.
func (cn *conn) readHead() bool {
	c := cn.c
	in := c.Peek(-1)
	if len(in) == 0 {
		return false
	}
	if cn.afterPOST {
		n, ok := http1.SkipCRLFAfterPOST(in)
		if !ok {
			return false
		}
		cn.afterPOST = false
		c.Discard(n)
		if in = c.Peek(-1); len(in) == 0 {
			return false
		}
	}
	if !cn.headBegun {
		cn.headBegun = true
		cn.setState(http.StateActive)
		cn.waitHead()
	}
	end, next := http1.HeadEnd(in, int(cn.scan))
	limit := cn.srv.maxHeaderBytes() + headSlack
	if end < 0 {
		cn.scan = int32(next)
		if len(in) > limit {
			cn.refuse(&http1.Error{Status: http.StatusRequestHeaderFieldsTooLarge, Reason: "Request Header Fields Too Large"})
			return false
		}
		// A bad line is refused as soon as net/http would, not at the
		// head's end.
		early, err := http1.EarlyError(in, int(cn.early))
		if err != nil {
			cn.refuse(err)
			return false
		}
		cn.early = int32(early)
		cn.resumeIfPaused()
		return false
	}
	cn.scan, cn.early = 0, 0
	cn.headBegun = false
	// Parsed into the loop's own http.Request, which WithContext copies
	// (accept); the URL is the request's.
	r := &request{cn: cn}
	parsed := &c.Loop().Context().(*loopState).parsed
	framing, err := http1.ParseRequestInto(parsed, &r.url, in[:end], http1.Limits{MaxHeaderBytes: cn.srv.maxHeaderBytes()})
	c.Discard(end)
	if err != nil {
		*parsed = http.Request{}
		cn.refuse(err)
		return false
	}
	cn.accept(r, parsed, framing)
	return true
}

// accept starts a parsed request (req, which it copies and clears): its
// body (if any) is read next, and the serving goroutine gets it.
func (cn *conn) accept(r *request, req *http.Request, framing http1.Framing) {
	c := cn.c
	srv := cn.srv
	r.framing = framing
	var ctx context.Context = &r.ctx
	parent := cn.context()
	r.ctx.parent, r.ctx.local = parent, cn.localAddr()
	if parent != context.Background() {
		// A context of the user's (BaseContext, ConnContext) may be a
		// cancelCtx, which context.Cause would find through reqContext's
		// Value: derive with the context package's own.
		ctx, r.stdCancel = context.WithCancel(context.WithValue(parent, http.LocalAddrContextKey, r.ctx.local))
	}
	if cn.remote == "" {
		cn.remote = c.RemoteAddr().String()
	}
	req.RemoteAddr = cn.remote
	if c.Transport() != nil {
		if st, ok := c.TLS(); ok {
			req.TLS = &st
		}
	}
	if framing.Chunked || framing.ContentLength > 0 {
		r.body = newBody(r)
		req.Body = r.body
		if cn.dec == nil {
			cn.dec = decoders.Get().(*http1.BodyDecoder)
		}
		cn.dec.Reset(framing, http1.Limits{MaxHeaderBytes: srv.maxHeaderBytes()})
		cn.reading = r
	} else {
		req.Body = http.NoBody
	}
	r.req = req.WithContext(ctx)
	*req = http.Request{} // the loop's, for the next head: it keeps nothing of this one
	r.inline = srv.NonBlocking != nil && r.body == nil && srv.NonBlocking(r.req)
	if cn.eof {
		r.cancel()
	}
	cn.afterPOST = r.req.Method == http.MethodPost
	cn.barrier = wantsUpgrade(r.req)
	if (framing.Close && !framing.KeepAlive10) || srv.shutting.Load() {
		// No request after this one is read (the response decides for an
		// HTTP/1.0 keep-alive).
		cn.ending = cn.reading == nil // after the body, if there is one
		r.framing.Close = true
	}
	cn.writeBy = 0
	if srv.WriteTimeout > 0 {
		cn.writeBy = now().add(srv.WriteTimeout)
	}
	cn.armBusy()
	cn.mu.Lock()
	if cn.stopped {
		cn.mu.Unlock()
		r.cancel()
		cn.ending = true
		if r.body != nil {
			r.body.Close()
		}
		return
	}
	cn.pending++
	srv.active.Add(1)
	cn.enqueue(r)
	start := !cn.serving
	cn.serving = true
	cn.mu.Unlock()
	if start {
		// On the loop only when no earlier response is still on its way
		// from a worker (its write would come after ours).
		if r.inline && cn.pending == 1 {
			cn.inlineDue = true // served by OnData once the input is parsed
			return
		}
		srv.workers.serve(cn)
		c.Loop().YieldBeforeWait()
	}
}

// serveInline serves on the loop the requests a NonBlocking handler
// takes, their responses gathered into one write.
func (cn *conn) serveInline() {
	for cn.inlineDue && !cn.c.Closed() {
		cn.inlineDue = false
		cn.serveAs(true)
	}
}

// feedBody moves the arriving body into its buffer; it reports whether it
// made progress and the body is done (the next head may follow).
func (cn *conn) feedBody() bool {
	c := cn.c
	r := cn.reading
	b := r.body
	for {
		in := c.Peek(-1)
		if len(in) == 0 {
			return false
		}
		room := b.room()
		if room <= 0 {
			cn.pauseRead()
			return false
		}
		cn.resumeIfPaused()
		part := in
		if len(part) > room+512 {
			part = part[:room+512] // chunk framing may take a little more
		}
		n, data, done, err := cn.dec.Decode(part)
		if n == 0 && err == nil && !done && len(part) < len(in) {
			n, data, done, err = cn.dec.Decode(in)
		}
		if err != nil {
			b.fail(err)
			cn.endBody()
			cn.ending = true
			c.Discard(-1)
			return false
		}
		if len(data) > 0 {
			b.put(data)
		}
		c.Discard(n)
		if done {
			if t := cn.dec.Trailer(); t != nil {
				b.setTrailer(t)
			}
			b.finish()
			cn.endBody()
			if r.framing.Close {
				cn.ending = true
			}
			cn.armBusy()
			cn.resumeIfPaused()
			return true
		}
		if n == 0 {
			return false
		}
	}
}

func (cn *conn) pauseRead() {
	if !cn.bodyPaused {
		cn.bodyPaused = true
		cn.c.PauseRead()
	}
}

func (cn *conn) resumeIfPaused() {
	if cn.bodyPaused {
		cn.bodyPaused = false
		cn.c.ResumeRead()
	}
}

// refuse answers a request that cannot be served, as net/http does, and
// closes the connection after it (and after the responses before it).
func (cn *conn) refuse(err error) {
	var he *http1.Error
	if !errors.As(err, &he) {
		he = &http1.Error{Status: http.StatusBadRequest}
	}
	cn.ending = true
	cn.c.Discard(-1)
	msg := he.AppendResponse(nil)
	cn.mu.Lock()
	busy := cn.serving
	if busy {
		// Answer after the responses in flight, in order.
		cn.enqueue(&request{cn: cn, refusal: msg})
	}
	cn.mu.Unlock()
	cn.pending++
	if busy {
		cn.srv.active.Add(1)
		return
	}
	// Through the loop's queue of goroutine writes, behind the last
	// response the serving goroutine handed over (whose written must not
	// close the connection first: pending counts the refusal).
	if cn.c.AsyncWriteFunc(msg, func(*loop.Conn, error) { cn.written(1, true) }) != nil {
		cn.c.Close()
	}
}

// written runs on the loop when the responses of n requests are sent
// (close: the last one closes the connection).
func (cn *conn) written(n int, close bool) {
	cn.pending -= int32(n)
	if cn.c.Closed() {
		return
	}
	if close || ((cn.eof || cn.ending || cn.srv.shutting.Load()) && cn.pending == 0 && cn.reading == nil) {
		cn.c.Close()
		return
	}
	if cn.pending == 0 {
		cn.armIdle()
		if cn.barrier {
			// The upgrade was refused: what follows is HTTP after all.
			cn.barrier = false
			cn.process()
			return
		}
	}
	if int(cn.pending) < cn.srv.maxPipelined() {
		cn.resumeIfPaused()
	}
}

// armBusy sets the deadline while a request is answered: WriteTimeout
// from the end of its head, and ReadTimeout from its start while its body
// arrives.
func (cn *conn) armBusy() {
	cn.unwait()
	deadline := cn.writeBy
	if cn.reading != nil && cn.srv.ReadTimeout > 0 {
		if readBy := cn.since.add(cn.srv.ReadTimeout); deadline == 0 || readBy < deadline {
			deadline = readBy
		}
	}
	cn.c.SetDeadline(deadline.time())
}

// armIdle starts the wait of a connection for a request (IdleTimeout).
func (cn *conn) armIdle() {
	if cn.headBegun {
		return
	}
	if http.ConnState(cn.state) != http.StateNew {
		cn.setState(http.StateIdle)
	}
	cn.waitIdle()
}

func (cn *conn) setState(st http.ConnState) {
	cn.state = uint8(st)
	if f := cn.srv.ConnState; f != nil {
		f(cn.netConn(), st)
	}
}

// closeIdle closes a loop's connections that wait for a request with
// nothing of one in (Shutdown).
func closeIdle(l *loop.Loop) {
	for c := range l.Conns() {
		cn, _ := c.Context().(*conn)
		if cn == nil || c.Closed() {
			continue // not HTTP's (yet, or any more)
		}
		if cn.pending == 0 && !cn.headBegun && cn.reading == nil {
			c.Close()
		} else {
			cn.ending = cn.reading == nil && !cn.headBegun
		}
	}
}

// localAddr is the connection's local address (on the loop). It is asked
// of the socket once and kept here rather than by loop.Conn.LocalAddr,
// whose cache is a larger per-connection record an idle connection would
// keep; connections with the same one share it (Server.sharedAddr).
func (cn *conn) localAddr() net.Addr {
	if cn.local == nil {
		cn.local = cn.srv.sharedAddr(sock.LocalAddr(cn.c.Fd(), false))
	}
	return cn.local
}

// setDeadline closes the connection at t (from a handler's goroutine).
func (cn *conn) setDeadline(t time.Time) error {
	c := cn.c
	return c.Loop().Post(func() {
		if !c.Closed() {
			c.SetDeadline(t)
		}
	})
}

func (cn *conn) netConn() *netConn {
	if cn.netc == nil {
		cn.netc = &netConn{local: cn.localAddr(), remote: cn.c.RemoteAddr()}
	}
	return cn.netc
}

// netConn is what ConnState and ConnContext see of a connection: its
// addresses. It also keeps the context ConnContext gave.
type netConn struct {
	local, remote net.Addr
	ctx           context.Context
}

var errNotHijacked = errors.New("loophttp: the connection is served by the loop (not hijacked)")

func (n *netConn) Read([]byte) (int, error)         { return 0, errNotHijacked }
func (n *netConn) Write([]byte) (int, error)        { return 0, errNotHijacked }
func (n *netConn) Close() error                     { return errNotHijacked }
func (n *netConn) LocalAddr() net.Addr              { return n.local }
func (n *netConn) RemoteAddr() net.Addr             { return n.remote }
func (n *netConn) SetDeadline(time.Time) error      { return errNotHijacked }
func (n *netConn) SetReadDeadline(time.Time) error  { return errNotHijacked }
func (n *netConn) SetWriteDeadline(time.Time) error { return errNotHijacked }

// instant is a time as nanoseconds of the monotonic clock since the
// package's epoch: 8 bytes where a time.Time takes 24, in every connection.
type instant int64

var epoch = time.Now()

func now() instant { return instant(time.Since(epoch)) }

func (t instant) add(d time.Duration) instant { return t + instant(d) }

// time is t as a time.Time; the zero Time for 0.
func (t instant) time() time.Time {
	if t == 0 {
		return time.Time{}
	}
	return epoch.Add(time.Duration(t))
}
