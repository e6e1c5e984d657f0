package loop

import (
	"errors"
	"fmt"
	"iter"
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/iomux/iomux"
	"github.com/iomux/iomux/internal/sock"
)

// Loop is one event loop: a goroutine locked to an OS thread, owning a
// Selector, the connections on it, their timers and a read buffer. Its
// order is fixed: Wait (bounded by the earliest timer) → handle ready
// descriptors → run posted functions → run due timers → repeat.
type Loop struct {
	srv   *Server
	index int
	sel   iomux.Selector
	ready []iomux.Ready
	buf   []byte      // the read buffer shared by every connection of the loop
	plain []byte      // what Transports decode into, shared likewise (made on first use)
	iov   sock.Iovecs // room for Writev's buffers
	pipe  *splicePipe // for spliced relays (Conn.Splice), made on first use
	// observe is Options.Observe: called on every event when set.
	observe func(Event)

	conns     []*Conn      // by fd: for Stop, and for fd reuse checks
	open      int          // connections owned, including Dials in progress
	incoming  atomic.Int64 // connections Posted to this loop, not yet adopted
	listeners []*listener
	packets   []*PacketConn // UDP sockets
	lingering map[*lingerer]struct{}
	timers    timerHeap
	cached    instant // the time after the last Wait (see now)
	stopping  bool
	// yieldBeforeWait: a goroutine was given work from the loop since
	// the last Wait, and must get to run before the loop sleeps (see run).
	yieldBeforeWait bool
	budget          int64 // the loop's share of Options.MaxQueued (0: no bound)
	ended           bool  // under mu: Post refuses; set once the last posts ran
	// held are the handler callbacks that came due while another handler
	// callback ran (an OnPause inside Write, an OnClose inside CloseNow):
	// they run when it has returned (see runHeld).
	held []heldCall
	ctx  any // SetContext

	mu      sync.Mutex
	tasks   []func() // posted from other goroutines, run on the loop
	running []func() // the batch being run (swapped with tasks)

	stats loopStats
	done  chan struct{}
}

func newLoop(s *Server, index int) (*Loop, error) {
	sel, err := iomux.NewSelector(s.opts.Backend)
	if err != nil {
		return nil, err
	}
	return &Loop{
		srv:     s,
		index:   index,
		sel:     sel,
		ready:   make([]iomux.Ready, 256),
		buf:     make([]byte, s.opts.ReadBufferSize),
		observe: s.opts.Observe,
		budget:  int64(max(s.opts.MaxQueued/s.opts.Loops, 0)),
		cached:  instantOf(time.Now()),
		done:    make(chan struct{}),
	}, nil
}

// Index is the loop's position in the Server, from 0.
func (l *Loop) Index() int { return l.index }

// Server returns the Server the loop belongs to.
func (l *Loop) Server() *Server { return l.srv }

// Backend names the loop's Selector backend.
func (l *Loop) Backend() string { return l.sel.Backend() }

// now is the time of the last Wait return: cheap, and good enough for
// timeouts (one time.Now per loop iteration, not per event).
func (l *Loop) now() instant { return l.cached }

// refreshNow reads the clock into what now returns, and returns it.
func (l *Loop) refreshNow() instant {
	l.cached = instantOf(time.Now())
	return l.cached
}

// YieldBeforeWait makes the loop pass through the Go scheduler before it
// next sleeps in Wait. Call it, on the loop, after giving work to a
// goroutine that should run at once (a handshake's, a request's): the
// loop's thread would otherwise sleep holding its P, and the goroutine
// would wait for the runtime's sysmon to take the P back, milliseconds
// later on a machine with few cores (bench/README.md: TLS handshakes/s
// x0.7 of Go net's on one core without it).
func (l *Loop) YieldBeforeWait() { l.yieldBeforeWait = true }

// Context returns the value stored with SetContext.
func (l *Loop) Context() any { return l.ctx }

// SetContext stores a value with the loop: per-loop state (the loop's
// share of a broadcast's subscribers, a cache), used by that loop's
// handlers, timers and posted functions without locks. Call it on the
// loop; set in OnLoopStart (LoopStartHandler), which runs on each loop before it
// serves anything, it is in place for the first connection.
func (l *Loop) SetContext(v any) { l.ctx = v }

// Post runs fn on the loop, from any goroutine. Posts are run in order
// after the current event batch; only the first Post into an empty queue
// wakes the loop, so a burst of Posts costs one wake-up system call. At
// most Options.MaxPosts functions wait: past that Post fails with
// ErrQueueFull (the loop is behind: slow down, or drop), counted in
// Stats.Refused; once the loop has ended, with ErrServerClosed.
func (l *Loop) Post(fn func()) error { return l.post(fn, true) }

// post is Post; bounded false is for the loop's own posts (a connection
// handed over, a Dial, Stop, a TLS handshake's end), which must not fail
// while the loop runs.
func (l *Loop) post(fn func(), bounded bool) error {
	l.mu.Lock()
	if l.ended {
		l.mu.Unlock()
		return ErrServerClosed
	}
	if bounded && l.srv.opts.MaxPosts > 0 && len(l.tasks) >= l.srv.opts.MaxPosts {
		l.mu.Unlock()
		l.stats.Refused.Add(1)
		return ErrQueueFull
	}
	first := len(l.tasks) == 0
	l.tasks = append(l.tasks, fn)
	l.stats.Posted.Add(1)
	l.mu.Unlock()
	if first {
		l.stats.Wakeups.Add(1)
		if err := l.sel.Wake(); err != nil && !errors.Is(err, iomux.ErrClosed) {
			return err
		}
	}
	return nil
}

// runTasks runs the functions posted so far and reports how many it ran.
func (l *Loop) runTasks() int {
	l.mu.Lock()
	l.tasks, l.running = l.running[:0], l.tasks
	l.stats.Posted.Add(-int64(len(l.running)))
	l.mu.Unlock()
	for i, fn := range l.running {
		l.call(fn)
		l.running[i] = nil
	}
	return len(l.running)
}

// yieldEvery is how often the loop passes through the Go scheduler (see run).
const yieldEvery = 5 * time.Millisecond

// run is the loop's goroutine.
func (l *Loop) run() {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	defer l.shutdown()
	opts := &l.srv.opts
	if h := l.srv.on.loopStart; h != nil {
		l.call(func() { h.OnLoopStart(l) })
	}
	next := l.runTimers() // OnLoopStart's timers bound the first Wait
	yielded := l.cached
	for !l.stopping || l.open > 0 {
		timeout, forIdle := next, false
		if opts.WaitTimeout > 0 && (timeout < 0 || opts.WaitTimeout < timeout) {
			timeout, forIdle = opts.WaitTimeout, true
		}
		if l.yieldBeforeWait { // see YieldBeforeWait
			l.yieldBeforeWait = false
			runtime.Gosched()
			yielded = l.cached
		}
		if l.cached.sub(yielded) >= yieldEvery {
			// A loop that never passes through the scheduler has its P
			// retaken by sysmon in its system calls after 10 ms, which
			// wakes other threads on the loop's core (bench/README.md).
			runtime.Gosched()
			yielded = l.cached
		}
		l.runHeld() // none should be left: a safety net
		if l.observe != nil {
			l.observe(Event{Kind: EventWait, Loop: l})
		}
		n, err := l.sel.Wait(timeout, l.ready)
		l.stats.Waits.Add(1)
		l.refreshNow()
		if err != nil {
			l.srv.warn(l, "wait", "loop: wait failed", "err", err)
			if errors.Is(err, iomux.ErrClosed) {
				return
			}
			time.Sleep(10 * time.Millisecond) // an unexpected error: do not spin
		}
		for i := range n {
			r := &l.ready[i]
			switch x := r.Data.(type) {
			case *Conn:
				l.serve(x, r.Events)
			case *listener:
				x.acceptSome(l)
			case *PacketConn:
				x.readPackets()
			case *lingerer:
				x.drain(l)
			}
			l.runHeld()
			r.Data = nil // let closed connections be collected
		}
		// A Wait cut short by a Post's wake-up also returns n == 0: not idle.
		if l.runTasks() == 0 && n == 0 && forIdle && err == nil {
			l.call(func() {
				if l.observe != nil {
					l.observe(Event{Kind: EventIdle, Loop: l})
				}
				if h := l.srv.on.waitTimeout; h != nil {
					h.OnWaitTimeout(l)
				}
			})
		}
		next = l.runTimers() // after OnWaitTimeout, so its timers bound the next Wait
	}
}

// serve handles one ready connection: output first (it frees queue space),
// then input.
func (l *Loop) serve(c *Conn, ev iomux.Events) {
	defer l.recovered(c)
	if c.Closed() {
		return // closed earlier in this batch
	}
	if c.state == stateConnecting {
		c.finishDial()
		return
	}
	if ev&iomux.Writable != 0 {
		c.flush()
	}
	if ev&iomux.Readable != 0 && !c.Closed() && c.flags&flagWatchRead != 0 {
		c.read()
	}
}

// newConn makes fd a connection of this loop, in state; peer is the
// remote address accept or Dial already has. It returns nil, closing fd,
// once Stop has begun (nobody would close it).
func (l *Loop) newConn(fd int, peer sock.Peer, state connState) *Conn {
	if l.stopping {
		sock.Close(fd)
		return nil
	}
	c := &Conn{loop: l, fd: int32(fd), peer: peer, state: state}
	if fd >= len(l.conns) {
		conns := make([]*Conn, fd+fd/4+64) // grow by a quarter: this is per-fd memory
		copy(conns, l.conns)
		l.conns = conns
	}
	l.conns[fd] = c
	l.open++
	l.stats.Open.Add(1)
	if l.srv.opts.IdleTimeout > 0 {
		c.limits().idle = l.srv.opts.IdleTimeout
	}
	return c
}

// adopt serves an accepted connection: newTransport (nil:
// Options.Transport) makes its Transport, then it opens or shakes hands.
func (l *Loop) adopt(fd int, peer sock.Peer, newTransport func(Wire) Transport) {
	c := l.newConn(fd, peer, stateNew)
	if c == nil {
		return
	}
	l.stats.Total.Add(1)
	c.updateInterest()
	if !c.Closed() {
		c.connected(newTransport)
	}
}

// Conns yields the loop's connections, those still dialing or shaking
// hands included, in no particular order. It must be used on the loop;
// the connection yielded may be closed meanwhile.
func (l *Loop) Conns() iter.Seq[*Conn] {
	return func(yield func(*Conn) bool) {
		for _, c := range l.conns {
			if c != nil && !yield(c) {
				return
			}
		}
	}
}

func (l *Loop) forget(c *Conn) {
	if fd := int(c.fd); fd >= 0 && fd < len(l.conns) && l.conns[fd] == c {
		l.conns[fd] = nil
	}
	l.open--
	l.stats.Open.Add(-1)
}

// register, modify and unregister are the loop's only way to change what
// its Selector watches; each counts one interest change (a system call on
// epoll and kqueue), so tests can show that a steady echo makes none. The
// count costs one uncontended atomic add next to that system call.
func (l *Loop) register(fd int, ev iomux.Events, data any) error {
	l.stats.interest.Add(1)
	return l.sel.Register(fd, ev, data)
}

func (l *Loop) modify(fd int, ev iomux.Events, data any) error {
	l.stats.interest.Add(1)
	return l.sel.Modify(fd, ev, data)
}

func (l *Loop) unregister(fd int) error {
	l.stats.interest.Add(1)
	return l.sel.Unregister(fd)
}

// beginStop closes the loop's listeners and asks every connection to close
// once its output is sent; the loop ends when the last one is gone.
func (l *Loop) beginStop() {
	first := !l.stopping
	l.stopping = true
	l.closeListeners()
	if h := l.srv.on.stop; h != nil && first {
		l.callGuarded(func() { h.OnStop(l) })
		l.runHeld()
	}
	for _, c := range l.conns {
		if c != nil {
			l.closeGuarded(c, false)
		}
	}
}

// abort closes every connection at once (Stop's context expired).
func (l *Loop) abort() {
	l.beginStop()
	for _, c := range l.conns {
		if c != nil {
			l.closeGuarded(c, true)
		}
	}
}

func (l *Loop) shutdown() {
	for _, c := range l.conns {
		if c != nil {
			l.closeGuarded(c, true)
		}
	}
	l.runHeld()
	l.closeListeners()
	l.endLingering()
	l.closePipe()
	// A Post that returned nil must run (a DialAsync's callback, a
	// connection handed over by the acceptor); run what came in since the
	// last batch until none is left, then refuse more. Only then close
	// the Selector and signal done, so Stop returns with every fd closed.
	l.stopping = true
	for {
		l.mu.Lock()
		if len(l.tasks) == 0 {
			l.ended = true
			l.mu.Unlock()
			break
		}
		l.mu.Unlock()
		l.runTasks()
	}
	l.sel.Close()
	close(l.done)
}

// closeListeners closes the loop's listening and UDP sockets.
func (l *Loop) closeListeners() {
	for _, ln := range l.listeners {
		ln.close(l)
	}
	for _, pc := range l.packets {
		pc.close()
	}
	l.listeners, l.packets = nil, nil
}

// PanicError is the error OnClose gets for a connection whose handler
// panicked: what the panic was given, and the goroutine's stack.
type PanicError struct {
	Value any
	Stack []byte
}

func (e *PanicError) Error() string { return fmt.Sprintf("loop: handler panicked: %v", e.Value) }

// recovered is deferred around every call into handler code (as net/http
// recovers per request): a panic is logged at Error with its stack and
// counted in Stats.Panics, c (if not nil) is closed with a PanicError, and
// the loop goes on serving the others. A deferred call costs about a
// nanosecond when nothing panics.
func (l *Loop) recovered(c *Conn) {
	r := recover()
	if r == nil {
		return
	}
	err := &PanicError{Value: r, Stack: debug.Stack()}
	l.stats.Panics.Add(1)
	l.srv.opts.Logger.Error("loop: handler panicked", "loop", l.index, "panic", fmt.Sprint(r), "stack", string(err.Stack))
	if c != nil && !c.Closed() {
		defer l.recovered(nil) // its OnClose may panic too
		c.closeWith(err)
	}
}

// call runs fn, a timer or a posted function, recovering a panic, then
// the handler callbacks it caused.
func (l *Loop) call(fn func()) {
	l.callGuarded(fn)
	l.runHeld()
}

func (l *Loop) callGuarded(fn func()) {
	defer l.recovered(nil)
	fn()
}

// heldCall is a handler callback held until the one running returns, so
// that no callback runs inside another's Conn call (as libuv never
// re-enters): OnPause, OnResume and OnClose, a Dial's or AsyncWriteFunc's
// done, the opening a Transport's Wire.Open asks for (OnOpen), and OnData
// for input buffered while reading was stopped (readResumed).
type heldCall struct {
	kind heldKind
	c    *Conn
	err  error
	done func(*Conn, error) // heldDone
}

type heldKind uint8

const (
	heldPause heldKind = iota + 1
	heldResume
	heldClose
	heldDone
	heldOpen
	heldData
)

// hold queues a callback for runHeld.
func (l *Loop) hold(kind heldKind, c *Conn, err error, done func(*Conn, error)) {
	l.held = append(l.held, heldCall{kind: kind, c: c, err: err, done: done})
}

// runHeld runs the held callbacks in the order they came due, and those
// they cause in turn. OnPause and OnResume are dropped for a connection
// closed meanwhile: OnClose comes instead.
func (l *Loop) runHeld() {
	for i := 0; i < len(l.held); i++ {
		h := l.held[i]
		l.held[i] = heldCall{}
		l.runHeldCall(h)
	}
	l.held = l.held[:0]
}

func (l *Loop) runHeldCall(h heldCall) {
	defer l.recovered(h.c)
	switch h.kind {
	case heldPause:
		if p := l.srv.on.pause; p != nil && !h.c.Closed() {
			p.OnPause(h.c)
		}
	case heldResume:
		if r := l.srv.on.resume; r != nil && !h.c.Closed() {
			r.OnResume(h.c)
		}
	case heldClose:
		l.srv.handler.OnClose(h.c, h.err)
	case heldDone:
		h.done(h.c, h.err)
	case heldOpen:
		if h.c.state == stateHandshaking {
			h.c.open()
		}
	case heldData:
		if c := h.c; c.state == stateOpen && len(c.view) > 0 {
			l.srv.handler.OnData(c)
			c.keepUnread(false)
		}
	}
}

// closeGuarded closes c (now: dropping its queue) for Stop, recovering a
// panic of its OnClose.
func (l *Loop) closeGuarded(c *Conn, now bool) {
	defer l.recovered(nil)
	if now {
		c.CloseNow()
	} else {
		c.Close()
	}
}
