package main

// The servers with --tls-cert and --tls-key, against Go's crypto/tls
// client (TLS 1.2 and 1.3), openssl s_client and Python's ssl module (the
// tutorials' clients, wrapped); their -v trace and usage errors. The
// helpers here (certificates, TLS dials, openssl) serve the clients' TLS
// tests too.

import (
	"crypto/tls"
	"crypto/x509"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/iomux/iomux/internal/chat/chattest"
	"github.com/iomux/iomux/internal/devcert"
	"github.com/iomux/iomux/internal/iomuxtest"
	"github.com/iomux/iomux/internal/linetest"
	"github.com/iomux/iomux/internal/python"
)

// tlsVersions are the versions every TLS session is tried with.
var tlsVersions = []uint16{tls.VersionTLS12, tls.VersionTLS13}

// tlsPair is a development certificate for localhost, 127.0.0.1 and ::1,
// written to the test's temporary directory, and a pool that trusts it.
type tlsPair struct {
	cert, key string
	pool      *x509.CertPool
}

func newTLSPair(t *testing.T) tlsPair {
	t.Helper()
	certPEM, keyPEM, err := devcert.Generate([]string{"localhost", "127.0.0.1", "::1"}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	dir := iomuxtest.TempDir(t)
	p := tlsPair{cert: filepath.Join(dir, "cert.pem"), key: filepath.Join(dir, "key.pem"), pool: x509.NewCertPool()}
	if err := os.WriteFile(p.cert, certPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p.key, keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	p.pool.AppendCertsFromPEM(certPEM)
	return p
}

// serving is a server's flags that serve TLS with the pair, after args.
func (p tlsPair) serving(args ...string) []string {
	return append(args, "--tls-cert", p.cert, "--tls-key", p.key)
}

// trusting is a client's flags that connect with TLS trusting the pair,
// after args.
func (p tlsPair) trusting(args ...string) []string {
	return append(args, "--tls", "--tls-ca", p.cert)
}

// config is a server's tls.Config for the pair, at most version (0: any).
func (p tlsPair) config(t *testing.T, version uint16) *tls.Config {
	t.Helper()
	cert, err := tls.LoadX509KeyPair(p.cert, p.key)
	if err != nil {
		t.Fatal(err)
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, MaxVersion: version}
}

// plainAndTLS runs f as two subtests, "plain" and "TLS": server and
// client are the flags that make a server and a client use TLS (none for
// plain), to append the others to (each append copies them).
func plainAndTLS(t *testing.T, f func(t *testing.T, server, client []string)) {
	t.Run("plain", func(t *testing.T) { f(t, nil, nil) })
	pair := newTLSPair(t)
	t.Run("TLS", func(t *testing.T) { f(t, slices.Clip(pair.serving()), slices.Clip(pair.trusting())) })
}

// srvDialTLS connects to addr with crypto/tls at exactly version, trusting
// the pair, and checks what was negotiated; closed at cleanup.
func srvDialTLS(t *testing.T, addr string, p tlsPair, version uint16) *tls.Conn {
	t.Helper()
	config := &tls.Config{RootCAs: p.pool, ServerName: "127.0.0.1", MinVersion: version, MaxVersion: version}
	c := tls.Client(srvDial(t, addr), config)
	c.SetDeadline(time.Now().Add(srvWait))
	if err := c.Handshake(); err != nil {
		t.Fatalf("TLS handshake with %s: %v", addr, err)
	}
	c.SetDeadline(time.Time{})
	if v := c.ConnectionState().Version; v != version {
		t.Fatalf("negotiated %s, want %s", tls.VersionName(v), tls.VersionName(version))
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// srvStartTLS runs a server program with TLS and checks it says so.
func srvStartTLS(t *testing.T, run func(*env, []string) error, p tlsPair, args ...string) *srvRunning {
	t.Helper()
	s := srvStart(t, run, p.serving(args...)...)
	s.errs.WaitFor(t, "starting up on "+hostAndPort(s.addr)+" (TLS)\n", 1) // stderr is written by a goroutine of its own
	return s
}

// echo-server over TLS: a random stream in random pieces comes back byte
// for byte, then close_notify both ways: 16 MiB once, 1 MiB on every
// backend with each version (under -race, crypto/tls is the slow part).
func TestEchoServerTLSExact(t *testing.T) {
	iomuxtest.CheckLeaks(t)
	pair := newTLSPair(t)
	s := srvStartTLS(t, runEchoServer, pair, "--loops", "2")
	if err := srvEchoOver(srvDialTLS(t, s.addr, pair, tls.VersionTLS13), 16, 16<<20, false); err != nil {
		t.Error(err)
	}
	iomuxtest.ForEachBackend(t, func(t *testing.T, backend string) {
		s := srvStartTLS(t, runEchoServer, pair, "--backend", backend, "--loops", "2")
		for i, v := range tlsVersions {
			if err := srvEchoOver(srvDialTLS(t, s.addr, pair, v), uint64(i), 1<<20, i == 0); err != nil {
				t.Errorf("%s: %v", tls.VersionName(v), err)
			}
		}
	})
}

// chat-server, log-server and time-server: a basic session each, over TLS.
func TestServersTLSSessions(t *testing.T) {
	pair := newTLSPair(t)
	iomuxtest.ForEachBackend(t, func(t *testing.T, backend string) {
		chat := srvStartTLS(t, runChatServer, pair, "--backend", backend)
		logs := srvStartTLS(t, runLogServer, pair, "--backend", backend)
		ticks := srvStartTLS(t, runTimeServer, pair, "--backend", backend, "--interval", "20ms")
		for _, v := range tlsVersions {
			t.Run(tls.VersionName(v), func(t *testing.T) {
				a := chattest.JoinOver(t, srvDialTLS(t, chat.addr, pair, v))
				b := chattest.JoinOver(t, srvDialTLS(t, chat.addr, pair, v))
				a.Lines.Expect(t, "* ["+b.Name+"] entered room")
				a.Say(t, "hello over tls\n")
				b.Lines.Expect(t, "["+a.Name+"] hello over tls")
				a.Quit(t, "/quit\n", b)

				c := srvDialTLS(t, logs.addr, pair, v)
				name := c.LocalAddr().String()
				io.WriteString(c, "a logged line\nand a partial one")
				logs.out.WaitFor(t, name+": a logged line\n", 1)
				c.Close() // close_notify: the partial line is logged, then the disconnect
				logs.out.WaitFor(t, name+": and a partial one\n", 1)
				logs.out.WaitFor(t, name+" disconnected\n", 1)

				tc := srvDialTLS(t, ticks.addr, pair, v)
				lines := linetest.ReadLines(t, tc)
				for range 2 {
					if line := lines.Next(t); !isAsctime(line) {
						t.Fatalf("tick %q is not asctime", line)
					}
				}
			})
		}
	})
}

func isAsctime(line string) bool {
	_, err := time.Parse(time.ANSIC, line)
	return err == nil
}

// With TLS, -v shows the handshake's outcome, the records' sizes (never
// the plaintext), the EOF and the close; a handshake that fails (plain
// text to the TLS port) is traced too.
func TestServerTLSVerbose(t *testing.T) {
	iomuxtest.CheckLeaks(t)
	pair := newTLSPair(t)
	s := srvStartTLS(t, runEchoServer, pair, "-v")
	c := srvDialTLS(t, s.addr, pair, tls.VersionTLS13)
	name := c.LocalAddr().String()
	io.WriteString(c, "secret words")
	io.ReadFull(c, make([]byte, len("secret words")))
	c.Close()
	s.errs.WaitFor(t, "closed connection from "+name, 1)

	plain := srvDial(t, s.addr)
	io.WriteString(plain, "GET / HTTP/1.0\r\n\r\n")
	s.errs.WaitFor(t, "TLS handshake with "+plain.LocalAddr().String()+" failed: ", 1)

	srvExpectTrace(t, s.errs.String(), "\nwaiting for the next event\n",
		"new connection from "+name+" (TLS 1.3, TLS_", " bytes (TLS) from "+name,
		" bytes (TLS) to "+name, "closing "+name+" after reading no data")
	if strings.Contains(s.errs.String(), "secret") {
		t.Errorf("the trace shows the plaintext:\n%s", s.errs)
	}
	if strings.Contains(s.errs.String(), "level=") {
		t.Errorf("the loop's Debug records leak into the trace:\n%s", s.errs)
	}
}

// The TLS flags' mistakes: usage errors for a flag without its partner;
// for files that cannot be used, an error that names them.
func TestServerTLSFlagErrors(t *testing.T) {
	pair, other := newTLSPair(t), newTLSPair(t)
	missing := filepath.Join(iomuxtest.TempDir(t), "missing.pem")
	for _, tc := range []struct {
		args       []string
		code       int
		wantStderr []string
	}{
		{[]string{"--tls-cert", pair.cert}, 2, []string{"--tls-cert and --tls-key go together"}},
		{[]string{"--tls-key", pair.key}, 2, []string{"--tls-cert and --tls-key go together"}},
		{[]string{"--tls-min", "1.3"}, 2, []string{"--tls-min needs --tls-cert"}},
		{pair.serving("--tls-min", "1.1"), 2, []string{"want 1.2 or 1.3"}},
		{[]string{"--tls-cert", missing, "--tls-key", pair.key}, 1, []string{"--tls-cert: open " + missing}},
		{[]string{"--tls-cert", pair.cert, "--tls-key", missing}, 1, []string{"--tls-key: open " + missing}},
		{[]string{"--tls-cert", pair.cert, "--tls-key", other.key}, 1, []string{pair.cert, other.key, "private key does not match"}},
		{[]string{"--tls-cert", pair.key, "--tls-key", pair.key}, 1, []string{pair.key, "certificate"}},
	} {
		for _, prog := range []string{"echo-server", "chat-server", "log-server", "time-server"} {
			code, out, errs := runIomux(append([]string{prog, "--addr", "127.0.0.1:0"}, tc.args...)...)
			if code != tc.code || out != "" {
				t.Errorf("iomux %s %q: exit %d, stdout %q; want %d", prog, tc.args, code, out, tc.code)
			}
			for _, want := range tc.wantStderr {
				if !strings.Contains(errs, want) {
					t.Errorf("iomux %s %q: stderr %q lacks %q", prog, tc.args, errs, want)
				}
			}
		}
	}
}

// openssl s_client (Debian's openssl) against echo-server: a line comes
// back, with TLS 1.2 and 1.3, the certificate verified; closing stdin
// sends close_notify. Skipped without openssl.
func TestEchoServerTLSOpenSSLClient(t *testing.T) {
	openssl := needOpenSSL(t)
	pair := newTLSPair(t)
	s := srvStartTLS(t, runEchoServer, pair)
	for _, version := range []string{"-tls1_2", "-tls1_3"} {
		t.Run(version, func(t *testing.T) {
			iomuxtest.CheckLeaks(t)
			cmd := exec.Command(openssl, "s_client", "-connect", s.addr, version, "-CAfile", pair.cert,
				"-verify_ip", "127.0.0.1", "-verify_return_error", "-brief", "-no_ign_eof")
			out, errs := new(linetest.Output), new(linetest.Output)
			stdin := startTool(t, cmd, out, errs)
			io.WriteString(stdin, "hello from openssl\n")
			out.WaitFor(t, "hello from openssl\n", 1)
			stdin.Close()
			if err := cmd.Wait(); err != nil {
				t.Fatalf("openssl s_client: %v\n%s", err, errs)
			}
			want := map[string]string{"-tls1_2": "TLSv1.2", "-tls1_3": "TLSv1.3"}[version]
			for _, line := range []string{"Protocol version: " + want, "Verification: OK"} {
				if !strings.Contains(errs.String(), line) {
					t.Errorf("s_client did not say %q:\n%s", line, errs)
				}
			}
		})
	}
}

// needOpenSSL returns the openssl binary, or skips the test.
func needOpenSSL(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("openssl")
	if err != nil {
		t.Skip("openssl not installed")
	}
	return path
}

// startTool starts cmd with its stdout and stderr going to out and errs,
// and returns its stdin. Cleanup closes stdin and kills the command if it
// is still running.
func startTool(t *testing.T, cmd *exec.Cmd, out, errs io.Writer) io.WriteCloser {
	t.Helper()
	cmd.Stdout, cmd.Stderr = out, errs
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stdin.Close()
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	return stdin
}

// The tutorials' Python clients, unchanged, over TLS: tls_wrap.py wraps
// every socket they make in Python's ssl module, trusting our certificate.
func TestServerInteropPythonTLSClients(t *testing.T) {
	iomuxtest.CheckLeaks(t)
	needPythonSSL(t)
	pair := newTLSPair(t)
	echo := srvStartTLS(t, runEchoServer, pair)
	host, port := srvHostPort(t, echo.addr)
	out := srvPython(t, nil, "tls_wrap.py", pair.cert, python.Script("select_echo_multiclient.py"), host, port).wait(t)
	for _, part := range multiclientMessages {
		if n := strings.Count(out, "received b'"+part+"'"); n != 2 {
			t.Errorf("multiclient over TLS: %d× received %q, want 2:\n%s", n, part, out)
		}
	}
	out = srvPython(t, nil, "tls_wrap.py", pair.cert, python.Script("select_echo_slow_client.py"), host, port, "0.02").wait(t)
	var echoed strings.Builder
	for _, m := range srvPyReceived.FindAllStringSubmatch(out, -1) {
		echoed.WriteString(m[1])
	}
	if want := strings.Join(slowMessages, ""); echoed.String() != want {
		t.Errorf("slow client over TLS: echo %q, want %q:\n%s", echoed.String(), want, out)
	}

	for _, script := range []string{"poll_client.py", "select_client.py"} {
		t.Run(script, func(t *testing.T) {
			s := srvStartTLS(t, runTimeServer, pair, "--interval", "20ms")
			host, port := srvHostPort(t, s.addr)
			py := srvPython(t, nil, "tls_wrap.py", pair.cert, python.Script(script), host, port)
			py.out.WaitFor(t, "Received: ", 2)
			if err := s.stop(); err != nil {
				t.Fatal(err)
			}
			if out := py.wait(t); !strings.Contains(out, "Remote end closed connection; exiting.") {
				t.Errorf("the client did not see the server close:\n%s", out)
			}
		})
	}
}

// needPythonSSL skips the test without python3 or without its ssl module.
func needPythonSSL(t *testing.T) {
	t.Helper()
	python.Need(t)
	if !pythonSSL() {
		t.Skip("python3 has no ssl module")
	}
}

var pythonSSL = sync.OnceValue(func() bool {
	return exec.Command(python.Path(), "-c", "import ssl").Run() == nil
})
