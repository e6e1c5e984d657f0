package main

// The clients with --tls: echo-client and slow-client against our TLS
// echo-server on every backend (the handshake waits on the client's own
// backend; watch and chat-client have theirs beside their plain tests),
// against openssl s_server, against a server that speaks in the same
// packet as its last handshake record; their failures and usage errors.

import (
	"bytes"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/iomux/iomux/internal/iomuxtest"
	"github.com/iomux/iomux/internal/linetest"
)

func TestClientsTLSOurEchoServer(t *testing.T) {
	pair := newTLSPair(t)
	iomuxtest.ForEachBackend(t, func(t *testing.T, backend string) {
		echo := srvStartTLS(t, runEchoServer, pair, "--backend", backend)
		var out, errs bytes.Buffer
		if err := runEchoClient(testEnv(&out, &errs), pair.trusting("--addr", echo.addr, "--backend", backend, "--conns", "3", "-v")); err != nil {
			t.Fatalf("echo-client: %v\n%s", err, errs.String())
		}
		checkEchoOutput(t, out.String(), 3, multiclientMessages)
		for _, words := range []string{"TLS handshake with " + echo.addr + " done: TLS 1.3, TLS_",
			`sending "It will be sent " to ` + echo.addr, `received "It will be sent " from ` + echo.addr} {
			if n := strings.Count(errs.String(), words); n != 3 {
				t.Errorf("-v trace has %d× %q, want 3:\n%s", n, words, errs.String())
			}
		}

		out.Reset()
		if err := runSlowClient(testEnv(&out, io.Discard), pair.trusting("--addr", echo.addr, "--backend", backend, "--pause", "10ms")); err != nil {
			t.Fatalf("slow-client: %v\n%s", err, out.String())
		}
		checkSlowOutput(t, out.String(), slowMessages, 16<<10)
	})
}

// Our clients against openssl s_server: echo-client and slow-client
// against its -rev mode (each line comes back reversed: palindromes come
// back as sent), watch printing what s_server sends until it quits,
// chat-client both ways until its close_notify. Skipped without openssl.
func TestClientsTLSOpenSSLServer(t *testing.T) {
	openssl := needOpenSSL(t)
	pair := newTLSPair(t)
	t.Run("echo-client", func(t *testing.T) {
		iomuxtest.CheckLeaks(t)
		srv := startSServer(t, openssl, pair, "-rev", "-tls1_3")
		parts := []string{"level\n", "racecar\n"}
		var out, errs bytes.Buffer
		if err := runEchoClient(testEnv(&out, &errs), append(pair.trusting("--addr", srv.addr, "--conns", "1"), parts...)); err != nil {
			t.Fatalf("echo-client: %v\n%s\ns_server:\n%s", err, out.String(), srv.out)
		}
		checkEchoOutput(t, out.String(), 1, parts)
	})
	t.Run("slow-client", func(t *testing.T) {
		iomuxtest.CheckLeaks(t)
		srv := startSServer(t, openssl, pair, "-rev", "-tls1_2")
		parts := []string{"abba\n", "noon\n"}
		var out bytes.Buffer
		if err := runSlowClient(testEnv(&out, io.Discard), append(pair.trusting("--addr", srv.addr, "--pause", "10ms"), parts...)); err != nil {
			t.Fatalf("slow-client: %v\n%s\ns_server:\n%s", err, out.String(), srv.out)
		}
		checkSlowOutput(t, out.String(), parts, 16<<10)
	})
	t.Run("watch", func(t *testing.T) {
		iomuxtest.CheckLeaks(t)
		srv := startSServer(t, openssl, pair, "-tls1_2")
		out := new(linetest.Output)
		done := make(chan error, 1)
		go func() { done <- runWatch(testEnv(out, io.Discard), pair.trusting("--addr", srv.addr)) }()
		// s_server takes no command from a stdin read before its
		// handshake is done, so the test waits for its report of it.
		srv.out.WaitFor(t, "CIPHER is ", 1)
		io.WriteString(srv.stdin, "from openssl\n")
		out.WaitFor(t, "Received: from openssl\n", 1)
		io.WriteString(srv.stdin, "Q\n") // s_server's command: end the connection and exit
		if err := <-done; err != nil {
			t.Fatalf("watch: %v\n%s", err, out)
		}
		if !strings.HasSuffix(out.String(), "Remote end closed connection; exiting.\n") {
			t.Errorf("watch did not see s_server close:\n%s", out)
		}
	})
	t.Run("chat-client", func(t *testing.T) {
		iomuxtest.CheckLeaks(t)
		srv := startSServer(t, openssl, pair)
		chat := startChatClient(t, pair.trusting("--addr", srv.addr)...)
		io.WriteString(chat.stdin, "hello from iomux\n")
		srv.out.WaitFor(t, "hello from iomux\n", 1)
		io.WriteString(srv.stdin, "hello from openssl\n")
		chat.out.WaitFor(t, "hello from openssl\n", 1)
		chat.stdin.Close() // close_notify: s_server ends the connection
		chat.wait(t)
	})
}

// sServer is openssl s_server, running.
type sServer struct {
	addr  string
	stdin io.WriteCloser   // what it sends to its client (and its commands)
	out   *linetest.Output // its stdout and stderr: what the client sent, its notes
}

var sServerAccept = regexp.MustCompile(`ACCEPT (127\.0\.0\.1:\d+)`)

// startSServer runs openssl s_server on an ephemeral port with the pair,
// for one connection, and waits until it listens.
func startSServer(t *testing.T, openssl string, p tlsPair, extra ...string) *sServer {
	t.Helper()
	args := append([]string{"s_server", "-accept", "127.0.0.1:0", "-cert", p.cert, "-key", p.key, "-naccept", "1"}, extra...)
	s := &sServer{out: new(linetest.Output)}
	s.stdin = startTool(t, exec.Command(openssl, args...), s.out, s.out)
	s.out.WaitFor(t, "ACCEPT ", 1)
	m := sServerAccept.FindStringSubmatch(s.out.String())
	if m == nil {
		t.Fatalf("no address in s_server's output:\n%s", s.out)
	}
	s.addr = m[1]
	return s
}

// The server speaks in the same packet as its last handshake record (TLS
// 1.2: its Finished, a line, its close_notify): the client reads them all
// while it waits for the handshake, and must show them anyway, without
// waiting for the socket to be readable again.
func TestClientsTLSDataWithHandshake(t *testing.T) {
	pair := newTLSPair(t)
	config := pair.config(t, tls.VersionTLS12)
	iomuxtest.ForEachBackend(t, func(t *testing.T, backend string) {
		srv := startPeerServer(t, func(c net.Conn) {
			bc := &batchConn{Conn: c}
			tc := tls.Server(bc, config)
			if tc.Handshake() != nil {
				return
			}
			tc.Write([]byte("spoken at once\n"))
			tc.CloseWrite()
			bc.flush()
		})
		var out bytes.Buffer
		if err := runWatch(testEnv(&out, io.Discard), pair.trusting("--addr", srv.addr(), "--backend", backend)); err != nil {
			t.Fatalf("watch: %v\n%s", err, out.String())
		}
		if want := "Received: spoken at once\nRemote end closed connection; exiting.\n"; out.String() != want {
			t.Errorf("watch printed %q, want %q", out.String(), want)
		}
	})
}

// batchConn holds what is written until the next Read or flush, then
// writes it in one go: so the records that crypto/tls writes one by one
// leave in one packet.
type batchConn struct {
	net.Conn
	mu   sync.Mutex
	held []byte
}

func (c *batchConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.held = append(c.held, p...)
	return len(p), nil
}

// SetWriteDeadline is ignored: crypto/tls's CloseWrite sets one in the
// past once its alert is written, here before flush writes it.
func (c *batchConn) SetWriteDeadline(time.Time) error { return nil }

func (c *batchConn) Read(p []byte) (int, error) {
	if err := c.flush(); err != nil {
		return 0, err
	}
	return c.Conn.Read(p)
}

func (c *batchConn) flush() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, err := c.Conn.Write(c.held)
	c.held = nil
	return err
}

// A TLS client fails with the reason: a certificate it cannot trust (or
// for another name), a server that says nothing until --timeout, one that
// is not TLS, one that hangs up. --tls-insecure connects where
// verification failed.
func TestClientsTLSFailures(t *testing.T) {
	pair := newTLSPair(t)
	iomuxtest.ForEachBackend(t, func(t *testing.T, backend string) {
		// Started here, so that the leak check counts their connections
		// closed: the servers close theirs after the client gives up.
		echo := srvStartTLS(t, runEchoServer, pair)
		silent := startPeerServer(t, func(c net.Conn) { io.Copy(io.Discard, c) })
		plain := startPeerEcho(t, nil)
		hangUp := startPeerServer(t, func(c net.Conn) { c.Read(make([]byte, 1)) })
		for _, tc := range []struct {
			name string
			args []string
			want string
		}{
			{"system roots", []string{"--addr", echo.addr, "--tls"}, "certificate signed by unknown authority"},
			{"another name", pair.trusting("--addr", echo.addr, "--tls-server-name", "other.example"), "not other.example"},
			{"silent server", []string{"--addr", silent.addr(), "--tls", "--tls-insecure", "--timeout", "100ms"}, "not done within 100ms"},
			{"plain server", []string{"--addr", plain.addr(), "--tls", "--tls-insecure"}, "TLS handshake with " + plain.addr() + ": tls: "},
			{"server hangs up", []string{"--addr", hangUp.addr(), "--tls", "--tls-insecure"}, "TLS handshake with " + hangUp.addr() + ": "},
		} {
			var out bytes.Buffer
			err := runEchoClient(testEnv(&out, io.Discard), slices.Concat(tc.args, []string{"--backend", backend}))
			if err == nil || errors.Is(err, errUsage) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("%s: echo-client %q = %v, want an error with %q", tc.name, tc.args, err, tc.want)
			}
		}
		var out bytes.Buffer
		if err := runEchoClient(testEnv(&out, io.Discard), []string{"--addr", echo.addr, "--tls", "--tls-insecure", "--backend", backend}); err != nil {
			t.Fatalf("echo-client --tls-insecure: %v", err)
		}
		checkEchoOutput(t, out.String(), 2, multiclientMessages)
	})
}

// The TLS flags go with --tls, --tls-ca and --tls-insecure exclude each
// other (usage errors); an unusable --tls-ca is an error that names it.
func TestClientTLSFlagErrors(t *testing.T) {
	pair := newTLSPair(t)
	missing := iomuxtest.TempDir(t) + "/missing.pem"
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--tls-ca", pair.cert}, 2, "--tls-ca goes with --tls"},
		{[]string{"--tls-insecure"}, 2, "--tls-insecure goes with --tls"},
		{[]string{"--tls-server-name", "x"}, 2, "--tls-server-name goes with --tls"},
		{[]string{"--tls-min", "1.3"}, 2, "--tls-min goes with --tls"},
		{pair.trusting("--tls-insecure"), 2, "--tls-ca and --tls-insecure exclude each other"},
		{[]string{"--tls", "--tls-min", "1.0"}, 2, "want 1.2 or 1.3"},
		{[]string{"--tls", "--tls-ca", missing}, 1, "--tls-ca: open " + missing},
		{[]string{"--tls", "--tls-ca", pair.key}, 1, "--tls-ca " + pair.key + ": no PEM certificate in it"},
	} {
		for _, prog := range []string{"echo-client", "slow-client", "chat-client", "watch"} {
			code, out, errs := runIomux(append([]string{prog, "--addr", "127.0.0.1:1"}, tc.args...)...)
			if code != tc.code || out != "" || !strings.Contains(errs, tc.want) {
				t.Errorf("iomux %s %q: exit %d, stdout %q, stderr %q; want %d and %q", prog, tc.args, code, out, errs, tc.code, tc.want)
			}
		}
	}
}
