package main

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/iomux/iomux/internal/proxy"
	"github.com/iomux/iomux/loop"
)

// proxyProgram is iomux proxy.
func proxyProgram() *command {
	return &command{
		name:    "proxy",
		summary: "relay TCP (or TLS) clients to upstream servers: a reverse proxy and load balancer",
		usage: `Usage: iomux proxy --upstream HOST:PORT[,HOST:PORT...] [--listen 127.0.0.1:9000] [--balance round-robin]
                  [--loops N] [--idle 5m] [--connect-timeout 5s] [--retry-after 10s] [--stats 0]
                  [--tls-cert FILE --tls-key FILE] [--upstream-tls [--upstream-ca FILE | --upstream-insecure]]
                  [--backend auto] [-v]

A TCP reverse proxy and load balancer on the event loop, the classic
program after the echo server: each client is relayed to one of the
upstreams, picked in turn (--balance round-robin) or where the fewest
clients are (least-connections), and everything either side sends reaches
the other, in order. No goroutine per connection: an idle pair costs two
loop connections.

- Flow: a side that reads slowly holds back only the side that sends to
  it: the proxy stops reading the sender while about 1 MiB waits for the
  reader, so memory stays bounded whatever the two do.
- Half-closes go through (a client's FIN reaches the upstream, whose answer
  and close come back); a reset on one side is passed on as a reset.
- An upstream that refuses or does not answer within --connect-timeout is
  skipped for --retry-after (unless all are), and the client is tried on
  the next; with none answering, the client is closed.
- A pair with no traffic either way for --idle is closed (0: never).
- --tls-cert/--tls-key terminate TLS from clients; --upstream-tls speaks
  TLS to the upstreams, verifying them against the system's roots, or
  --upstream-ca, with --upstream-server-name (default: the upstream's host).
- --stats DURATION prints the pairs and upstreams every DURATION on stdout;
  -v traces the loop on stderr, and each pair opened and closed.

` + stopHelp + ` stops it gracefully: what is queued is sent, then it exits.

Example:
  $ iomux echo-server --addr 127.0.0.1:10001 &
  $ iomux echo-server --addr 127.0.0.1:10002 &
  $ iomux proxy --upstream 127.0.0.1:10001,127.0.0.1:10002 --stats 10s
  starting up on 127.0.0.1 port 9000
  $ iomux echo-client hello --addr 127.0.0.1:9000   # in another terminal
`,
		run: runProxy,
	}
}

// proxyServer is the Proxy as the program runs it: with --stats, loop 0
// prints the counters.
type proxyServer struct {
	*proxy.Proxy
	srv   *loop.Server
	every time.Duration
	out   *console
}

var _ loop.LoopStartHandler = (*proxyServer)(nil)

// OnLoopStart starts the --stats timer on loop 0.
func (p *proxyServer) OnLoopStart(l *loop.Loop) {
	if p.every <= 0 || l.Index() != 0 {
		return
	}
	l.Every(p.every, func() {
		st := p.srv.Stats()
		fmt.Fprintf(p.out, "proxy: %s; %d bytes in, %d out, %d queued\n", p.Proxy.Stats(), st.BytesIn, st.BytesOut, st.Queued)
	})
}

func runProxy(e *env, args []string) error {
	fs := newFlags(proxyProgram())
	var opt serverOptions
	opt.bindListening(fs, "listen", "127.0.0.1:9000", true)
	upstreams := fs.String("upstream", "", "the servers to relay to: `host:port`[,host:port...]")
	balance := fs.String("balance", "round-robin", "how an upstream is picked: round-robin or least-connections")
	idle := fs.Duration("idle", 5*time.Minute, "close a pair with no traffic either way for this long (0: never)")
	connectTimeout := fs.Duration("connect-timeout", proxy.DefaultConnectTimeout, "give up an upstream that has not answered after this long")
	retryAfter := fs.Duration("retry-after", proxy.DefaultRetryAfter, "skip an upstream that failed for this long")
	writeTimeout := fs.Duration("write-timeout", 2*time.Minute, "close a side whose output has not moved for this long (a peer that stopped reading), and its pair")
	every := fs.Duration("stats", 0, "print the counters every `interval` on stdout (0: never)")
	upTLS := fs.Bool("upstream-tls", false, "connect to the upstreams with TLS, verifying them against the system's roots (or --upstream-ca)")
	upCA := fs.String("upstream-ca", "", "with --upstream-tls: trust the PEM certificates in `file` instead of the system's roots")
	upInsecure := fs.Bool("upstream-insecure", false, "with --upstream-tls: DO NOT VERIFY the upstreams' certificates (testing only)")
	upName := fs.String("upstream-server-name", "", "with --upstream-tls: the `name` the upstreams' certificates must have (default: each upstream's host)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := opt.check(fs); err != nil {
		return err
	}
	cfg := proxy.Config{ConnectTimeout: *connectTimeout, RetryAfter: *retryAfter, IdleTimeout: *idle, Verbose: opt.verbose}
	for _, u := range strings.Split(*upstreams, ",") {
		if u = strings.TrimSpace(u); u != "" {
			cfg.Upstreams = append(cfg.Upstreams, u)
		}
	}
	if len(cfg.Upstreams) == 0 {
		return fmt.Errorf("%w: --upstream: at least one host:port to relay to", errUsage)
	}
	var err error
	if cfg.Balance, err = proxy.ParseBalance(*balance); err != nil {
		return fmt.Errorf("%w: --%v", errUsage, err)
	}
	for _, d := range []struct {
		name  string
		value time.Duration
	}{{"idle", *idle}, {"connect-timeout", *connectTimeout}, {"retry-after", *retryAfter}, {"stats", *every}} {
		if d.value < 0 {
			return fmt.Errorf("%w: --%s must not be negative", errUsage, d.name)
		}
	}
	if *connectTimeout == 0 || *writeTimeout <= 0 {
		return fmt.Errorf("%w: --connect-timeout and --write-timeout must be positive", errUsage)
	}
	if cfg.UpstreamTLS, err = upstreamTLS(*upTLS, *upCA, *upInsecure, *upName); err != nil {
		return err
	}
	opt.openOutputs(e)
	cfg.Log = opt.stderr
	p, err := proxy.New(cfg)
	if err != nil {
		opt.closeOutputs()
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	opts := opt.loopOptions()
	opts.WriteTimeout = *writeTimeout
	ps := &proxyServer{Proxy: p, every: *every, out: opt.stdout}
	ps.srv = loop.NewServer(ps, opts)
	return opt.serve(e, ps.srv)
}

// upstreamTLS is the --upstream-tls flags' config, nil without TLS.
func upstreamTLS(on bool, ca string, insecure bool, name string) (*tls.Config, error) {
	if !on {
		if ca != "" || insecure || name != "" {
			return nil, fmt.Errorf("%w: --upstream-ca, --upstream-insecure and --upstream-server-name go with --upstream-tls", errUsage)
		}
		return nil, nil
	}
	if ca != "" && insecure {
		return nil, fmt.Errorf("%w: --upstream-ca and --upstream-insecure exclude each other", errUsage)
	}
	cfg := &tls.Config{ServerName: name, InsecureSkipVerify: insecure}
	if ca != "" {
		pem, err := os.ReadFile(ca)
		if err != nil {
			return nil, fmt.Errorf("--upstream-ca: %w", err)
		}
		cfg.RootCAs = x509.NewCertPool()
		if !cfg.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("--upstream-ca %s: no PEM certificate in it", ca)
		}
	}
	return cfg, nil
}
