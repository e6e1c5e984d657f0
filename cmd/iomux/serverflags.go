package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
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
// time-server) share: their common flags (TLS included), the -v trace, and
// serve, which runs a loop.Server until a signal (or a test) stops it.

// serverStopTimeout bounds a graceful stop: queued output gets this long
// to drain before the remaining connections are closed at once.
const serverStopTimeout = 5 * time.Second

// serverOptions are the flags every server has.
type serverOptions struct {
	addr    string
	backend string
	loops   int
	verbose bool
	tlsCert string // --tls-cert and --tls-key: serve TLS
	tlsKey  string
	tlsMin  tlsVersion
	// unixOK lets --addr be unix:PATH, a Unix socket (kv-server).
	unixOK bool

	name     string     // the program's, for messages
	stdout   *console   // made by openOutputs: what the loops print through
	stderr   *console   // (console.go)
	consoles []*console // every console made, in order: serve closes them
	abort    chan error // stops serve with the error (the log's reader went away)
}

// bind adds --addr, --backend, -v, the TLS flags and, if withLoops,
// --loops to fs.
func (o *serverOptions) bind(fs *flag.FlagSet, defaultAddr string, withLoops bool) {
	o.bindListening(fs, "addr", defaultAddr, withLoops)
}

// bindListening is bind with the listening address's flag named addrFlag
// (proxy's is --listen: its other addresses are upstreams).
func (o *serverOptions) bindListening(fs *flag.FlagSet, addrFlag, defaultAddr string, withLoops bool) {
	o.name = fs.Name()
	o.abort = make(chan error, 1)
	fs.StringVar(&o.addr, addrFlag, defaultAddr, "`host:port` to listen on (port 0 picks a free one)")
	fs.StringVar(&o.backend, "backend", "auto", "readiness backend: auto, "+strings.Join(iomux.Backends(), ", "))
	fs.BoolVar(&o.verbose, "v", false, "trace the event loop on stderr, in the Python select tutorials' words; with TLS, what crosses the\n"+
		"socket is encrypted, so the trace shows how many bytes are read and written instead of the bytes,\n"+
		"and the handshakes (done, with the version and cipher suite, or failed) and closes too; stderr never holds a loop up:\n"+
		"past 1 MiB waiting for it, lines are dropped, and how many is said")
	fs.StringVar(&o.tlsCert, "tls-cert", "", "serve TLS with the PEM certificate (chain) in `file`; with --tls-key (iomux cert makes a pair)")
	fs.StringVar(&o.tlsKey, "tls-key", "", "the PEM private key `file` of --tls-cert")
	fs.Var(&o.tlsMin, "tls-min", "with --tls-cert: the lowest TLS `version` to accept, 1.2 or 1.3 (crypto/tls's default: 1.2)")
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
	if network, address := o.listenAddr(); network == "unix" {
		if address == "" {
			return fmt.Errorf("%w: --addr unix: needs a path", errUsage)
		}
	} else if _, _, err := net.SplitHostPort(o.addr); err != nil {
		return fmt.Errorf("%w: --addr: %v", errUsage, err)
	}
	if o.backend != "auto" && !slices.Contains(iomux.Backends(), o.backend) {
		return fmt.Errorf("%w: --backend %q: this OS has auto, %s", errUsage, o.backend, strings.Join(iomux.Backends(), ", "))
	}
	if (o.tlsCert == "") != (o.tlsKey == "") {
		return fmt.Errorf("%w: --tls-cert and --tls-key go together: give both or neither", errUsage)
	}
	if o.tlsMin != 0 && o.tlsCert == "" {
		return fmt.Errorf("%w: --tls-min needs --tls-cert and --tls-key", errUsage)
	}
	return nil
}

// listenAddr is --addr as a network and an address: "unix" and the
// path for unix:PATH where unixOK allows it, else "tcp" and host:port.
func (o *serverOptions) listenAddr() (network, address string) {
	if path, ok := strings.CutPrefix(o.addr, "unix:"); ok && o.unixOK {
		return "unix", path
	}
	return "tcp", o.addr
}

// tlsConfig loads --tls-cert and --tls-key; nil without them. A file that
// cannot be read, holds no PEM, or a key that is not the certificate's is
// an error that names the file.
func (o *serverOptions) tlsConfig() (*tls.Config, error) {
	if o.tlsCert == "" {
		return nil, nil
	}
	certPEM, err := os.ReadFile(o.tlsCert)
	if err != nil {
		return nil, fmt.Errorf("--tls-cert: %w", err)
	}
	keyPEM, err := os.ReadFile(o.tlsKey)
	if err != nil {
		return nil, fmt.Errorf("--tls-key: %w", err)
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("--tls-cert %s, --tls-key %s: %w", o.tlsCert, o.tlsKey, err)
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: uint16(o.tlsMin)}, nil
}

// tlsVersion is a --tls-min value: "1.2" or "1.3" (0: not given).
type tlsVersion uint16

func (v *tlsVersion) String() string {
	switch {
	case v == nil || *v == 0:
		return ""
	case *v == tls.VersionTLS12:
		return "1.2"
	}
	return "1.3"
}

func (v *tlsVersion) Set(s string) error {
	switch s {
	case "1.2":
		*v = tls.VersionTLS12
	case "1.3":
		*v = tls.VersionTLS13
	default:
		return errors.New("want 1.2 or 1.3")
	}
	return nil
}

// serverStderrLimit bounds the -v trace and the warnings waiting for
// stderr: a trace faster than the terminal loses lines (counted, and said
// on stderr) rather than slow the loops down to the terminal's pace.
const serverStderrLimit = 1 << 20

// openOutputs makes o.stdout and o.stderr, consoles on e's (console.go),
// which the loops print through (notes, the -v trace, the loop's
// warnings) without ever waiting for the reader; it returns o.stdout.
// serve closes them once the server has stopped.
func (o *serverOptions) openOutputs(e *env) *console {
	prog := "iomux " + o.name
	o.stderr = o.console(e.stderr, consoleSpec{prog: prog, name: "stderr", limit: serverStderrLimit})
	o.stdout = o.console(e.stdout, consoleSpec{prog: prog, name: "stdout", warn: o.stderr})
	return o.stdout
}

// console makes a console on w (its warnings go to o.stderr, if there is
// one yet) that serve closes, after the ones made before it.
func (o *serverOptions) console(w io.Writer, spec consoleSpec) *console {
	if spec.warn == nil && o.stderr != nil {
		spec.warn = o.stderr
	}
	c := newConsole(w, spec)
	o.consoles = append(o.consoles, c)
	return c
}

// stopWith makes serve stop the server and return err (once: later calls
// do nothing). Safe from any goroutine.
func (o *serverOptions) stopWith(err error) {
	select {
	case o.abort <- err:
	default:
	}
}

// closeOutputs writes out and closes every console, the last made first
// (each one's warnings go to the ones before it).
func (o *serverOptions) closeOutputs() {
	for i := len(o.consoles) - 1; i >= 0; i-- {
		o.consoles[i].close()
	}
	o.consoles = nil
}

// loopOptions turns the flags into loop.Options; -v traces to stderr,
// as the loop's warnings go. openOutputs must have run.
func (o *serverOptions) loopOptions() loop.Options {
	opts := loop.Options{
		Loops:   o.loops,
		Backend: o.backend,
		Logger:  slog.New(slog.NewTextHandler(o.stderr, nil)),
	}
	if o.verbose {
		tr := &serverTrace{w: o.stderr, tls: o.tlsCert != ""}
		opts.Observe = tr.observe
	}
	return opts
}

// serverTrace turns the loop's events into the running commentary of the
// Python select tutorials' servers, a line each on w ("waiting for the
// next event", "received ... from ...", "sending ... to ..."). The loops
// may call it at once: each line is written whole. With TLS, the bytes
// that cross the socket are encrypted, so their count is shown instead,
// and the handshake's result and the close are shown too.
type serverTrace struct {
	mu  sync.Mutex
	w   io.Writer
	tls bool
}

func (tr *serverTrace) observe(e loop.Event) {
	var line string
	switch e.Kind {
	case loop.EventWait:
		line = "\nwaiting for the next event"
	case loop.EventIdle:
		line = "  timed out, do some other work here"
	case loop.EventOpen:
		line = fmt.Sprintf("new connection from %s", e.Conn.RemoteAddr())
		// The handshake is over by OnOpen: its state is there to read.
		if st, ok := e.Conn.TLS(); ok {
			line += fmt.Sprintf(" (%s, %s)", tls.VersionName(st.Version), tls.CipherSuiteName(st.CipherSuite))
		}
	case loop.EventRead:
		switch {
		case e.Conn == nil: // a datagram
			line = fmt.Sprintf("received %q from %s", e.Data, e.From)
		case tr.tls:
			line = fmt.Sprintf("received %d bytes (TLS) from %s", len(e.Data), e.Conn.RemoteAddr())
		default:
			line = fmt.Sprintf("received %q from %s", e.Data, e.Conn.RemoteAddr())
		}
	case loop.EventWrite:
		if tr.tls {
			line = fmt.Sprintf("sending %d bytes (TLS) to %s", len(e.Data), e.Conn.RemoteAddr())
		} else {
			line = fmt.Sprintf("sending %q to %s", e.Data, e.Conn.RemoteAddr())
		}
	case loop.EventDrain:
		line = fmt.Sprintf("output queue for %s is empty", e.Conn.RemoteAddr())
	case loop.EventEOF:
		line = fmt.Sprintf("closing %s after reading no data", e.Conn.RemoteAddr())
	case loop.EventClose:
		if !tr.tls { // the tutorials say nothing more than the EOF line
			return
		}
		line = fmt.Sprintf("closed connection from %s", e.Conn.RemoteAddr())
		if e.Err != nil {
			line += fmt.Sprintf(" (%v)", e.Err)
		}
	case loop.EventHandshakeFailed:
		line = fmt.Sprintf("TLS handshake with %s failed: %s", e.Conn.RemoteAddr(),
			strings.TrimPrefix(e.Err.Error(), "TLS handshake: "))
	default:
		return
	}
	tr.println(line)
}

func (tr *serverTrace) println(line string) {
	tr.mu.Lock()
	fmt.Fprintln(tr.w, line)
	tr.mu.Unlock()
}

// serve listens on o.addr (with TLS if --tls-cert and --tls-key are
// given), starts srv, prints the Python select tutorials' "starting up on
// HOST port PORT" on stderr ("... (TLS)" with TLS) and runs until e.ctx
// ends, a signal arrives or stopWith is called; then it stops gracefully
// (queued output drains, at most serverStopTimeout; a second signal cuts
// that short), and writes out and closes the consoles.
// runnable is what serve runs: a loop.Server (loopServer) or a
// loophttp.Server.
type runnable interface {
	Start(network, address string, config *tls.Config) error
	Addrs() []net.Addr
	Done() <-chan struct{}
	Stop(ctx context.Context) error
}

// loopServer is a loop.Server as serve runs it.
type loopServer struct{ *loop.Server }

func (s loopServer) Start(network, address string, config *tls.Config) error {
	var err error
	if config != nil {
		err = s.Server.ListenTLS(network, address, config)
	} else {
		err = s.Server.Listen(network, address)
	}
	if err != nil {
		return err
	}
	return s.Server.Start()
}

func (o *serverOptions) serve(e *env, srv *loop.Server) error {
	return o.run(e, loopServer{srv})
}

// run starts srv on the flags' address, waits for a signal (or e.ctx's
// end, or stopWith), and stops it gracefully.
func (o *serverOptions) run(e *env, srv runnable) error {
	defer o.closeOutputs()
	stderr := o.stderr
	config, err := o.tlsConfig()
	if err != nil {
		return err
	}
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
	mode := ""
	if config != nil {
		mode = " (TLS)"
	}
	network, address := o.listenAddr()
	if err := srv.Start(network, address, config); err != nil {
		return err
	}
	addr := srv.Addrs()[0]
	fmt.Fprintf(stderr, "starting up on %s%s\n", hostAndPort(addr.String()), mode)
	if e.ready != nil {
		e.ready(addr)
	}
	var stopped error // what stopWith gave
	select {
	case <-ctx.Done():
	case <-srv.Done():
	case stopped = <-o.abort:
	}
	fmt.Fprintln(stderr, "shutting down")
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
	err = srv.Stop(stopCtx)
	if errors.Is(err, loop.ErrServerClosed) || errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		fmt.Fprintln(stderr, "stopped before every queue drained")
		err = nil
	}
	if err == nil {
		err = stopped
	}
	return err
}
