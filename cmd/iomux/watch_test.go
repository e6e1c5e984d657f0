package main

import (
	"bytes"
	"net"
	"strings"
	"testing"

	"github.com/iomux/iomux/internal/iomuxtest"
	"github.com/iomux/iomux/internal/linetest"
)

func TestWatchPrintsLinesUntilServerCloses(t *testing.T) {
	iomuxtest.ForEachBackend(t, func(t *testing.T, backend string) {
		srv := startPeerServer(t, func(c net.Conn) {
			for _, chunk := range []string{"one\ntwo\nthr", "ee\n", "no newline"} {
				c.Write([]byte(chunk))
			}
		})
		var out, errs bytes.Buffer
		if err := runWatch(testEnv(&out, &errs), []string{"--addr", srv.addr(), "--backend", backend}); err != nil {
			t.Fatalf("watch: %v", err)
		}
		want := "Received: one\nReceived: two\nReceived: three\nReceived: no newline\n" +
			"Remote end closed connection; exiting.\n"
		if out.String() != want {
			t.Errorf("output:\n%q\nwant (no spinner, stdout is not a terminal):\n%q", out.String(), want)
		}
	})
}

func TestWatchReportsProblemOnReset(t *testing.T) {
	iomuxtest.SkipUnderWine(t, "Wine's closesocket does not reset a connection with SO_LINGER 0: the client reads EOF")
	iomuxtest.ForEachBackend(t, func(t *testing.T, backend string) {
		reset := make(chan struct{})
		srv := startPeerServer(t, func(c net.Conn) {
			c.Write([]byte("hi\n"))
			<-reset                       // the client is connected and reading
			c.(*net.TCPConn).SetLinger(0) // close with RST
		})
		out := new(linetest.Output)
		done := make(chan error, 1)
		go func() {
			done <- runWatch(testEnv(out, &bytes.Buffer{}), []string{"--addr", srv.addr(), "--backend", backend})
		}()
		out.WaitFor(t, "Received: hi\n", 1)
		close(reset)
		err := <-done
		if err == nil || !strings.Contains(err.Error(), connResetText) {
			t.Errorf("watch = %v, want a connection-reset error", err)
		}
		if out.String() != "Received: hi\nProblem occurred; exiting.\n" {
			t.Errorf("output %q, want the tutorials' problem line", out.String())
		}
	})
}

func TestWatchPythonDelayServer(t *testing.T) {
	iomuxtest.ForEachBackend(t, func(t *testing.T, backend string) {
		py := startPyPeer(t, "delay_server.py", "0.05")
		out := new(linetest.Output)
		done := make(chan error, 1)
		go func() {
			done <- runWatch(testEnv(out, &bytes.Buffer{}), []string{"--addr", py.addr, "--backend", backend})
		}()
		out.WaitFor(t, "Received: ", 2)
		py.kill()
		if err := <-done; err != nil {
			t.Fatalf("watch: %v\noutput:\n%s", err, out)
		}
		if !strings.HasSuffix(out.String(), "\nRemote end closed connection; exiting.\n") {
			t.Errorf("output does not end with the tutorials' closing line:\n%s", out)
		}
	})
}

func TestWatchSpinnerOnTerminal(t *testing.T) {
	iomuxtest.CheckLeaks(t)
	master, slave := openClientPTY(t)
	screen := readClientPTY(t, master, slave)
	release := make(chan struct{})
	srv := startPeerServer(t, func(c net.Conn) {
		c.Write([]byte("hello\n"))
		<-release
	})
	done := make(chan error, 1)
	go func() { done <- runWatch(testEnv(slave, &bytes.Buffer{}), []string{"--addr", srv.addr()}) }()
	screen.WaitFor(t, "\r\x1b[KReceived: hello\r\n", 1)
	screen.WaitFor(t, "\r.........| ", 1) // the bar reached the right end
	close(release)
	if err := <-done; err != nil {
		t.Fatalf("watch: %v", err)
	}
	screen.WaitFor(t, "\r\x1b[KRemote end closed connection; exiting.\r\n", 1)
}

func TestSpinnerBouncesLikeTheTutorials(t *testing.T) {
	s := spinner{size: 10, dir: 1}
	var got []int
	for range 22 {
		got = append(got, strings.IndexByte(s.next(), '|'))
	}
	want := []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 1, 2, 3}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("spinner positions %v, want %v", got, want)
		}
	}
}

// Our time-server, plain and over TLS.
func TestWatchOurTimeServer(t *testing.T) {
	iomuxtest.ForEachBackend(t, func(t *testing.T, backend string) {
		plainAndTLS(t, func(t *testing.T, server, client []string) {
			srv := srvStart(t, runTimeServer, append(server, "--interval", "20ms", "--backend", backend)...)
			out := new(linetest.Output)
			done := make(chan error, 1)
			go func() {
				done <- runWatch(testEnv(out, &bytes.Buffer{}), append(client, "--addr", srv.addr, "--backend", backend))
			}()
			out.WaitFor(t, "Received: ", 3)
			if err := srv.stop(); err != nil {
				t.Fatalf("time-server: %v", err)
			}
			if err := <-done; err != nil {
				t.Fatalf("watch: %v\noutput:\n%s", err, out)
			}
			if !strings.HasSuffix(out.String(), "\nRemote end closed connection; exiting.\n") {
				t.Errorf("output does not end with the tutorials' closing line:\n%s", out)
			}
		})
	})
}

// -v traces what arrives and the end of the stream on stderr; stdout is
// unchanged.
func TestWatchVerbose(t *testing.T) {
	srv := startPeerServer(t, func(c net.Conn) { c.Write([]byte("one\n")) })
	var out, trace bytes.Buffer
	if err := runWatch(testEnv(&out, &trace), []string{"--addr", srv.addr(), "-v"}); err != nil {
		t.Fatalf("watch: %v", err)
	}
	want := `received "one\n" from ` + srv.addr() + "\nclosing socket after reading no data\n"
	if trace.String() != want {
		t.Errorf("-v trace:\n%q\nwant:\n%q", trace.String(), want)
	}
	if out.String() != "Received: one\nRemote end closed connection; exiting.\n" {
		t.Errorf("output %q", out.String())
	}
}

// What the server sends cannot drive the terminal (set its title or
// clipboard, clear it, reorder the text): it is shown escaped, as
// chat-client shows the others' lines.
func TestWatchEscapesServerBytes(t *testing.T) {
	iomuxtest.CheckLeaks(t)
	master, slave := openClientPTY(t)
	screen := readClientPTY(t, master, slave)
	hostile := "title \x1b]0;owned\a clip \x1b]52;c;aGk=\a clear \x1b[2J\x9b bidi \u202e ok \xff\r\n"
	srv := startPeerServer(t, func(c net.Conn) { c.Write([]byte(hostile)) })
	done := make(chan error, 1)
	go func() { done <- runWatch(testEnv(slave, &bytes.Buffer{}), []string{"--addr", srv.addr()}) }()
	if err := <-done; err != nil {
		t.Fatalf("watch: %v", err)
	}
	want := `Received: title \x1b]0;owned\x07 clip \x1b]52;c;aGk=\x07 clear \x1b[2J\x9b bidi \u202e ok \xff` + "\r\n"
	screen.WaitFor(t, "\r\x1b[K"+want, 1)
	for _, raw := range []string{"\x1b]", "\x1b[2J", "\a", "\u202e"} {
		if strings.Contains(screen.String(), raw) {
			t.Errorf("the terminal got %q raw:\n%q", raw, screen.String())
		}
	}
}
