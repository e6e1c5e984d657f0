package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/iomux/iomux"
	"github.com/iomux/iomux/loop"
)

// What the four servers (echo-server, chat-server, log-server,
// time-server) share: their common flags, and serve, which runs a
// loop.Server until a signal (or a test) stops it.

// serverStopTimeout bounds a graceful stop: queued output gets this long
// to drain before the remaining connections are closed at once.
const serverStopTimeout = 5 * time.Second

// serverOptions are the flags every server has.
type serverOptions struct {
	addr    string
	backend string
	loops   int
	verbose bool
	// beforeStop, if set, runs when the stop begins, before the server
	// closes connections (to say goodbye, say).
	beforeStop func(*loop.Server)
}

// bind adds --addr, --backend, -v and, if withLoops, --loops to fs.
func (o *serverOptions) bind(fs *flag.FlagSet, defaultAddr string, withLoops bool) {
	fs.StringVar(&o.addr, "addr", defaultAddr, "`host:port` to listen on (port 0 picks a free one)")
	fs.StringVar(&o.backend, "backend", "auto", "readiness backend: auto, "+strings.Join(iomux.Backends(), ", "))
	fs.BoolVar(&o.verbose, "v", false, "trace the event loop on stderr, in the Python select tutorials' words")
	o.loops = 1
	if withLoops {
		fs.IntVar(&o.loops, "loops", 0, "number of event loops (0: one per CPU)")
	}
}

// check validates the flags after parsing.
func (o *serverOptions) check(fs *flag.FlagSet) error {
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
	}
	if o.loops < 0 {
		return fmt.Errorf("%w: --loops must not be negative", errUsage)
	}
	if _, _, err := net.SplitHostPort(o.addr); err != nil {
		return fmt.Errorf("%w: --addr: %v", errUsage, err)
	}
	if o.backend != "auto" && !slices.Contains(iomux.Backends(), o.backend) {
		return fmt.Errorf("%w: --backend %q: this OS has auto, %s", errUsage, o.backend, strings.Join(iomux.Backends(), ", "))
	}
	return nil
}

// loopOptions turns the flags into loop.Options; -v traces to stderr.
func (o *serverOptions) loopOptions(stderr io.Writer) loop.Options {
	opts := loop.Options{
		Loops:   o.loops,
		Backend: o.backend,
		Logger:  slog.New(slog.NewTextHandler(stderr, nil)),
	}
	if o.verbose {
		opts.Observe = tutorialTrace(stderr)
	}
	return opts
}

// tutorialTrace turns the loop's events into the running commentary of the
// Python select tutorials' servers, a line each on w ("waiting for the
// next event", "received ... from ...", "sending ... to ..."). The loops
// may call it at once: each line is written whole.
func tutorialTrace(w io.Writer) func(loop.Event) {
	var mu sync.Mutex
	return func(e loop.Event) {
		var line string
		switch e.Kind {
		case loop.EventWait:
			line = "\nwaiting for the next event"
		case loop.EventIdle:
			line = "  timed out, do some other work here"
		case loop.EventOpen:
			line = fmt.Sprintf("new connection from %s", e.Conn.RemoteAddr())
		case loop.EventRead:
			if e.Conn == nil { // a datagram
				line = fmt.Sprintf("received %q from %s", e.Data, e.From)
			} else {
				line = fmt.Sprintf("received %q from %s", e.Data, e.Conn.RemoteAddr())
			}
		case loop.EventWrite:
			line = fmt.Sprintf("sending %q to %s", e.Data, e.Conn.RemoteAddr())
		case loop.EventDrain:
			line = fmt.Sprintf("output queue for %s is empty", e.Conn.RemoteAddr())
		case loop.EventEOF:
			line = fmt.Sprintf("closing %s after reading no data", e.Conn.RemoteAddr())
		default:
			return
		}
		mu.Lock()
		fmt.Fprintln(w, line)
		mu.Unlock()
	}
}

// serve listens on o.addr, starts srv, prints the Python select tutorials'
// "starting up on HOST port PORT" on stderr and runs until e.ctx ends or a
// signal arrives; then it stops gracefully (queued output drains, at most
// serverStopTimeout; a second signal cuts that short).
func (o *serverOptions) serve(e *env, srv *loop.Server) error {
	ctx := e.ctx
	var signals chan os.Signal
	if ctx == nil {
		sigs := make(chan os.Signal, 2)
		signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
		defer signal.Stop(sigs)
		signals = sigs
		var cancel context.CancelFunc
		ctx, cancel = context.WithCancel(context.Background())
		defer cancel()
		go func() {
			select {
			case <-signals:
				cancel()
			case <-ctx.Done():
			}
		}()
	}
	if err := srv.Listen("tcp", o.addr); err != nil {
		return err
	}
	if err := srv.Start(); err != nil {
		return err
	}
	addr := srv.Addrs()[0]
	fmt.Fprintf(e.stderr, "starting up on %s\n", hostAndPort(addr.String()))
	if e.ready != nil {
		e.ready(addr)
	}
	select {
	case <-ctx.Done():
	case <-srv.Done():
	}
	fmt.Fprintln(e.stderr, "shutting down")
	if o.beforeStop != nil {
		o.beforeStop(srv)
	}
	stopCtx, cancel := context.WithTimeout(context.Background(), serverStopTimeout)
	defer cancel()
	if signals != nil {
		go func() {
			select {
			case <-signals: // a second signal: stop now
				cancel()
			case <-stopCtx.Done():
			}
		}()
	}
	err := srv.Stop(stopCtx)
	if errors.Is(err, loop.ErrServerClosed) {
		err = nil
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		fmt.Fprintln(e.stderr, "stopped before every queue drained")
		err = nil
	}
	return err
}
