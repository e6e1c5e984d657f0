package loop

import (
	"context"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/iomux/iomux/internal/iomuxtest"
	"github.com/iomux/iomux/internal/sock"
)

// within returns a context that ends after d (or at the test's end).
func within(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// closedPort returns a loopback address nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func TestDialRefused(t *testing.T) { forEachBackend(t, testDialRefused) }

func testDialRefused(t *testing.T, backend string) {
	opened := make(chan *Conn, 1)
	s := startServer(t, &funcHandler{open: func(c *Conn) { notify(opened, c) }}, Options{Loops: 1, Backend: backend}, "", "")
	c, err := s.Dial(within(t, 5*time.Second), "tcp", closedPort(t), nil)
	if err == nil {
		t.Fatalf("Dial to a closed port returned %v, nil", c)
	}
	if !errors.Is(err, errRefused) {
		t.Fatalf("Dial to a closed port: %v, want ECONNREFUSED", err)
	}
	t.Logf("Dial: %v", err)
	select {
	case c := <-opened:
		t.Fatalf("OnOpen ran for a refused Dial (%v)", c.RemoteAddr())
	default:
	}
	if st := s.Stats(); st.Open != 0 || st.Total != 0 {
		t.Fatalf("Stats after a refused Dial: %+v", st)
	}
	if _, err := s.Dial(within(t, time.Second), "udp", "127.0.0.1:1", nil); err == nil {
		t.Fatal("Dial udp succeeded; want an unsupported-network error")
	}
}

// dialer is a client-only Server (no Listen) whose connections pass what
// they receive to the test.
type dialer struct {
	*Server
	data   chan []byte
	closes chan closeEvent
}

func startDialer(t *testing.T, loops int) *dialer {
	d := &dialer{data: make(chan []byte, 4096), closes: make(chan closeEvent, 4)}
	h := &funcHandler{
		data: func(c *Conn) { d.data <- append([]byte(nil), c.Next(-1)...) },
		close: func(c *Conn, err error) {
			notify(d.closes, closeEvent{fmt.Sprint(c.RemoteAddr()), err})
		},
	}
	d.Server = startServer(t, h, Options{Loops: loops}, "", "")
	return d
}

// expect reads what the dialed connections receive until it has n bytes.
func (d *dialer) expect(t *testing.T, n int) []byte {
	t.Helper()
	var got []byte
	for len(got) < n {
		got = append(got, recv(t, d.data, 10*time.Second, "data on the dialed connection")...)
	}
	return got
}

func TestDialEcho(t *testing.T) {
	for _, network := range []string{"tcp", "unix"} {
		t.Run(network, func(t *testing.T) {
			addr := "127.0.0.1:0"
			if network == "unix" {
				skipNoUnix(t)
				addr = filepath.Join(t.TempDir(), "echo.sock")
			}
			srv := startServer(t, echoHandler{}, Options{Loops: 2}, network, addr)
			d := startDialer(t, 2)
			target := srv.Addrs()[0].String()
			for i := range 4 { // over both loops of the dialer
				c, err := d.Dial(within(t, 5*time.Second), network, target, nil)
				if err != nil {
					t.Fatal(err)
				}
				if fmt.Sprint(c.RemoteAddr()) != target {
					t.Fatalf("RemoteAddr = %v, want %s", c.RemoteAddr(), target)
				}
				msg := payload(100 + i*100000)
				if err := c.AsyncWrite(msg); err != nil {
					t.Fatal(err)
				}
				if got := d.expect(t, len(msg)); string(got) != string(msg) {
					t.Fatalf("dialed echo: got %d bytes, want %d", len(got), len(msg))
				}
				if err := c.AsyncClose(); err != nil {
					t.Fatal(err)
				}
				ev := recv(t, d.closes, 5*time.Second, "OnClose")
				if ev.err != nil || ev.peer != target {
					t.Fatalf("OnClose(%s, %v), want (%s, nil)", ev.peer, ev.err, target)
				}
			}
			if st := d.Stats(); st.Total != 4 || st.Open != 0 {
				t.Fatalf("dialer Stats: %+v, want 4 dialed, none open", st)
			}
		})
	}
}

// TestDialTimeout fills a listener's accept queue (listen backlog 0, never
// accepted) so that the kernel drops the next SYN and the connect hangs.
func TestDialTimeout(t *testing.T) {
	target := iomuxtest.HangingAddr(t)
	d := startDialer(t, 1)
	const timeout = 200 * time.Millisecond
	start := time.Now()
	c, err := d.Dial(within(t, timeout), "tcp", target, nil)
	took := time.Since(start)
	if err == nil {
		c.AsyncClose()
		t.Fatalf("Dial to a full accept queue succeeded")
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Dial: %v, want context.DeadlineExceeded", err)
	}
	if took < timeout || took > timeout+lateness {
		t.Fatalf("Dial timed out after %v, timeout %v", took, timeout)
	}
	t.Logf("Dial: %v after %v", err, took)
	if st := d.Stats(); st.Open != 0 {
		t.Fatalf("dialer Stats after the timeout: %+v", st)
	}

	// DialOptions.Timeout bounds it the same, with the loop's timer.
	start = time.Now()
	c, err = d.Dial(context.Background(), "tcp", target, &DialOptions{Timeout: timeout})
	took = time.Since(start)
	if err == nil {
		c.AsyncClose()
		t.Fatalf("Dial to a full accept queue succeeded")
	}
	if !errors.Is(err, ErrTimeout) || took < timeout || took > timeout+lateness {
		t.Fatalf("Dial with DialOptions.Timeout %v: %v after %v, want ErrTimeout", timeout, err, took)
	}
	t.Logf("Dial: %v after %v", err, took)
	if st := d.Stats(); st.Open != 0 {
		t.Fatalf("dialer Stats after the timeout: %+v", st)
	}

	// A Dial with no timeout still ends when its Server stops.
	dialed := make(chan error, 1)
	go func() {
		c, err := d.Dial(context.Background(), "tcp", target, nil)
		if err == nil {
			c.AsyncClose()
		}
		dialed <- err
	}()
	deadline := time.Now().Add(5 * time.Second)
	for d.Stats().Open == 0 { // the connect is under way
		if time.Now().After(deadline) {
			t.Fatal("the Dial never started")
		}
		time.Sleep(time.Millisecond)
	}
	stop(t, d.Server)
	if err := recv(t, dialed, 5*time.Second, "Dial during Stop"); err == nil {
		t.Fatal("a Dial hanging when Stop ran returned no error")
	} else {
		t.Logf("Dial during Stop: %v", err)
	}
}

// TestDialUnixBacklogFull: a Unix listener whose backlog is full refuses a
// non-blocking connect with EAGAIN at once; Dial must report it, not hand
// back an unconnected Conn.
func TestDialUnixBacklogFull(t *testing.T) {
	skipNoUnix(t)
	path := filepath.Join(t.TempDir(), "full.sock")
	_, e := iomuxtest.ListenBacklog0(t, "unix", path)
	full := false
	for range 8 { // fill the backlog until a connect is refused
		c, err := sock.Open(e)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { sock.Close(c) })
		if _, err := sock.Connect(c, e); errors.Is(err, errBacklogFull) {
			full = true
			break
		}
	}
	if !full {
		t.Skip("the backlog never filled")
	}
	d := startDialer(t, 1)
	c, err := d.Dial(within(t, time.Second), "unix", path, nil)
	if err == nil {
		c.AsyncClose()
		t.Fatal("Dial to a full Unix backlog returned a Conn")
	}
	if !errors.Is(err, errBacklogFull) {
		t.Fatalf("Dial: %v, want EAGAIN", err)
	}
	t.Logf("Dial: %v", err)
}
