package chat

// Test helpers: a chat server on an ephemeral port, and connections to
// it. What cmd/iomux's tests of chat-server the program need too is in
// packages of its own: members of a room (chattest), the lines they
// receive and output to wait on (linetest), the leak check and the
// backends (iomuxtest), an embedded NATS server (natstest).

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/iomux/iomux/internal/linetest"
	"github.com/iomux/iomux/internal/sock"
	"github.com/iomux/iomux/loop"
)

// testWait bounds every wait in these tests, as it does linetest's.
const testWait = linetest.Timeout

// running is a chat server running in this process.
type running struct {
	srv       *Server
	addr      string
	out, errs *linetest.Output // its notes (Config.Log) and its loop's log
	stop      func() error     // graceful stop, then Close (also done at cleanup); returns Stop's error
}

// start runs a chat server made from cfg on 127.0.0.1 and an ephemeral
// port, on the auto backend. Cleanup stops it and checks that it stopped
// cleanly.
func start(t testing.TB, cfg Config) *running {
	t.Helper()
	return startOn(t, "auto", cfg)
}

// startOn is start on backend.
func startOn(t testing.TB, backend string, cfg Config) *running {
	t.Helper()
	s := &running{out: new(linetest.Output), errs: new(linetest.Output)}
	cfg.Log = s.out
	srv, err := NewServer(cfg, loop.Options{Backend: backend, Logger: slog.New(slog.NewTextHandler(s.errs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Listen("tcp", "127.0.0.1:0"); err != nil {
		srv.Close()
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		srv.Close()
		t.Fatal(err)
	}
	s.srv, s.addr = srv, srv.Addrs()[0].String()
	var once sync.Once
	var stopErr error
	s.stop = func() error {
		once.Do(func() {
			// As chat-server stops: queued output gets 5 s to drain.
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			stopErr = srv.Stop(ctx)
			if errors.Is(stopErr, context.DeadlineExceeded) {
				stopErr = nil
			}
			srv.Close()
		})
		return stopErr
	}
	t.Cleanup(func() {
		if err := s.stop(); err != nil {
			t.Errorf("server: %v\nlog:\n%s", err, s.errs)
		}
	})
	return s
}

// dial connects to addr; the connection is closed at cleanup.
func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	return dialWith(t, addr, nil)
}

// dialSmallWindow is dial with a 4 KiB receive buffer (smallWindow).
func dialSmallWindow(t *testing.T, addr string) net.Conn {
	t.Helper()
	return dialWith(t, addr, smallWindow)
}

func dialWith(t *testing.T, addr string, control func(network, address string, rc syscall.RawConn) error) net.Conn {
	t.Helper()
	d := net.Dialer{Timeout: testWait, Control: control}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// smallWindow is a net.Dialer's or net.ListenConfig's Control that gives
// the socket a 4 KiB receive buffer, so that what its reader does not
// read waits in the sender sooner.
func smallWindow(_, _ string, rc syscall.RawConn) error {
	return rc.Control(func(fd uintptr) { sock.SetBuffers(int(fd), 4096, 0) })
}
