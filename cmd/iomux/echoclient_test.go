package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/iomux/iomux/internal/iomuxtest"
)

// checkEchoOutput checks the sending/received lines: one pair per socket
// and part, each received line equal to the part sent.
func checkEchoOutput(t *testing.T, out string, conns int, parts []string) {
	t.Helper()
	for _, part := range parts {
		for _, verb := range []string{"sending", "received"} {
			line := fmt.Sprintf(": %s %q\n", verb, part)
			if got := strings.Count(out, line); got != conns {
				t.Errorf("%d lines %q, want %d; output:\n%s", got, line, conns, out)
			}
		}
	}
}

func TestEchoClientGoServer(t *testing.T) {
	iomuxtest.ForEachBackend(t, func(t *testing.T, backend string) {
		srv := startPeerEcho(t, nil)
		var out, errs bytes.Buffer
		err := runEchoClient(testEnv(&out, &errs), []string{"--addr", srv.addr(), "--backend", backend, "--conns", "3", "-v"})
		if err != nil {
			t.Fatalf("echo-client: %v\n%s", err, errs.String())
		}
		checkEchoOutput(t, out.String(), 3, multiclientMessages)
		if !strings.HasPrefix(out.String(), "connecting to 127.0.0.1 port ") {
			t.Errorf("output does not start with the tutorials' connecting line:\n%s", out.String())
		}
		if !strings.Contains(errs.String(), "waiting for the next event") {
			t.Errorf("-v trace lacks the tutorials' words:\n%s", errs.String())
		}
	})
}

func TestEchoClientMessagesAndLargeParts(t *testing.T) {
	srv := startPeerEcho(t, nil)
	big := strings.Repeat("0123456789abcdef", 16<<10) // 256 KiB: many reads and partial writes
	parts := []string{"one ", big, "three"}
	var out, errs bytes.Buffer
	args := append([]string{"--addr", srv.addr(), "--conns", "4"}, parts...)
	if err := runEchoClient(testEnv(&out, &errs), args); err != nil {
		t.Fatalf("echo-client: %v", err)
	}
	checkEchoOutput(t, out.String(), 4, parts)
}

func TestEchoClientPythonServers(t *testing.T) {
	for _, script := range []string{"select_echo_server.py", "poll_echo_server.py"} {
		t.Run(script, func(t *testing.T) {
			iomuxtest.ForEachBackend(t, func(t *testing.T, backend string) {
				py := startPyPeer(t, script)
				var out, errs bytes.Buffer
				err := runEchoClient(testEnv(&out, &errs), []string{"--addr", py.addr, "--backend", backend})
				if err != nil {
					t.Fatalf("echo-client: %v\nserver said:\n%s", err, py.out)
				}
				checkEchoOutput(t, out.String(), 2, multiclientMessages)
				py.out.WaitFor(t, "received b'in parts.'", 2)
			})
		})
	}
}

func TestEchoClientDetectsCorruptEcho(t *testing.T) {
	iomuxtest.ForEachBackend(t, func(t *testing.T, backend string) {
		srv := startPeerEcho(t, func(b []byte) {
			if i := bytes.IndexByte(b, 'w'); i >= 0 { // "It will be sent "
				b[i] ^= 0x20
			}
		})
		var out, errs bytes.Buffer
		err := runEchoClient(testEnv(&out, &errs), []string{"--addr", srv.addr(), "--backend", backend})
		if err == nil || !strings.Contains(err.Error(), "echo differs") {
			t.Fatalf("echo-client = %v, want an \"echo differs\" error; output:\n%s", err, out.String())
		}
		if !strings.Contains(err.Error(), `"It Will be sent "`) {
			t.Errorf("error does not show the corrupt echo: %v", err)
		}
	})
}

func TestEchoClientServerClosesEarly(t *testing.T) {
	srv := startPeerServer(t, func(c net.Conn) {
		buf := make([]byte, len(multiclientMessages[0]))
		io.ReadFull(c, buf) // all of it, so that closing sends FIN, not RST
		c.Write(buf[:3])    // part of the echo, then gone
	})
	var out, errs bytes.Buffer
	err := runEchoClient(testEnv(&out, &errs), []string{"--addr", srv.addr(), "--conns", "1"})
	if err == nil || !strings.Contains(err.Error(), "server closed the connection early") {
		t.Fatalf("echo-client = %v, want an early-close error", err)
	}
}

func TestEchoClientUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"--conns", "0"},
		{"--backend", "nosuch"},
		{"--addr", "no-port"},
		{"--nosuchflag"},
	} {
		var out, errs bytes.Buffer
		if err := runEchoClient(testEnv(&out, &errs), args); !errors.Is(err, errUsage) {
			t.Errorf("echo-client %q = %v, want a usage error", args, err)
		}
	}
}

func TestEchoClientConnectRefused(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	var out, errs bytes.Buffer
	err = runEchoClient(testEnv(&out, &errs), []string{"--addr", addr})
	if err == nil || errors.Is(err, errUsage) || !strings.Contains(err.Error(), "connect to") {
		t.Fatalf("echo-client to a closed port = %v, want a connect error", err)
	}
}

func TestEchoClientOurEchoServer(t *testing.T) {
	iomuxtest.ForEachBackend(t, func(t *testing.T, backend string) {
		srv := srvStart(t, runEchoServer, "--backend", backend)
		var out, errs bytes.Buffer
		if err := runEchoClient(testEnv(&out, &errs), []string{"--addr", srv.addr, "--backend", backend, "--conns", "5"}); err != nil {
			t.Fatalf("echo-client: %v", err)
		}
		checkEchoOutput(t, out.String(), 5, multiclientMessages)
	})
}

// Flags may follow the messages; after "--", what looks like a flag is a
// message.
func TestEchoClientFlagsAmongMessages(t *testing.T) {
	srv := startPeerEcho(t, nil)
	for _, tc := range []struct {
		args  []string
		conns int
		parts []string
	}{
		{[]string{"hello", "--conns", "3", "world", "--addr", srv.addr()}, 3, []string{"hello", "world"}},
		{[]string{"--addr", srv.addr(), "one", "--", "-x", "--conns", "3"}, 2, []string{"one", "-x", "--conns", "3"}},
	} {
		var out, errs bytes.Buffer
		if err := runEchoClient(testEnv(&out, &errs), tc.args); err != nil {
			t.Fatalf("echo-client %q: %v", tc.args, err)
		}
		checkEchoOutput(t, out.String(), tc.conns, tc.parts)
		if n := strings.Count(out.String(), ": sending "); n != tc.conns*len(tc.parts) {
			t.Errorf("echo-client %q: %d sending lines, want %d (parts %q)", tc.args, n, tc.conns*len(tc.parts), tc.parts)
		}
	}
	var out, errs bytes.Buffer
	if err := runEchoClient(testEnv(&out, &errs), []string{"--addr", srv.addr(), "hi", "--nosuch"}); !errors.Is(err, errUsage) || out.Len() > 0 {
		t.Errorf("an unknown flag after a message: %v, output %q; want a usage error and nothing sent", err, out.String())
	}
}

// What cannot work is a usage error, at once: a --timeout that is not
// positive (negative waited for ever, 0 gave up at once) for every client,
// and an empty MESSAGE part for echo-client (nothing is sent, so no echo
// can come: it waited for --timeout and failed).
func TestClientsRefuseWhatCannotWork(t *testing.T) {
	silent := startPeerServer(t, func(c net.Conn) { io.Copy(io.Discard, c) }) // never answers
	for _, tc := range []struct {
		run  func(*env, []string) error
		args []string
	}{
		{runEchoClient, []string{"--timeout", "-1s"}},
		{runEchoClient, []string{"--timeout", "0s"}},
		{runSlowClient, []string{"--timeout", "-1s", "--pause", "0s"}},
		{runSlowClient, []string{"--timeout", "0s", "--pause", "0s"}},
		{runWatch, []string{"--timeout", "-1s"}},
		{runChatClient, []string{"--timeout", "-1s"}},
		{runEchoClient, []string{"--timeout", "1s", ""}},
		{runEchoClient, []string{"--timeout", "1s", "a", "", "b"}},
	} {
		done := make(chan error, 1)
		var out, errs bytes.Buffer
		go func() { done <- tc.run(testEnv(&out, &errs), append([]string{"--addr", silent.addr()}, tc.args...)) }()
		select {
		case err := <-done:
			if !errors.Is(err, errUsage) {
				t.Errorf("%q: %v, want a usage error", tc.args, err)
			}
		case <-time.After(5 * time.Second):
			t.Errorf("%q: still running after 5 s against a server that never answers, want a usage error", tc.args)
		}
	}
}
