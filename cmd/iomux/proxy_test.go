package main

import (
	"crypto/tls"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/iomux/iomux/internal/iomuxtest"
)

// runProxyListening is runProxy for srvStart, which gives servers
// "--addr": the proxy listens with --listen (its other addresses are
// upstreams).
func runProxyListening(e *env, args []string) error {
	if len(args) >= 2 && args[0] == "--addr" {
		args = append([]string{"--listen", args[1]}, args[2:]...)
	}
	return runProxy(e, args)
}

// iomux proxy in front of two echo-servers: clients are spread over both
// (round robin), every byte comes back, -v says which pair is which, and
// --stats prints the counters.
func TestProxyProgram(t *testing.T) {
	iomuxtest.CheckLeaks(t)
	a, b := srvStart(t, runEchoServer), srvStart(t, runEchoServer)
	p := srvStart(t, runProxyListening, "--upstream", a.addr+","+b.addr, "--stats", "50ms", "-v")
	for i := range 4 {
		c := srvDial(t, p.addr)
		msg := strings.Repeat("relayed ", 1000+i)
		c.SetDeadline(time.Now().Add(srvWait))
		if _, err := io.WriteString(c, msg); err != nil {
			t.Fatal(err)
		}
		got := make([]byte, len(msg))
		if _, err := io.ReadFull(c, got); err != nil || string(got) != msg {
			t.Fatalf("through the proxy: %v", err)
		}
	}
	p.errs.WaitFor(t, " ↔ "+a.addr, 2)
	p.errs.WaitFor(t, " ↔ "+b.addr, 2)
	p.out.WaitFor(t, "4 pairs open, 4 since the start; "+a.addr+" up, 2 open, 0 failed; "+b.addr+" up, 2 open, 0 failed", 1)
	for _, words := range []string{"starting up on 127.0.0.1 port ", "new connection from 127.0.0.1:", "received "} {
		if !strings.Contains(p.errs.String(), words) {
			t.Errorf("-v trace lacks %q:\n%s", words, p.errs)
		}
	}
}

// TLS on both sides: the proxy terminates the clients' TLS and speaks TLS
// to an echo-server that serves it.
func TestProxyProgramTLS(t *testing.T) {
	pair := newTLSPair(t)
	up := srvStartTLS(t, runEchoServer, pair)
	p := srvStartTLS(t, runProxyListening, pair, "--upstream", up.addr, "--upstream-tls", "--upstream-ca", pair.cert)
	for _, v := range tlsVersions {
		c := srvDialTLS(t, p.addr, pair, v)
		if err := srvEchoOver(c, uint64(v), 1<<20, false); err != nil {
			t.Fatalf("%s through the proxy: %v", tls.VersionName(v), err)
		}
	}
}

// A proxy with no upstream that answers closes its clients, and says why.
func TestProxyProgramNoUpstream(t *testing.T) {
	p := srvStart(t, runProxyListening, "--upstream", closedAddr(t), "--connect-timeout", "1s")
	c := srvDial(t, p.addr)
	c.SetDeadline(time.Now().Add(srvWait))
	if got, err := io.ReadAll(c); len(got) != 0 || err != nil {
		t.Fatalf("read %q, %v; want EOF", got, err)
	}
	p.errs.WaitFor(t, "is down", 1)
	p.errs.WaitFor(t, "no upstream answered", 1)
}

func TestProxyUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{},
		{"--upstream", ""},
		{"--upstream", "nocolon"},
		{"--upstream", "127.0.0.1:1", "--balance", "random"},
		{"--upstream", "127.0.0.1:1", "--idle", "-1s"},
		{"--upstream", "127.0.0.1:1", "--connect-timeout", "0"},
		{"--upstream", "127.0.0.1:1", "--upstream-ca", "x.pem"},
		{"--upstream", "127.0.0.1:1", "--upstream-tls", "--upstream-ca", "x.pem", "--upstream-insecure"},
		{"--upstream", "127.0.0.1:1", "extra"},
	} {
		var errs strings.Builder
		err := runProxy(&env{stdout: &errs, stderr: &errs}, args)
		if !errors.Is(err, errUsage) {
			t.Errorf("%v: got %v, want a usage error", args, err)
		}
	}
}

// closedAddr is a loopback address nothing listens on.
func closedAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}
