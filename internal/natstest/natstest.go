// Package natstest runs a NATS server inside a test binary
// (github.com/nats-io/nats-server/v2), for tests of a chat room whose
// nodes meet over NATS; no nats-server need be installed.
package natstest

import (
	"net"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// startWait bounds the wait for a server to take connections: generous,
// since a test may share a loaded machine with many others.
const startWait = 30 * time.Second

// Start runs a NATS server in this process with opts, on 127.0.0.1 and
// without logging or signal handlers (Start sets Host, NoLog and NoSigs).
// A Port of 0 or -1 is a free port (Port gives it); another, that port.
// Start fails the test unless the server takes connections within 30 s;
// cleanup shuts it down and waits, unless the test has already.
func Start(t testing.TB, opts server.Options) *server.Server {
	t.Helper()
	opts.Host, opts.NoLog, opts.NoSigs = "127.0.0.1", true, true
	if opts.Port == 0 {
		opts.Port = -1 // NATS's own 0 is its default port, 4222
	}
	ns, err := server.NewServer(&opts)
	if err != nil {
		t.Fatal(err)
	}
	go ns.Start()
	if !ns.ReadyForConnections(startWait) {
		ns.Shutdown()
		t.Fatal("the NATS server did not start")
	}
	t.Cleanup(func() { ns.Shutdown(); ns.WaitForShutdown() })
	return ns
}

// Port is the port ns listens on: a server started again on it, after ns
// shut down, is the same server to the clients that reconnect.
func Port(ns *server.Server) int { return ns.Addr().(*net.TCPAddr).Port }
