package loop

// Handler receives a Server's events. Every method runs on the loop that
// owns the connection, one at a time per loop, so a handler needs no locks
// for per-connection state. Methods must not block: a blocked handler stalls
// every connection of its loop.
//
// No method runs inside another's call to a Conn method: an OnPause that
// a Write causes, an OnClose that CloseNow or a failed Write causes (also
// of another connection), OnResume, and the done callbacks of Dial and
// AsyncWriteFunc run after the running callback returns, in the order
// they came due (OnPause and OnResume not at all for a connection closed
// meanwhile: OnClose comes instead); so a handler may close connections
// while it iterates over a set of them. The state changes at once: after CloseNow, or a
// Write that failed, Closed() is true and Write returns ErrClosed. A method that panics is recovered, as
// net/http recovers a handler: its connection is closed with a PanicError
// (OnClose gets it), the panic is logged at Error with its stack, and the
// loop serves the others. Embed BaseHandler for no-op defaults.
type Handler interface {
	// OnBoot runs once, before any loop starts; an error aborts Start.
	OnBoot(s *Server) error
	// OnOpen runs when a connection is accepted or a Dial completes.
	OnOpen(c *Conn)
	// OnData runs when bytes arrived. Look at them with Peek, take them
	// with Next or Discard; what is left stays buffered for the next
	// OnData. It also runs after Conn.AsyncOnData. (UDP datagrams go to
	// PacketHandler.OnPacket.)
	OnData(c *Conn)
	// OnEOF runs when the peer shut down its writing half. Queued output
	// is still sent. BaseHandler closes the connection (after the flush).
	OnEOF(c *Conn)
	// OnClose runs once when a connection whose OnOpen ran is gone; err
	// says why (nil: closed by us or by a clean EOF). A connection that
	// never opened (a failed Dial, an accepted descriptor the Selector
	// cannot watch: select past 1024) gets neither; the loop logs the
	// latter at Warn and counts it in Stats.AcceptErrors.
	OnClose(c *Conn, err error)
	// OnPause runs when queued output passed Options.HighWater (or the
	// Server's Options.MaxQueued) and the loop stopped reading the
	// connection; OnResume when it fell below LowWater.
	OnPause(c *Conn)
	OnResume(c *Conn)
	// OnWaitTimeout runs when a Wait of Options.WaitTimeout found nothing
	// to do (a select loop's timeout). It is not about connections: an
	// idle connection is closed by Options.IdleTimeout, with ErrTimeout.
	OnWaitTimeout(l *Loop)
	// OnShutdown runs once, after Stop closed every connection.
	OnShutdown(s *Server)
}

// BaseHandler implements every Handler method with the default behaviour;
// embed it and override what you need.
type BaseHandler struct{}

// OnBoot does nothing.
func (BaseHandler) OnBoot(*Server) error { return nil }

// OnOpen does nothing.
func (BaseHandler) OnOpen(*Conn) {}

// OnData discards what arrived.
func (BaseHandler) OnData(c *Conn) { c.Discard(-1) }

// OnEOF closes the connection once its queued output is sent.
func (BaseHandler) OnEOF(c *Conn) { c.Close() }

// OnClose does nothing.
func (BaseHandler) OnClose(*Conn, error) {}

// OnPause does nothing.
func (BaseHandler) OnPause(*Conn) {}

// OnResume does nothing.
func (BaseHandler) OnResume(*Conn) {}

// OnWaitTimeout does nothing.
func (BaseHandler) OnWaitTimeout(*Loop) {}

// OnShutdown does nothing.
func (BaseHandler) OnShutdown(*Server) {}

// StopHandler is a Handler that is told when Stop begins: OnStop runs on
// each loop before its connections are closed (they are still open and
// may be written to: a goodbye is sent before the close), after its
// listeners are closed.
type StopHandler interface {
	OnStop(l *Loop)
}
