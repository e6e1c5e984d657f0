package main

import (
	"bytes"
	"crypto/tls"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/iomux/iomux/internal/devcert"
)

// tlsServer is a crypto/tls echo server of the tests: its CA file, and the
// handshakes it completed (full and resumed).
type tlsServer struct {
	addr    string
	caFile  string
	full    atomic.Int64
	resumed atomic.Int64
}

// tlsEchoServer runs echoServer's goroutine-per-connection echo server on
// crypto/tls, with a fresh self-signed certificate for 127.0.0.1 whose
// PEM is in caFile, until the test ends; corrupt alters the plaintext.
func tlsEchoServer(t *testing.T, corrupt func([]byte)) *tlsServer {
	t.Helper()
	certPEM, keyPEM, err := devcert.Generate([]string{"127.0.0.1"}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	s := &tlsServer{caFile: filepath.Join(t.TempDir(), "ca.pem")}
	if err := os.WriteFile(s.caFile, certPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	config := &tls.Config{
		Certificates: []tls.Certificate{cert},
		VerifyConnection: func(st tls.ConnectionState) error {
			if st.DidResume {
				s.resumed.Add(1)
			} else {
				s.full.Add(1)
			}
			return nil
		},
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.addr = ln.Addr().String()
	serveEcho(t, tls.NewListener(ln, config), corrupt)
	return s
}

func TestTLSVerifiesEveryByte(t *testing.T) {
	noFDLeak(t)
	srv := tlsEchoServer(t, nil)
	pid := strconv.Itoa(os.Getpid())
	for _, tc := range []struct {
		name   string
		driver string
		args   []string
		mode   string
		trust  string
	}{
		{"pingpong", "selector", []string{"--tls-ca", srv.caFile, "--conns", "8", "--size", "64"}, "pingpong", "ca"},
		{"trust any", "selector", []string{"--tls", "--conns", "8", "--size", "64"}, "pingpong", "any"},
		{"pipelined", "selector", []string{"--tls", "--conns", "4", "--size", "100", "--pipeline", "16"}, "pipeline", "any"},
		{"larger than a record", "selector", []string{"--tls", "--conns", "2", "--size", "100000"}, "pingpong", "any"},
		{"more than handshakesAtOnce", "selector", []string{"--tls", "--conns", strconv.Itoa(handshakesAtOnce + 10), "--size", "64"}, "pingpong", "any"},
		{"goroutines", "goroutines", []string{"--tls-ca", srv.caFile, "--conns", "4", "--size", "64", "--pipeline", "4"}, "pipeline", "ca"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"--addr", srv.addr, "--duration", "300ms", "--warmup", "50ms",
				"--driver", tc.driver, "--server-pid", pid}, tc.args...)
			res, err := loadJSON(t, args...)
			if err != nil {
				t.Fatalf("loadgen: %v", err)
			}
			if res.Mode != tc.mode || res.RoundTrips == 0 || res.MBPerSec <= 0 || res.RoundTrips%int64(res.Pipeline) != 0 {
				t.Fatalf("nothing measured: %+v", res)
			}
			if res.Errors != 0 || res.Mismatches != 0 {
				t.Fatalf("errors %d, mismatches %d against a correct server", res.Errors, res.Mismatches)
			}
			if !res.TLS || res.TLSVersion != "TLS 1.3" || res.TLSCipher == "" || res.TLSGroup == "" || res.TLSTrust != tc.trust {
				t.Fatalf("TLS not described (want trust %q): %+v", tc.trust, res)
			}
		})
	}
	if n := srv.resumed.Load(); n != 0 {
		t.Errorf("%d handshakes resumed a session: every one must be full", n)
	}
}

// TestHandshakes: every cycle is a full handshake the server saw, with
// its echo verified; the figures per handshake are there.
func TestHandshakes(t *testing.T) {
	noFDLeak(t)
	for _, driver := range []string{driverSelector, driverGoroutines} {
		t.Run(driver, func(t *testing.T) {
			srv := tlsEchoServer(t, nil)
			res, err := loadJSON(t, "--addr", srv.addr, "--handshakes", "4", "--tls-ca", srv.caFile,
				"--duration", "300ms", "--warmup", "50ms", "--driver", driver, "--server-pid", strconv.Itoa(os.Getpid()))
			if err != nil {
				t.Fatalf("loadgen: %v", err)
			}
			if res.Mode != "handshake" || res.Conns != 4 || res.Handshakes == 0 || res.Handshakes != res.RoundTrips ||
				res.HandshakesPerSec <= 0 || res.ServerCPUUsPerHandshake <= 0 || res.ClientCPUUsPerHandshake <= 0 {
				t.Fatalf("handshakes not measured: %+v", res)
			}
			if res.Errors != 0 || res.Mismatches != 0 || !res.TLS || res.TLSTrust != "ca" {
				t.Fatalf("errors %d, mismatches %d, TLS %v (%s)", res.Errors, res.Mismatches, res.TLS, res.TLSTrust)
			}
			// The server saw every measured handshake, and those of the
			// warmup and of the cycles cut off at the end: a few more.
			if full := srv.full.Load(); full < res.Handshakes || full > 3*res.Handshakes+50 {
				t.Errorf("server completed %d handshakes, the generator counted %d", full, res.Handshakes)
			}
			if n := srv.resumed.Load(); n != 0 {
				t.Errorf("%d handshakes resumed a session", n)
			}
		})
	}
}

// TestHandshakeFailures: a certificate the CA does not vouch for, or a
// server that does not speak TLS, fails the run with a count and a reason.
func TestHandshakeFailures(t *testing.T) {
	noFDLeak(t)
	srv := tlsEchoServer(t, nil)
	other := tlsEchoServer(t, nil) // another certificate
	plain := echoServer(t, nil)
	for _, tc := range []struct {
		name   string
		args   []string
		stderr string
	}{
		{"unknown authority", []string{"--addr", srv.addr, "--tls-ca", other.caFile, "--conns", "2"}, "certificate"},
		{"plain server", []string{"--addr", plain, "--tls", "--conns", "2"}, "TLS handshake"},
		{"handshakes, unknown authority", []string{"--addr", srv.addr, "--tls-ca", other.caFile, "--handshakes", "2"}, "errors"},
		{"handshakes, goroutines", []string{"--addr", srv.addr, "--tls-ca", other.caFile, "--handshakes", "2", "--driver", "goroutines"}, "errors"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			args := append([]string{"--duration", "200ms", "--warmup", "0s"}, tc.args...)
			if code := run(args, &out, &errOut); code != 1 || !strings.Contains(errOut.String(), tc.stderr) {
				t.Fatalf("exit status %d, stderr %q; want 1 and %q in it", code, errOut.String(), tc.stderr)
			}
		})
	}
}

func TestTLSIdle(t *testing.T) {
	noFDLeak(t)
	srv := tlsEchoServer(t, nil)
	res, err := loadJSON(t, "--addr", srv.addr, "--tls", "--idle", "100", "--hold", "10ms", "--server-pid", strconv.Itoa(os.Getpid()))
	if err != nil {
		t.Fatal(err)
	}
	if res.Mode != "idle" || res.RoundTrips != 100 || res.IdleRSSAfterKiB <= 0 || !res.TLS {
		t.Fatalf("idle: want 100 echoes over TLS and an RSS, got %+v", res)
	}
	if full := srv.full.Load(); full != 100 {
		t.Fatalf("server completed %d handshakes, want one per connection (100)", full)
	}
}
