package loophttp

import (
	"context"
	"crypto/tls"
	"errors"
	"log"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/iomux/iomux/loop"
)

// Server serves HTTP/1.0 and HTTP/1.1 with an http.Handler on event loops.
// The fields it shares with http.Server mean what they mean there (zero
// values included); the others follow loop's rule: zero is the default,
// negative is none. A Server must not be changed once it serves.
type Server struct {
	// Addr is the TCP address ListenAndServe listens on (":http" if empty).
	Addr string
	// Handler serves each request (http.DefaultServeMux if nil).
	Handler http.Handler
	// TLSConfig is used by ListenAndServeTLS; "http/1.1" is added to its
	// NextProtos when absent.
	TLSConfig *tls.Config

	// ReadTimeout bounds reading a whole request, body included, from its
	// first byte; ReadHeaderTimeout the head alone (ReadTimeout if zero);
	// WriteTimeout the time from the end of the head to the end of the
	// response; IdleTimeout the wait for the next request on a keep-alive
	// connection (ReadTimeout if zero). Zero: none, as for http.Server.
	// A connection past one of them is closed.
	ReadTimeout, ReadHeaderTimeout, WriteTimeout, IdleTimeout time.Duration
	// MaxHeaderBytes bounds a request's line and header fields, as for
	// http.Server (http.DefaultMaxHeaderBytes, 1 MiB, if zero): past it
	// the answer is 431.
	MaxHeaderBytes int
	// ConnState is called when a connection changes state, as for
	// http.Server; the net.Conn it gets supports only the address methods
	// until it is hijacked.
	ConnState func(net.Conn, http.ConnState)
	// ErrorLog receives handler panics and the server's errors (the log
	// package's standard logger if nil).
	ErrorLog *log.Logger
	// BaseContext gives the base context of every request (context.Background
	// if nil); its listener argument is nil (the loop owns the sockets).
	BaseContext func(net.Listener) context.Context
	// ConnContext derives a connection's context from the base one.
	ConnContext func(ctx context.Context, c net.Conn) context.Context

	// MaxBodyBuffer bounds a request body received and not yet read by its
	// handler: past it the connection is not read until the handler reads
	// (TCP slows the client). Default 64 KiB.
	MaxBodyBuffer int
	// MaxPipelined bounds the requests parsed ahead of the one being
	// served on a connection: past it the connection is not read until
	// responses are done. Default 16.
	MaxPipelined int
	// NonBlocking, if set, says which requests Handler serves without
	// blocking (no I/O that waits, no sleep, no lock held for long): those
	// without a body then run on their loop, with no hand-off to a worker
	// goroutine (the way gnet's and fasthttp's handlers run), a pipelined
	// batch's responses in one write. The others go to a worker. A handler
	// that blocks on the loop stalls every connection of that loop.
	// Default nil: every request goes to a worker.
	NonBlocking func(r *http.Request) bool
	// Loop configures the event loops (their number, back-pressure marks,
	// buffers; see loop.Options). A handler's writes wait once the
	// connection's queued output passes Loop.HighWater.
	Loop loop.Options

	mu       sync.Mutex
	ls       *loop.Server
	started  bool
	shutting atomic.Bool
	active   sync.WaitGroup // connections with a request in flight
	baseCtx  context.Context
	ctxOnce  sync.Once
	workers  workers

	addrMu sync.Mutex
	addrs  map[netip.AddrPort]net.Addr // sharedAddr's
}

// Defaults of the Server's own limits.
const (
	DefaultMaxBodyBuffer = 64 << 10
	DefaultMaxPipelined  = 16
)

// ErrServerClosed is returned by ListenAndServe after Shutdown or Close.
var ErrServerClosed = http.ErrServerClosed

// ListenAndServe serves handler on addr with the defaults: the one-line
// move from http.ListenAndServe.
func ListenAndServe(addr string, handler http.Handler) error {
	s := &Server{Addr: addr, Handler: handler}
	return s.ListenAndServe()
}

// ListenAndServeTLS is ListenAndServe with TLS, certificate and key from
// files, as http.ListenAndServeTLS.
func ListenAndServeTLS(addr, certFile, keyFile string, handler http.Handler) error {
	s := &Server{Addr: addr, Handler: handler}
	return s.ListenAndServeTLS(certFile, keyFile)
}

// ListenAndServe listens on s.Addr and serves until Shutdown or Close,
// then returns ErrServerClosed; it returns other errors at once.
func (s *Server) ListenAndServe() error {
	if err := s.Start("tcp", s.addr(), nil); err != nil {
		return err
	}
	<-s.ls.Done()
	return ErrServerClosed
}

// ListenAndServeTLS is ListenAndServe with TLS: certFile and keyFile are
// used when s.TLSConfig has no certificate.
func (s *Server) ListenAndServeTLS(certFile, keyFile string) error {
	cfg := &tls.Config{}
	if s.TLSConfig != nil {
		cfg = s.TLSConfig.Clone()
	}
	if len(cfg.Certificates) == 0 && cfg.GetCertificate == nil && cfg.GetConfigForClient == nil {
		cert, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return err
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	if err := s.Start("tcp", s.addr(), cfg); err != nil {
		return err
	}
	<-s.ls.Done()
	return ErrServerClosed
}

func (s *Server) addr() string {
	if s.Addr == "" {
		return ":http"
	}
	return s.Addr
}

// Start listens on address (network "tcp", "tcp4", "tcp6" or "unix"),
// with TLS if config is not nil, and serves in the background; Addrs says
// where. It can be called once.
func (s *Server) Start(network, address string, config *tls.Config) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started {
		return errors.New("loophttp: server already started")
	}
	s.started = true
	if s.shutting.Load() {
		return ErrServerClosed
	}
	opts := s.Loop
	if opts.MaxInput == 0 {
		// A head up to MaxHeaderBytes (and net/http's slack) must fit.
		opts.MaxInput = max(1<<20, s.maxHeaderBytes()+headSlack+64<<10)
	}
	s.workers.init()
	ls := loop.NewServer(&handler{srv: s}, opts)
	var err error
	if config != nil {
		config = withHTTP11(config)
		err = ls.ListenTLS(network, address, config)
	} else {
		err = ls.Listen(network, address)
	}
	if err != nil {
		return err
	}
	if err := ls.Start(); err != nil {
		return err
	}
	s.ls = ls
	return nil
}

// withHTTP11 adds ALPN's "http/1.1" to a copy of config if it offers no
// protocol of its own.
func withHTTP11(config *tls.Config) *tls.Config {
	for _, p := range config.NextProtos {
		if p == "http/1.1" {
			return config
		}
	}
	config = config.Clone()
	config.NextProtos = append(config.NextProtos, "http/1.1")
	return config
}

// Addrs returns the bound addresses (useful with port 0).
func (s *Server) Addrs() []net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ls == nil {
		return nil
	}
	return s.ls.Addrs()
}

// Stats returns the loop server's counters.
func (s *Server) Stats() loop.Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ls == nil {
		return loop.Stats{}
	}
	return s.ls.Stats()
}

// Shutdown stops accepting, closes idle connections, lets requests in
// flight finish (their connections close after the response), then stops
// the loops. If ctx ends first, the remaining connections are closed at
// once and ctx's error is returned.
func (s *Server) Shutdown(ctx context.Context) error {
	s.shutting.Store(true)
	s.mu.Lock()
	ls := s.ls
	s.mu.Unlock()
	if ls == nil {
		return nil
	}
	_ = ls.StopAccepting()
	for _, l := range ls.Loops() {
		_ = l.Post(func() { closeIdle(l) })
	}
	idle := make(chan struct{})
	go func() { s.active.Wait(); close(idle) }()
	select {
	case <-idle:
	case <-ctx.Done():
		_ = ls.Stop(canceled())
		s.workers.stop()
		return ctx.Err()
	}
	err := ls.Stop(ctx)
	s.workers.stop()
	return err
}

// Close closes every connection at once, requests in flight included.
func (s *Server) Close() error {
	s.shutting.Store(true)
	s.mu.Lock()
	ls := s.ls
	s.mu.Unlock()
	if ls == nil {
		return nil
	}
	err := ls.Stop(canceled())
	s.workers.stop()
	return err
}

func canceled() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}

func (s *Server) base() context.Context {
	s.ctxOnce.Do(func() {
		s.baseCtx = context.Background()
		if s.BaseContext != nil {
			s.baseCtx = s.BaseContext(nil)
			if s.baseCtx == nil {
				panic("loophttp: BaseContext returned a nil context")
			}
		}
	})
	return s.baseCtx
}

// maxSharedAddrs bounds the local addresses sharedAddr keeps (there are
// as many as listeners times interfaces).
const maxSharedAddrs = 256

// sharedAddr returns a, or an equal address a connection was given
// before: the connections to one listener share one local address where
// each would keep its own (56 bytes). Handlers see it through
// http.LocalAddrContextKey, where net/http gives each connection its
// own; neither is for changing.
func (s *Server) sharedAddr(a net.Addr) net.Addr {
	t, ok := a.(*net.TCPAddr)
	if !ok {
		return a
	}
	key := t.AddrPort()
	s.addrMu.Lock()
	defer s.addrMu.Unlock()
	if shared, ok := s.addrs[key]; ok {
		return shared
	}
	if s.addrs == nil {
		s.addrs = make(map[netip.AddrPort]net.Addr)
	}
	if len(s.addrs) < maxSharedAddrs {
		s.addrs[key] = a
	}
	return a
}

func (s *Server) logf(format string, args ...any) {
	if s.ErrorLog != nil {
		s.ErrorLog.Printf(format, args...)
		return
	}
	log.Printf(format, args...)
}

func (s *Server) maxBodyBuffer() int { return ownLimit(s.MaxBodyBuffer, DefaultMaxBodyBuffer) }

func (s *Server) maxPipelined() int { return ownLimit(s.MaxPipelined, DefaultMaxPipelined) }

// ownLimit applies loop's rule to a limit of the Server's own: zero is
// def, negative is none.
func ownLimit(v, def int) int {
	switch {
	case v > 0:
		return v
	case v < 0:
		return 1<<31 - 1
	}
	return def
}

func (s *Server) maxHeaderBytes() int {
	if s.MaxHeaderBytes > 0 {
		return s.MaxHeaderBytes
	}
	return http.DefaultMaxHeaderBytes
}

func (s *Server) readHeaderTimeout() time.Duration {
	if s.ReadHeaderTimeout != 0 {
		return s.ReadHeaderTimeout
	}
	return s.ReadTimeout
}

func (s *Server) idleTimeout() time.Duration {
	if s.IdleTimeout != 0 {
		return s.IdleTimeout
	}
	return s.ReadTimeout
}

func (s *Server) serveHandler() http.Handler {
	if s.Handler != nil {
		return s.Handler
	}
	return http.DefaultServeMux
}

// Done is closed when the server has stopped (after Shutdown or Close);
// nil before Start.
func (s *Server) Done() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ls == nil {
		return nil
	}
	return s.ls.Done()
}
