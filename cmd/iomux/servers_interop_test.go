package main

import (
	"io"
	"net"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/iomux/iomux/internal/chat/chattest"
	"github.com/iomux/iomux/internal/iomuxtest"
	"github.com/iomux/iomux/internal/linetest"
)

// The Python select tutorials' own clients (Python 3 ports in testdata/python) against our
// servers. Skipped without python3.

var srvPyReceived = regexp.MustCompile(`received b'([^']*)'`)

func TestServerInteropPythonEchoClients(t *testing.T) {
	iomuxtest.ForEachBackend(t, func(t *testing.T, backend string) {
		s := srvStart(t, runEchoServer, "--backend", backend, "--loops", "2")
		pythonEchoClients(t, s.addr)
	})
}

// pythonEchoClients runs the tutorials' multi-connection and slow echo
// clients against the echo server at addr and checks every echo.
func pythonEchoClients(t *testing.T, addr string) {
	t.Helper()
	host, port := srvHostPort(t, addr)
	out := srvPython(t, nil, "select_echo_multiclient.py", host, port).wait(t)
	for _, part := range multiclientMessages {
		if n := strings.Count(out, "received b'"+part+"'"); n != 2 {
			t.Errorf("multiclient: %d× received %q, want 2:\n%s", n, part, out)
		}
	}

	out = srvPython(t, nil, "select_echo_slow_client.py", host, port, "0.05").wait(t)
	var echoed strings.Builder
	for _, m := range srvPyReceived.FindAllStringSubmatch(out, -1) {
		echoed.WriteString(m[1])
	}
	if want := strings.Join(slowMessages, ""); echoed.String() != want {
		t.Errorf("slow client: echo %q, want %q:\n%s", echoed.String(), want, out)
	}
}

func TestServerInteropPythonChatClient(t *testing.T) {
	iomuxtest.ForEachBackend(t, func(t *testing.T, backend string) {
		s := srvStart(t, runChatServer, "--backend", backend)
		pythonChatClient(t, s.addr, s.stop)
	})
}

// pythonChatClient runs the tutorials' chat client against the chat
// server at addr, beside a member of ours: each hears the other; once
// stop has stopped the server, the client says it is disconnected.
func pythonChatClient(t *testing.T, addr string, stop func() error) {
	t.Helper()
	host, port := srvHostPort(t, addr)
	us := chattest.Join(t, addr)
	stdin, typing := io.Pipe()
	defer typing.Close()
	py := srvPython(t, stdin, "chat_client.py", host, port)

	joined := us.Lines.Next(t)
	name, ok := strings.CutSuffix(strings.TrimPrefix(joined, "* ["), "] entered room")
	if !ok {
		t.Fatalf("got %q, want the Python client's entry", joined)
	}
	io.WriteString(typing, "hello from python\n")
	typing.Close() // the client stops reading stdin and keeps listening
	us.Lines.Expect(t, "["+name+"] hello from python")
	us.Say(t, "hello from go\n")
	py.out.WaitFor(t, "["+us.Name+"] hello from go", 1)

	if err := stop(); err != nil {
		t.Fatal(err)
	}
	py.wait(t)
	py.out.WaitFor(t, "Disconnected from chat server", 1)
}

func TestServerInteropPythonTimeClients(t *testing.T) {
	iomuxtest.ForEachBackend(t, func(t *testing.T, backend string) {
		for _, script := range []string{"poll_client.py", "select_client.py"} {
			t.Run(script, func(t *testing.T) {
				s := srvStart(t, runTimeServer, "--backend", backend, "--interval", "50ms")
				host, port := srvHostPort(t, s.addr)
				py := srvPython(t, nil, script, host, port)
				py.out.WaitFor(t, "Received: ", 2)
				if err := s.stop(); err != nil {
					t.Fatal(err)
				}
				out := py.wait(t)
				if !strings.Contains(out, "Remote end closed connection; exiting.") {
					t.Errorf("the client did not see the server close:\n%s", out)
				}
			})
		}
	})
}

// The Python select tutorials' logger (testdata/python/log_server.py) and ours, given the
// same session (two clients, lines interleaved, UTF-8 and a tab), show the
// same connections, lines and disconnections in the same order.
func TestLogServerInteropPythonLogServer(t *testing.T) {
	py := startPyPeer(t, "log_server.py")
	pyName := func(addr string) string { // Python prints the address tuple
		host, port := srvHostPort(t, addr)
		return "('" + host + "', " + port + ")"
	}
	want := logSession(t, py.addr, py.out, pyName)
	got := pyLogTranscript(py.out.String(), pyName, want.clients)
	if strings.Join(got, "\n") != strings.Join(want.events, "\n") {
		t.Fatalf("log_server.py showed\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want.events, "\n"))
	}
	iomuxtest.ForEachBackend(t, func(t *testing.T, backend string) {
		s := srvStart(t, runLogServer, "--backend", backend)
		ours := logSession(t, s.addr, s.out, func(addr string) string { return addr })
		if got := ourLogTranscript(t, s.out.String(), ours.clients); strings.Join(got, "\n") != strings.Join(want.events, "\n") {
			t.Errorf("log-server showed\n%s\nwhere log_server.py showed\n%s", strings.Join(got, "\n"), strings.Join(want.events, "\n"))
		}
	})
}

// logSessionResult is what a logging server should show of a session, in
// order and without its own decoration ("connect A", "line TEXT",
// "disconnect A": clients named by letter, not by port), and the clients'
// letters by address.
type logSessionResult struct {
	events  []string
	clients map[string]string
}

// logSession plays the session against a logging server at addr, waiting
// after each step until the server has shown it (in out, naming a client
// address with name), so that both servers see the same order of events.
func logSession(t *testing.T, addr string, out *linetest.Output, name func(string) string) logSessionResult {
	t.Helper()
	r := logSessionResult{clients: map[string]string{}}
	conns := map[string]net.Conn{}
	connect := func(letter string) {
		c := srvDial(t, addr)
		conns[letter] = c
		r.clients[c.LocalAddr().String()] = letter
		out.WaitFor(t, "Got connection from "+name(c.LocalAddr().String()), 1)
		r.events = append(r.events, "connect "+letter)
	}
	say := func(letter, line string) {
		if _, err := io.WriteString(conns[letter], line+"\n"); err != nil {
			t.Fatal(err)
		}
		out.WaitFor(t, line, 1)
		r.events = append(r.events, "line "+line)
	}
	leave := func(letter string) {
		c := conns[letter]
		c.Close()
		out.WaitFor(t, name(c.LocalAddr().String())+" disconnected", 1)
		r.events = append(r.events, "disconnect "+letter)
	}
	connect("A")
	connect("B")
	say("A", "hello from a")
	say("B", "héllo from b,\ttabbed")
	say("A", "a's second line")
	leave("A")
	say("B", "b alone")
	leave("B")
	return r
}

func pyLogTranscript(out string, name func(string) string, clients map[string]string) []string {
	var events []string
	byName := map[string]string{}
	for addr, letter := range clients {
		byName[name(addr)] = letter
	}
	for _, line := range strings.Split(out, "\n") {
		switch rest, connected := strings.CutPrefix(line, "Got connection from "); {
		case strings.HasPrefix(line, "listening on ") || line == "":
		case connected:
			events = append(events, "connect "+byName[rest])
		case strings.HasSuffix(line, " disconnected") && byName[strings.TrimSuffix(line, " disconnected")] != "":
			events = append(events, "disconnect "+byName[strings.TrimSuffix(line, " disconnected")])
		default:
			events = append(events, "line "+line)
		}
	}
	return events
}

func ourLogTranscript(t *testing.T, out string, clients map[string]string) []string {
	t.Helper()
	var events []string
	for _, line := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		m := srvLogLine.FindStringSubmatch(line)
		switch {
		case m == nil:
			t.Fatalf("malformed log line %q", line)
		case m[1] != "":
			events = append(events, "connect "+clients[m[1]])
		case m[2] != "":
			events = append(events, "line "+m[3])
		default:
			events = append(events, "disconnect "+clients[m[4]])
		}
	}
	return events
}

// Without a test context, a server stops gracefully on SIGTERM: clients
// see the end of the stream, and the run returns nil.
func TestServerStopsOnSIGTERM(t *testing.T) {
	errs := new(linetest.Output)
	addrs := make(chan net.Addr, 1)
	done := make(chan error, 1)
	go func() {
		e := &env{stdout: io.Discard, stderr: errs, ready: func(a net.Addr) { addrs <- a }}
		done <- runEchoServer(e, []string{"--addr", "127.0.0.1:0"})
	}()
	var c net.Conn
	select {
	case a := <-addrs:
		c = srvDial(t, a.String())
	case err := <-done:
		t.Fatalf("echo-server: %v\n%s", err, errs)
	}
	io.WriteString(c, "ping")
	c.SetReadDeadline(time.Now().Add(srvWait))
	if _, err := io.ReadFull(c, make([]byte, 4)); err != nil {
		t.Fatal(err)
	}
	// The handler is installed before the server listens, so this signal
	// is caught, not fatal.
	sigtermSelf(t)
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("echo-server after SIGTERM: %v", err)
		}
	case <-time.After(srvWait):
		t.Fatal("echo-server did not stop on SIGTERM")
	}
	if n, err := c.Read(make([]byte, 1)); n != 0 || err != io.EOF {
		t.Errorf("client read %d, %v after the stop; want EOF", n, err)
	}
	errs.WaitFor(t, "shutting down", 1)
}
