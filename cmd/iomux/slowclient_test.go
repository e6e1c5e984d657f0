package main

import (
	"bytes"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/iomux/iomux/internal/iomuxtest"
)

var receivedLine = regexp.MustCompile(`(?m)^received (".*")$`)

// checkSlowOutput checks that the received lines are reads of at most
// maxRead bytes (slowReadSize; with TLS, a record's) that together are the
// parts sent, in order.
func checkSlowOutput(t *testing.T, out string, parts []string, maxRead int) {
	t.Helper()
	for _, p := range parts {
		if !strings.Contains(out, "sending "+strconv.Quote(p)+"\n") {
			t.Errorf("no sending line for %q:\n%s", p, out)
		}
	}
	var echo strings.Builder
	for _, m := range receivedLine.FindAllStringSubmatch(out, -1) {
		chunk, err := strconv.Unquote(m[1])
		if err != nil {
			t.Fatalf("bad received line %q: %v", m[0], err)
		}
		if len(chunk) == 0 || len(chunk) > maxRead {
			t.Errorf("read of %d bytes, want 1..%d: %q", len(chunk), maxRead, chunk)
		}
		echo.WriteString(chunk)
	}
	if want := strings.Join(parts, ""); echo.String() != want {
		t.Errorf("echo %q, want %q; output:\n%s", echo.String(), want, out)
	}
	if !strings.HasSuffix(out, "closing socket\n") {
		t.Errorf("output does not end with the tutorials' closing line:\n%s", out)
	}
}

func TestSlowClientGoServer(t *testing.T) {
	iomuxtest.ForEachBackend(t, func(t *testing.T, backend string) {
		srv := startPeerEcho(t, nil)
		var out, errs bytes.Buffer
		err := runSlowClient(testEnv(&out, &errs), []string{"--addr", srv.addr(), "--backend", backend, "--pause", "10ms", "-v"})
		if err != nil {
			t.Fatalf("slow-client: %v", err)
		}
		checkSlowOutput(t, out.String(), slowMessages, slowReadSize)
		for _, words := range []string{"waiting for the next event\n", `sending "Part one of the message." to `, `received "Part one of the " from `} {
			if !strings.Contains(errs.String(), words) {
				t.Errorf("-v trace lacks %q:\n%s", words, errs.String())
			}
		}
	})
}

func TestSlowClientPythonTimeoutServer(t *testing.T) {
	iomuxtest.ForEachBackend(t, func(t *testing.T, backend string) {
		py := startPyPeer(t, "select_echo_server.py", "0.05") // with a timeout, as select_echo_server_timeout.py
		var out, errs bytes.Buffer
		err := runSlowClient(testEnv(&out, &errs), []string{"--addr", py.addr, "--backend", backend, "--pause", "30ms"})
		if err != nil {
			t.Fatalf("slow-client: %v\nserver said:\n%s", err, py.out)
		}
		checkSlowOutput(t, out.String(), slowMessages, slowReadSize)
		py.out.WaitFor(t, "received b'Part two of the message.'", 1)
		py.out.WaitFor(t, "timed out, do some other work here", 1)
	})
}

func TestSlowClientDetectsCorruptEcho(t *testing.T) {
	srv := startPeerEcho(t, func(b []byte) { b[len(b)-1] = '!' })
	var out, errs bytes.Buffer
	err := runSlowClient(testEnv(&out, &errs), []string{"--addr", srv.addr(), "--pause", "0s", "abc", "def"})
	if err == nil || !strings.Contains(err.Error(), "echo differs") {
		t.Fatalf("slow-client = %v, want an \"echo differs\" error; output:\n%s", err, out.String())
	}
}

func TestSlowClientOurEchoServer(t *testing.T) {
	iomuxtest.ForEachBackend(t, func(t *testing.T, backend string) {
		srv := srvStart(t, runEchoServer, "--backend", backend, "--timeout", "10ms")
		var out, errs bytes.Buffer
		err := runSlowClient(testEnv(&out, &errs), []string{"--addr", srv.addr, "--backend", backend, "--pause", "20ms"})
		if err != nil {
			t.Fatalf("slow-client: %v", err)
		}
		checkSlowOutput(t, out.String(), slowMessages, slowReadSize)
	})
}

// Flags may follow the messages, as in echo-client.
func TestSlowClientFlagsAmongMessages(t *testing.T) {
	srv := startPeerEcho(t, nil)
	var out, errs bytes.Buffer
	err := runSlowClient(testEnv(&out, &errs), []string{"abc", "--pause", "0s", "def", "--addr", srv.addr(), "--", "-g"})
	if err != nil {
		t.Fatalf("slow-client: %v", err)
	}
	checkSlowOutput(t, out.String(), []string{"abc", "def", "-g"}, slowReadSize)
}
