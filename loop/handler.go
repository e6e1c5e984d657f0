package loop

// Handler receives a Server's connection events: its three methods are
// what every protocol implements. What fewer handlers need is an optional
// interface the Handler may also implement, as net/http's ResponseWriter
// may be a Flusher: for connections EOFHandler (the peer's half-close;
// without it the connection is closed), PauseHandler and ResumeHandler
// (back-pressure), PacketHandler (UDP); for each loop LoopStartHandler,
// WaitTimeoutHandler and StopHandler; for the Server BootHandler and
// ShutdownHandler. The Server looks for them once, in NewServer; a method
// with a misspelt name or signature is silently not one of them, so
// assert what you implement: var _ loop.EOFHandler = (*myHandler)(nil).
//
// Every method runs on the loop that owns the connection (or the loop it
// is about), one at a time per loop, so a handler needs no locks for
// per-connection or per-loop state. Methods must not block: a blocked
// handler stalls every connection of its loop.
//
// No method runs inside another's call to a Conn method: an OnPause that
// a Write causes, an OnClose that CloseNow or a failed Write causes (also
// of another connection), OnResume, and the done callbacks of DialAsync
// and AsyncWriteFunc run after the running callback returns, in the order
// they came due (OnPause and OnResume not at all for a connection closed
// meanwhile: OnClose comes instead); so a handler may close connections
// while it iterates over a set of them. The state changes at once: after
// CloseNow, or a Write that failed, Closed() is true and Write returns
// ErrClosed. A method that panics is recovered, as net/http recovers a
// handler: its connection is closed with a PanicError (OnClose gets it),
// the panic is logged at Error with its stack, and the loop serves the
// others. Embed BaseHandler for the defaults.
type Handler interface {
	// OnOpen runs when a connection is accepted or a Dial completes (after
	// its Transport's handshake, if it has one).
	OnOpen(c *Conn)
	// OnData runs when bytes arrived. Look at them with Peek, take them
	// with Next or Discard; what is left stays buffered for the next
	// OnData. It also runs after Conn.AsyncOnData.
	OnData(c *Conn)
	// OnClose runs once when a connection whose OnOpen ran is gone; err
	// says why (nil: closed by us or by a clean EOF). A connection that
	// never opened (a failed Dial or handshake, an accepted descriptor the
	// Selector cannot watch: select past 1024) gets neither; the loop
	// logs the latter at Warn and counts it in Stats.AcceptErrors.
	OnClose(c *Conn, err error)
}

// BaseHandler implements Handler with no-ops (OnData discards what
// arrived); embed it and override what you need.
type BaseHandler struct{}

// OnOpen does nothing.
func (BaseHandler) OnOpen(*Conn) {}

// OnData discards what arrived.
func (BaseHandler) OnData(c *Conn) { c.Discard(-1) }

// OnClose does nothing.
func (BaseHandler) OnClose(*Conn, error) {}

// EOFHandler is a Handler told when a peer shuts down its writing half;
// queued output is still sent. Without it, the connection is closed
// (after the flush), as most protocols want.
type EOFHandler interface {
	OnEOF(c *Conn)
}

// PauseHandler is a Handler told of back-pressure: OnPause runs when a
// connection's queued output passed Options.HighWater (or the Server's
// Options.MaxQueued) and the loop stopped reading it (Conn.Congested).
type PauseHandler interface {
	OnPause(c *Conn)
}

// ResumeHandler is a Handler told when a Congested connection's queue fell
// below Options.LowWater and the loop reads it again.
type ResumeHandler interface {
	OnResume(c *Conn)
}

// BootHandler is a Handler told when the Server starts: OnBoot runs once,
// before any loop starts; an error aborts Start.
type BootHandler interface {
	OnBoot(s *Server) error
}

// ShutdownHandler is a Handler told when the Server has stopped:
// OnShutdown runs once, after Stop closed every connection.
type ShutdownHandler interface {
	OnShutdown(s *Server)
}

// LoopStartHandler is a Handler told of each loop as it starts, before it
// serves anything: where per-loop state is made (Loop.SetContext).
type LoopStartHandler interface {
	OnLoopStart(l *Loop)
}

// WaitTimeoutHandler is a Handler told when a Wait of Options.WaitTimeout
// found nothing to do (a select loop's timeout). It is not about connections: an idle connection is closed by
// Options.IdleTimeout, with ErrTimeout.
type WaitTimeoutHandler interface {
	OnWaitTimeout(l *Loop)
}

// StopHandler is a Handler told when Stop begins: OnStop runs on each
// loop before its connections are closed (they are still open and may be
// written to: a goodbye is sent before the close), after its listeners
// are closed.
type StopHandler interface {
	OnStop(l *Loop)
}

// handlers are the optional interfaces a Server's Handler implements,
// looked up once (nil: it does not).
type handlers struct {
	eof         EOFHandler
	pause       PauseHandler
	resume      ResumeHandler
	packet      PacketHandler
	boot        BootHandler
	shutdown    ShutdownHandler
	loopStart   LoopStartHandler
	waitTimeout WaitTimeoutHandler
	stop        StopHandler
}

func optionalHandlers(h Handler) handlers {
	var on handlers
	on.eof, _ = h.(EOFHandler)
	on.pause, _ = h.(PauseHandler)
	on.resume, _ = h.(ResumeHandler)
	on.packet, _ = h.(PacketHandler)
	on.boot, _ = h.(BootHandler)
	on.shutdown, _ = h.(ShutdownHandler)
	on.loopStart, _ = h.(LoopStartHandler)
	on.waitTimeout, _ = h.(WaitTimeoutHandler)
	on.stop, _ = h.(StopHandler)
	return on
}

// onEOF runs the Handler's OnEOF, or closes c.
func (s *Server) onEOF(c *Conn) {
	if s.on.eof != nil {
		s.on.eof.OnEOF(c)
		return
	}
	c.Close()
}
