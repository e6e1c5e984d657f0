package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the run if any test leaves a goroutine behind; each test
// that opens connections checks its descriptors with noFDLeak.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// noFDLeak fails t if, once its later cleanups have run, the process has
// another number of open descriptors than now. Call it first.
func noFDLeak(t *testing.T) {
	before := len(fdEntries(t))
	t.Cleanup(func() {
		if after := len(fdEntries(t)); !t.Failed() && after != before {
			t.Errorf("%d descriptors open after the test, %d before", after, before)
		}
	})
}

func fdEntries(t *testing.T) []os.DirEntry {
	ents, err := os.ReadDir("/proc/self/fd") // bench measures on Linux only
	if err != nil {
		t.Fatal(err)
	}
	return ents
}

// echoServer runs a goroutine-per-connection echo server on an ephemeral
// loopback port until the test ends. corrupt, if set, alters each chunk
// before it is echoed.
func echoServer(t *testing.T, corrupt func([]byte)) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	serveEcho(t, ln, corrupt)
	return ln.Addr().String()
}

// serveEcho echoes on every connection ln accepts (corrupting, as
// echoServer says) until the test ends.
func serveEcho(t *testing.T, ln net.Listener, corrupt func([]byte)) {
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	echo := func(c net.Conn) {
		defer wg.Done()
		buf := make([]byte, 32<<10)
		for {
			n, err := c.Read(buf)
			if n > 0 && corrupt != nil {
				corrupt(buf[:n])
			}
			if _, werr := c.Write(buf[:n]); err != nil || werr != nil {
				return
			}
		}
	}
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Add(1)
			go echo(c)
		}
	})
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
}

// loadJSON runs the load generator with --json and decodes its line.
func loadJSON(t *testing.T, args ...string) (echoResult, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := runLoad(append(args, "--json"), &out, &errOut)
	var res echoResult
	if jerr := json.Unmarshal(out.Bytes(), &res); jerr != nil {
		t.Fatalf("output %q (stderr %q) is not one JSON line: %v (run error: %v)", out.String(), errOut.String(), jerr, err)
	}
	return res, err
}

func TestVerifiesEveryByte(t *testing.T) {
	noFDLeak(t)
	addr := echoServer(t, nil)
	pid := strconv.Itoa(os.Getpid()) // the test process is the server: its /proc entries exist
	for _, tc := range []struct {
		name   string
		driver string
		args   []string
		mode   string
	}{
		{"pingpong", "selector", []string{"--conns", "8", "--size", "64"}, "pingpong"},
		{"pipelined", "selector", []string{"--conns", "4", "--size", "100", "--pipeline", "16"}, "pipeline"},
		{"large", "selector", []string{"--conns", "2", "--size", "100000"}, "pingpong"},
		{"old name epoll", "epoll", []string{"--conns", "2", "--size", "64"}, "pingpong"},
		{"goroutines", "goroutines", []string{"--conns", "4", "--size", "64", "--pipeline", "4"}, "pipeline"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"--addr", addr, "--duration", "300ms", "--warmup", "50ms",
				"--driver", tc.driver, "--server-pid", pid}, tc.args...)
			res, err := loadJSON(t, args...)
			if err != nil {
				t.Fatalf("loadgen: %v", err)
			}
			if res.Mode != tc.mode || res.RoundTrips == 0 || res.RTPerSec <= 0 || res.MBPerSec <= 0 {
				t.Fatalf("nothing measured: %+v", res)
			}
			if want := strings.Replace(tc.driver, "epoll", "selector", 1); res.Driver != want {
				t.Errorf("driver %q, want %q", res.Driver, want)
			}
			if res.Errors != 0 || res.Mismatches != 0 {
				t.Fatalf("errors %d, mismatches %d against a correct server", res.Errors, res.Mismatches)
			}
			if !(0 < res.P50us && res.P50us <= res.P99us && res.P99us <= res.P999us) {
				t.Fatalf("latency quantiles out of order: %+v", res)
			}
			if res.ServerRSSKiB <= 0 || res.ServerCPUUsPerRT < 0 {
				t.Fatalf("server figures missing: %+v", res)
			}
			if res.RoundTrips%int64(res.Pipeline) != 0 {
				t.Fatalf("%d messages is not whole batches of %d", res.RoundTrips, res.Pipeline)
			}
		})
	}
}

func TestCountsMismatches(t *testing.T) {
	noFDLeak(t)
	// Flip one bit in every chunk: lengths stay right, contents do not
	// (over TLS, the records are valid, the plaintext is not).
	flip := func(b []byte) { b[len(b)/2] ^= 0x20 }
	servers := []struct{ name, addr, tls string }{
		{"plain", echoServer(t, flip), "--tls=false"},
		{"TLS", tlsEchoServer(t, flip).addr, "--tls"},
	}
	for _, srv := range servers {
		for _, driver := range []string{driverSelector, driverGoroutines} {
			t.Run(srv.name+"/"+driver, func(t *testing.T) {
				res, err := loadJSON(t, "--addr", srv.addr, srv.tls, "--conns", "3", "--size", "64",
					"--duration", "200ms", "--warmup", "0s", "--driver", driver)
				if err == nil || !strings.Contains(err.Error(), "mismatch") {
					t.Fatalf("want a mismatch error, got %v", err)
				}
				if res.Mismatches == 0 {
					t.Fatalf("corrupted echoes not counted: %+v", res)
				}
			})
		}
	}
}

func TestExitStatus(t *testing.T) {
	noFDLeak(t)
	corrupting := echoServer(t, func(b []byte) { b[0]++ })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()
	silent, err := net.Listen("tcp", "127.0.0.1:0") // the kernel accepts; nothing ever answers
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	for _, tc := range []struct {
		name   string
		args   []string
		code   int
		stdout string
		stderr string
	}{
		{"mismatches", []string{"--addr", corrupting, "--conns", "1", "--duration", "100ms", "--warmup", "0s", "--json"}, 1, `"mismatches":`, "content mismatches"},
		{"server gone", []string{"--addr", closed, "--conns", "1", "--duration", "100ms"}, 1, "", "connection 1 of 1: "},
		{"never answers", []string{"--addr", silent.Addr().String(), "--conns", "1", "--duration", "100ms", "--warmup", "0s"}, 1, "0 round trips/s", "0 round trips in 100ms: "},
		{"usage", []string{"--conns", "x"}, 2, "", "Run 'loadgen --help' for usage."},
		{"help", []string{"--help"}, 0, "Usage: loadgen [flags]", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			code := run(tc.args, &out, &errOut)
			if code != tc.code || !strings.Contains(out.String(), tc.stdout) || !strings.Contains(errOut.String(), tc.stderr) {
				t.Fatalf("exit status %d (want %d), stdout %q (want %q in it), stderr %q (want %q in it)",
					code, tc.code, out.String(), tc.stdout, errOut.String(), tc.stderr)
			}
		})
	}
}

func TestIdle(t *testing.T) {
	noFDLeak(t)
	addr := echoServer(t, nil)
	res, err := loadJSON(t, "--addr", addr, "--idle", "50", "--hold", "10ms", "--server-pid", strconv.Itoa(os.Getpid()))
	if err != nil {
		t.Fatal(err)
	}
	if res.Mode != "idle" || res.RoundTrips != 50 || res.IdleRSSAfterKiB <= 0 {
		t.Fatalf("idle: want 50 echoes and an RSS, got %+v", res)
	}
}

// TestBadFlags checks that each bad command line is a usage error (exit
// status 2), found before any connection is opened.
func TestBadFlags(t *testing.T) {
	bad := []string{"--conns 0", "--size 0", "--pipeline 0", "--duration 0s", "--driver threads",
		"--syscalls", "--addr 127.0.0.1", "--addr 127.0.0.1:1 extra",
		"--handshakes -1", "--handshakes 2 --idle 5", "--handshakes 2 --pipeline 4", "--tls-ca /nonexistent/ca.pem",
		"--tls-ca main.go"}
	for _, line := range bad {
		var stderr strings.Builder
		if code := run(strings.Fields(line), io.Discard, &stderr); code != 2 || !strings.Contains(stderr.String(), "--help") {
			t.Errorf("loadgen %s: exit status %d, stderr %q; want 2 and a pointer to --help", line, code, stderr.String())
		}
	}
}
