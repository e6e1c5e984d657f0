package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/iomux/iomux"
	"github.com/iomux/iomux/internal/iomuxtest"
)

// The Python select tutorials' multiclient pattern, by hand: two sockets, each part sent on
// both, then each echo read back in full before the next part.
func TestEchoServerMulticlient(t *testing.T) {
	iomuxtest.ForEachBackend(t, func(t *testing.T, backend string) {
		s := srvStart(t, runEchoServer, "--backend", backend, "--loops", "2", "-v")
		socks := []net.Conn{srvDial(t, s.addr), srvDial(t, s.addr)}
		for _, part := range multiclientMessages {
			for _, c := range socks {
				if _, err := io.WriteString(c, part); err != nil {
					t.Fatal(err)
				}
			}
			for _, c := range socks {
				got := make([]byte, len(part))
				c.SetReadDeadline(time.Now().Add(srvWait))
				if _, err := io.ReadFull(c, got); err != nil {
					t.Fatalf("reading the echo of %q: %v", part, err)
				}
				if string(got) != part {
					t.Fatalf("echo %q, want %q", got, part)
				}
			}
		}
		for _, c := range socks {
			c.Close()
		}
		s.errs.WaitFor(t, "after reading no data", 2)
		for _, words := range []string{"starting up on 127.0.0.1 port ", "waiting for the next event",
			"new connection from 127.0.0.1:", `received "This is the message. " from 127.0.0.1:`,
			`sending "in parts." to 127.0.0.1:`, "output queue for 127.0.0.1:"} {
			if !strings.Contains(s.errs.String(), words) {
				t.Errorf("-v trace lacks %q:\n%s", words, s.errs)
			}
		}
	})
}

// Our echo-client and slow-client (the tutorials' clients on a Selector)
// against our echo-server.
func TestEchoServerWithOurClients(t *testing.T) {
	iomuxtest.ForEachBackend(t, func(t *testing.T, backend string) {
		s := srvStart(t, runEchoServer, "--backend", backend, "--timeout", "20ms", "-v")
		var out, errs bytes.Buffer
		if err := runEchoClient(testEnv(&out, &errs), []string{"--addr", s.addr, "--conns", "3"}); err != nil {
			t.Fatalf("echo-client: %v\n%s%s", err, out.String(), errs.String())
		}
		out.Reset()
		if err := runSlowClient(testEnv(&out, &errs), []string{"--addr", s.addr, "--pause", "50ms"}); err != nil {
			t.Fatalf("slow-client: %v\n%s%s", err, out.String(), errs.String())
		}
		s.errs.WaitFor(t, "  timed out, do some other work here", 2)
	})
}

// The Python select tutorials' slow client pattern: parts sent with pauses, the echo read
// back 16 bytes at a time; with --timeout the idle loop reports itself.
func TestEchoServerSlowClient(t *testing.T) {
	iomuxtest.ForEachBackend(t, func(t *testing.T, backend string) {
		s := srvStart(t, runEchoServer, "--backend", backend, "--timeout", "10ms", "-v")
		c := srvDial(t, s.addr)
		s.errs.WaitFor(t, "timed out, do some other work here", 1)
		for _, part := range slowMessages {
			if _, err := io.WriteString(c, part); err != nil {
				t.Fatal(err)
			}
			s.errs.WaitFor(t, fmt.Sprintf("sending %q", part), 1) // the server echoed it while we dawdle
		}
		want := strings.Join(slowMessages, "")
		var got []byte
		buf := make([]byte, 16)
		c.SetReadDeadline(time.Now().Add(srvWait))
		for len(got) < len(want) {
			n, err := c.Read(buf)
			if err != nil {
				t.Fatalf("after %q: %v", got, err)
			}
			got = append(got, buf[:n]...)
		}
		if string(got) != want {
			t.Fatalf("echo %q, want %q", got, want)
		}
		count := strings.Count(s.errs.String(), "timed out, do some other work here")
		s.errs.WaitFor(t, "timed out, do some other work here", count+1) // idle again after the echo
	})
}

// Many clients, each sending a large random stream in random pieces and
// half-closing: each must get back exactly its stream, then EOF, so
// nothing queued is dropped at EOF even when the client reads late.
func TestEchoServerExactUnderLoad(t *testing.T) {
	iomuxtest.ForEachBackend(t, func(t *testing.T, backend string) {
		s := srvStart(t, runEchoServer, "--backend", backend, "--loops", "2")
		const clients, size = 12, 512 << 10
		var wg sync.WaitGroup
		errs := make(chan error, clients)
		for i := range clients {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs <- srvEchoStream(s.addr, uint64(i), size, i%2 == 0)
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Error(err)
			}
		}
	})
}

// srvEchoStream sends size random bytes to an echo server in random
// pieces, half-closes, and checks the echo. With late, it reads nothing
// until half is sent, so echoes pile up in the socket buffers and the
// server's queue meanwhile.
func srvEchoStream(addr string, id uint64, size int, late bool) error {
	c, err := net.DialTimeout("tcp", addr, srvWait)
	if err != nil {
		return err
	}
	defer c.Close()
	return srvEchoOver(c, id, size, late)
}

// srvEchoOver is srvEchoStream over a connection the caller made (TLS,
// say) and closes.
func srvEchoOver(c net.Conn, id uint64, size int, late bool) error {
	c.SetDeadline(time.Now().Add(srvWait))
	rng := rand.New(rand.NewPCG(id, 7))
	data := make([]byte, size)
	rand.NewChaCha8([32]byte{byte(id)}).Read(data)
	type echoed struct {
		b   []byte
		err error
	}
	got := make(chan echoed, 1)
	reading := false
	read := func() {
		reading = true
		go func() {
			b, err := io.ReadAll(c)
			got <- echoed{b, err}
		}()
	}
	if !late {
		read()
	}
	for rest := data; len(rest) > 0; {
		if !reading && len(rest) <= size/2 {
			read() // late, but not so late that both sides' buffers fill up
		}
		n := min(len(rest), 1+rng.IntN(64<<10))
		if _, err := c.Write(rest[:n]); err != nil {
			return fmt.Errorf("client %d (late %v): write at %d of %d: %v", id, late, size-len(rest), size, err)
		}
		rest = rest[n:]
	}
	c.(interface{ CloseWrite() error }).CloseWrite() // TCP's FIN, or TLS's close_notify
	echo := <-got
	if echo.err != nil || !bytes.Equal(echo.b, data) {
		return fmt.Errorf("client %d (late %v): echo of %d bytes differs: got %d bytes, %v", id, late, size, len(echo.b), echo.err)
	}
	return nil
}

// Past descriptor 1023, select cannot watch a connection and the loop
// closes it at once, before OnOpen: every server says so on stderr (the
// loop's warning, with the advice to use poll or epoll), at most once a
// second, and carries on without reporting a connection it never opened
// (log-server used to panic on it, time-server to report its "disconnect").
func TestServersWarnWhenSelectCannotWatchFD(t *testing.T) {
	skipOnWindows(t, "Winsock's select has no FD_SETSIZE bound on descriptor values")
	if !slices.Contains(iomux.Backends(), "select") {
		t.Skip("no select backend")
	}
	for _, tc := range []struct {
		name string
		run  func(*env, []string) error
	}{
		{"echo-server", runEchoServer}, {"chat-server", runChatServer},
		{"log-server", runLogServer}, {"time-server", runTimeServer},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := srvStart(t, tc.run, "--backend", "select")
			srvFillFDs(t, 1024) // the next descriptor, here and in the server, is past select's
			const clients = 5
			start := time.Now()
			for range clients {
				c := srvDial(t, s.addr)
				c.SetReadDeadline(time.Now().Add(srvWait))
				if n, err := c.Read(make([]byte, 1)); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
					t.Fatalf("read %d bytes, %v; want the server to hang up", n, err)
				}
			}
			const warning = "loop: connection dropped: the Selector cannot watch it"
			s.errs.WaitFor(t, warning, 1)
			if !strings.Contains(s.errs.String(), "use the poll or epoll backend") {
				t.Errorf("the warning does not say what to use instead:\n%s", s.errs)
			}
			if n, most := strings.Count(s.errs.String(), warning), 1+int(time.Since(start)/time.Second); n > most {
				t.Errorf("%d warnings for %d clients in %v, want at most one a second:\n%s", n, clients, time.Since(start), s.errs)
			}
			for _, unwanted := range []string{"disconnected", "offline", "Got "} {
				if strings.Contains(s.out.String(), unwanted) {
					t.Errorf("a connection never opened was reported (%q):\n%s", unwanted, s.out)
				}
			}
		})
	}
}

// srvFillFDs opens /dev/null until the descriptors below limit are all in
// use; they are closed at cleanup. It skips the test if the process may
// not open that many.
func srvFillFDs(t *testing.T, limit int) {
	t.Helper()
	var files []*os.File
	t.Cleanup(func() {
		for _, f := range files {
			f.Close()
		}
	})
	for {
		f, err := os.Open(os.DevNull)
		if err != nil {
			t.Skipf("cannot open %d descriptors: %v", limit, err)
		}
		files = append(files, f)
		if int(f.Fd()) >= limit-1 {
			return
		}
	}
}
