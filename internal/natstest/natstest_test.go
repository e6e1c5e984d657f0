package natstest

import (
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// A server started on no port takes a client on a free one; shut down,
// another starts on the same port, where the client reconnects.
func TestStartAndRestartOnThePort(t *testing.T) {
	ns := Start(t, server.Options{})
	port := Port(ns)
	if port == 0 || port == 4222 {
		t.Fatalf("port %d, want a free one", port)
	}
	reconnected := make(chan struct{}, 1)
	nc, err := nats.Connect(ns.ClientURL(), nats.MaxReconnects(-1), nats.ReconnectWait(10*time.Millisecond),
		nats.ReconnectHandler(func(*nats.Conn) { reconnected <- struct{}{} }))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	ns.Shutdown()
	ns.WaitForShutdown()
	again := Start(t, server.Options{Port: port})
	if Port(again) != port {
		t.Fatalf("started again on port %d, want %d", Port(again), port)
	}
	select {
	case <-reconnected:
	case <-time.After(startWait):
		t.Fatal("the client did not reconnect to the server started again")
	}
}
