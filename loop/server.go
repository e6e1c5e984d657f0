package loop

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// ErrServerClosed is returned by calls on a Server that has stopped.
var ErrServerClosed = errors.New("loop: server closed")

// Server runs a Handler on Options.Loops event loops.
type Server struct {
	handler Handler
	on      handlers // the optional interfaces handler implements
	opts    Options
	badOpts error // what Options.check found: Start fails with it
	specs   []listenSpec
	addrs   []net.Addr
	loops   []*Loop
	turn    atomic.Uint32 // RoundRobin: the loop that had the last connection

	startMu  sync.Mutex // Start runs under it; Stop takes it to mark the Server closed
	closed   bool       // under startMu: Stop was called, Start refuses
	stopOnce sync.Once
	stopped  chan struct{} // closed when Stop has finished

	warnMu   sync.Mutex
	lastWarn map[string]time.Time // when each kind of warning was last logged

	handshakes handshakePool // TLS handshakes
}

// NewServer returns a Server for h; add addresses with Listen, then Start.
func NewServer(h Handler, opts Options) *Server {
	s := &Server{handler: h, on: optionalHandlers(h), badOpts: opts.check(), opts: opts.withDefaults(), stopped: make(chan struct{})}
	s.handshakes.max = s.opts.MaxHandshakes
	return s
}

// Options returns the options in force (with defaults filled in).
func (s *Server) Options() Options { return s.opts }

// Start opens the loops and listeners and runs the loops in the background.
// With no Listen address the Server only serves Dial'ed connections. After
// Stop (even one called before Start), Start fails with ErrServerClosed. A
// Stop called while Start runs waits for it, then stops what it started;
// so OnBoot must not call Stop.
func (s *Server) Start() error {
	s.startMu.Lock()
	defer s.startMu.Unlock()
	if s.closed {
		return ErrServerClosed
	}
	if s.loops != nil {
		return errors.New("loop: Start called twice")
	}
	if s.badOpts != nil {
		return s.badOpts
	}
	if s.on.boot != nil {
		if err := s.on.boot.OnBoot(s); err != nil {
			return err
		}
	}
	for i := range s.opts.Loops {
		l, err := newLoop(s, i)
		if err != nil {
			s.closeLoops()
			return err
		}
		s.loops = append(s.loops, l)
	}
	if err := s.openListeners(); err != nil {
		s.closeLoops()
		return err
	}
	if s.opts.Name == "" {
		s.opts.Name = "loop"
		if len(s.addrs) > 0 {
			s.opts.Name = s.addrs[0].Network() + " " + s.addrs[0].String()
		}
	}
	s.track()
	for _, l := range s.loops {
		go l.run()
	}
	return nil
}

// closeLoops undoes a Start that failed before any loop ran.
func (s *Server) closeLoops() {
	for _, l := range s.loops {
		l.closeListeners()
		l.sel.Close()
		l.ended = true
		close(l.done)
	}
	s.loops = nil
}

// Addrs returns the bound address of each Listen, in order (useful with
// port 0).
func (s *Server) Addrs() []net.Addr { return s.addrs }

// Loops returns the server's loops.
func (s *Server) Loops() []*Loop { return s.loops }

// Done is closed when Stop has finished.
func (s *Server) Done() <-chan struct{} { return s.stopped }

// Stop stops accepting, lets every connection send what it has queued,
// closes them, runs OnShutdown and returns. If ctx ends first, the
// remaining connections are closed at once and ctx's error is returned.
// Later calls wait for the first to finish. Stop waits for every loop to
// end, so never call it on a loop (a handler, timer or Post'ed function):
// that loop cannot end while it waits, and Stop never returns. From a loop,
// use go s.Stop(ctx).
func (s *Server) Stop(ctx context.Context) error {
	err := ErrServerClosed
	s.stopOnce.Do(func() {
		s.startMu.Lock()
		s.closed = true
		s.startMu.Unlock()
		err = s.stop(ctx)
		close(s.stopped)
	})
	if err == ErrServerClosed {
		<-s.stopped
	}
	return err
}

func (s *Server) stop(ctx context.Context) error {
	if s.loops == nil {
		return nil
	}
	begun := time.Now()
	if s.debugOn() {
		s.opts.Logger.LogAttrs(ctx, slog.LevelDebug, "loop: stop begun",
			slog.Int("loops", len(s.loops)), slog.Int64("open", s.Stats().Open))
	}
	for _, l := range s.loops {
		_ = l.post(l.beginStop, false)
	}
	var err error
	for _, l := range s.loops {
		select {
		case <-l.done:
			continue
		case <-ctx.Done():
			err = ctx.Err()
		}
		break
	}
	if err != nil {
		for _, l := range s.loops {
			_ = l.post(l.abort, false)
		}
		for _, l := range s.loops {
			<-l.done
		}
	}
	s.handshakes.wg.Wait() // every connection is closed: their handshakes end at once
	s.untrack()
	if s.on.shutdown != nil {
		s.on.shutdown.OnShutdown(s)
	}
	if s.debugOn() {
		s.opts.Logger.LogAttrs(ctx, slog.LevelDebug, "loop: stop ended",
			slog.Any("err", err), slog.Duration("took", time.Since(begun)))
	}
	return err
}

// pick chooses the loop for a connection handed out by a shared acceptor
// or a Dial. It runs on the acceptor loop or a dialing goroutine.
func (s *Server) pick() *Loop {
	if s.opts.Balance == LeastConnections {
		// Count the connections already handed over but not yet adopted:
		// a burst accepted in one wake-up would otherwise all go to the
		// loop that was emptiest before it.
		load := func(l *Loop) int64 { return l.stats.Open.Load() + l.incoming.Load() }
		best := s.loops[0]
		for _, l := range s.loops[1:] {
			if load(l) < load(best) {
				best = l
			}
		}
		return best
	}
	return s.loops[s.turn.Add(1)%uint32(len(s.loops))]
}

// StopAccepting closes the Server's listeners (TCP, Unix and UDP) and
// leaves its connections open: the first step of a graceful shutdown that
// lets requests in flight finish before Stop (loophttp's Shutdown). It
// returns once every loop has closed its listeners; ErrServerClosed if the
// Server was not started or is stopping. Do not call it on a loop.
func (s *Server) StopAccepting() error {
	s.startMu.Lock()
	loops, closed := s.loops, s.closed
	s.startMu.Unlock()
	if loops == nil || closed {
		return ErrServerClosed
	}
	var wg sync.WaitGroup
	for _, l := range loops {
		wg.Add(1)
		if err := l.post(func() { l.closeListeners(); wg.Done() }, false); err != nil {
			wg.Done()
		}
	}
	wg.Wait()
	return nil
}
