package main

import (
	"cmp"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"time"

	"github.com/iomux/iomux"
	"github.com/iomux/iomux/internal/sock"
	"github.com/iomux/iomux/internal/tlssession"
)

// What the four clients (echo-client, slow-client, chat-client, watch)
// share: their common flags (TLS included), the -v trace and the dial.
// clientstream.go has clientStream, the connection they read and write,
// plain or TLS alike.

// clientOptions are the flags every client takes.
type clientOptions struct {
	addr    string
	backend string
	verbose bool
	timeout time.Duration

	tls           bool // --tls and the flags that go with it
	tlsCA         string
	tlsInsecure   bool
	tlsServerName string
	tlsMin        tlsVersion
	tlsConfig     *tls.Config // built by setup from the flags above; nil: plain TCP
}

// bind declares --addr (with the program's default), --backend, --timeout,
// -v and the TLS flags.
func (o *clientOptions) bind(fs *flag.FlagSet, defaultAddr string) {
	fs.StringVar(&o.addr, "addr", defaultAddr, "server address `HOST:PORT`")
	fs.StringVar(&o.backend, "backend", "auto", "readiness backend: auto, "+strings.Join(iomux.Backends(), ", "))
	fs.DurationVar(&o.timeout, "timeout", 10*time.Second, "give up after this long without progress (connecting, the TLS handshake; for echo-client and slow-client, also each echo);\n"+
		"must be positive")
	fs.BoolVar(&o.verbose, "v", false, "trace each step to stderr, in the Python select tutorials' words (with --tls: the plaintext sent and received, and the handshake)")
	fs.BoolVar(&o.tls, "tls", false, "connect with TLS, verifying the server's certificate against the system's roots (or --tls-ca)")
	fs.StringVar(&o.tlsCA, "tls-ca", "", "with --tls: trust the PEM certificates in `file` instead of the system's roots (iomux cert's cert.pem)")
	fs.BoolVar(&o.tlsInsecure, "tls-insecure", false, "with --tls: DO NOT VERIFY the server's certificate; anyone on the way can read and change\n"+
		"the traffic; for testing only")
	fs.StringVar(&o.tlsServerName, "tls-server-name", "", "with --tls: the `name` the certificate must be for, sent as SNI (default: the host of --addr)")
	fs.Var(&o.tlsMin, "tls-min", "with --tls: the lowest TLS `version` to accept, 1.2 or 1.3 (crypto/tls's default: 1.2)")
}

// setup checks the flags every client has, loads the TLS configuration
// (--tls) and opens the Selector --backend names. A bad flag is a usage
// error; an unreadable --tls-ca an error that names it.
func (o *clientOptions) setup() (iomux.Selector, error) {
	host, _, err := net.SplitHostPort(o.addr)
	if err != nil {
		return nil, fmt.Errorf("%w: --addr: %v", errUsage, err)
	}
	if o.timeout <= 0 { // a wait that never ends, or one that ends at once
		return nil, fmt.Errorf("%w: --timeout must be positive", errUsage)
	}
	if o.tlsConfig, err = o.loadTLS(host); err != nil {
		return nil, err
	}
	sel, err := iomux.NewSelector(o.backend)
	if errors.Is(err, iomux.ErrUnknown) {
		return nil, fmt.Errorf("%w: --backend: %v", errUsage, err)
	}
	return sel, err
}

// loadTLS makes the tls.Config of --tls; nil without it. host is --addr's.
func (o *clientOptions) loadTLS(host string) (*tls.Config, error) {
	if !o.tls {
		for _, f := range []struct {
			name  string
			given bool
		}{{"--tls-ca", o.tlsCA != ""}, {"--tls-insecure", o.tlsInsecure}, {"--tls-server-name", o.tlsServerName != ""}, {"--tls-min", o.tlsMin != 0}} {
			if f.given {
				return nil, fmt.Errorf("%w: %s goes with --tls", errUsage, f.name)
			}
		}
		return nil, nil
	}
	if o.tlsCA != "" && o.tlsInsecure {
		return nil, fmt.Errorf("%w: --tls-ca and --tls-insecure exclude each other: trust a certificate, or verify none", errUsage)
	}
	// An IP address as ServerName is checked against the certificate's
	// IP addresses (and sent as no SNI), as crypto/tls defines it.
	config := &tls.Config{
		ServerName:         cmp.Or(o.tlsServerName, host),
		InsecureSkipVerify: o.tlsInsecure,
		MinVersion:         uint16(o.tlsMin),
	}
	if o.tlsCA != "" {
		certs, err := os.ReadFile(o.tlsCA)
		if err != nil {
			return nil, fmt.Errorf("--tls-ca: %w", err)
		}
		config.RootCAs = x509.NewCertPool()
		if !config.RootCAs.AppendCertsFromPEM(certs) {
			return nil, fmt.Errorf("--tls-ca %s: no PEM certificate in it", o.tlsCA)
		}
	}
	return config, nil
}

// tracef prints one -v line to stderr.
func (o *clientOptions) tracef(stderr io.Writer, format string, args ...any) {
	if o.verbose {
		fmt.Fprintf(stderr, format+"\n", args...)
	}
}

// dial connects a non-blocking TCP socket to --addr as the tutorials'
// clients do (socket, then connect), waiting at most --timeout for the TCP
// handshake and, with --tls, as long again for the TLS one. trace is the
// client's -v.
func (o *clientOptions) dial(trace func(format string, args ...any)) (*clientStream, error) {
	fd, err := sock.Dial("tcp", o.addr, o.timeout)
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", o.addr, err)
	}
	s := &clientStream{fd: fd, addr: o.addr, trace: trace}
	if o.tlsConfig == nil {
		return s, nil
	}
	s.sess = tlssession.Client(o.tlsConfig, s.send, nil)
	if err := s.handshake(o.backend, o.timeout); err != nil {
		s.close()
		return nil, fmt.Errorf("TLS handshake with %s: %w", o.addr, err)
	}
	return s, nil
}

// connect dials (see dial) and registers the socket with sel for ev;
// closeConn unregisters and closes it, ending a TLS stream with
// close_notify.
func (o *clientOptions) connect(sel iomux.Selector, ev iomux.Events, trace func(format string, args ...any)) (s *clientStream, closeConn func(), err error) {
	if s, err = o.dial(trace); err != nil {
		return nil, nil, err
	}
	if err := sel.Register(s.fd, ev, nil); err != nil {
		s.close()
		return nil, nil, err
	}
	return s, func() {
		sel.Unregister(s.fd)
		s.close()
	}, nil
}

// localAddr is the socket's own HOST:PORT, which the tutorials' clients
// print to tell their sockets apart.
func localAddr(fd int) string {
	if a := sock.LocalAddr(fd, false); a != nil {
		return a.String()
	}
	return fmt.Sprintf("fd %d", fd)
}

// brief quotes b for an error message, cut short if it is long.
func brief(b []byte) string {
	const max = 80
	if len(b) <= max {
		return fmt.Sprintf("%q", b)
	}
	return fmt.Sprintf("%q... (%d bytes)", b[:max], len(b))
}

// hostAndPort writes HOST:PORT as the Python select tutorials print it:
// "127.0.0.1 port 10000".
func hostAndPort(addr string) string {
	if host, port, err := net.SplitHostPort(addr); err == nil {
		return host + " port " + port
	}
	return addr
}
