package main

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/iomux/iomux/internal/chat"
	"github.com/iomux/iomux/internal/iomuxtest"
	"github.com/iomux/iomux/internal/linetest"
)

// chatRun is a chat-client running in a goroutine with a pipe for stdin.
type chatRun struct {
	stdin *os.File         // write end of its stdin; close it for EOF
	out   *linetest.Output // its stdout
	done  chan error
}

func startChatClient(t *testing.T, args ...string) *chatRun {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	run := &chatRun{stdin: w, out: new(linetest.Output), done: make(chan error, 1)}
	go func() {
		defer r.Close()
		run.done <- runChatClient(&env{stdin: r, stdout: run.out, stderr: io.Discard}, args)
	}()
	t.Cleanup(func() { w.Close() })
	return run
}

// wait waits for chat-client to return and checks that it said goodbye.
func (r *chatRun) wait(t *testing.T) {
	t.Helper()
	if err := <-r.done; err != nil {
		t.Fatalf("chat-client: %v\noutput:\n%s", err, r.out)
	}
	if !strings.HasSuffix(r.out.String(), "\nDisconnected from chat server\n") {
		t.Errorf("output does not end with the tutorials' goodbye:\n%q", r.out)
	}
}

func TestChatClientPipedWithPythonServer(t *testing.T) {
	iomuxtest.ForEachBackend(t, func(t *testing.T, backend string) {
		py := startPyPeer(t, "chat_server.py")
		bob := startChatClient(t, "--addr", py.addr, "--backend", backend)
		py.out.WaitFor(t, ") connected", 1)
		alice := startChatClient(t, "--addr", py.addr, "--backend", backend)
		bob.out.WaitFor(t, "] entered room\n", 1) // alice is in the room

		io.WriteString(alice.stdin, "hello from alice\n")
		bob.out.WaitFor(t, "> hello from alice\n", 1)

		alice.stdin.Close() // alice leaves: EOF, half-close, the server closes her
		alice.wait(t)
		bob.out.WaitFor(t, ") is offline", 1)
		if strings.Contains(alice.out.String(), "<You>") {
			t.Errorf("prompt printed with stdin not a terminal:\n%s", alice.out)
		}

		py.kill()
		bob.wait(t)
	})
}

// startLineServer is a Go server that reads its one client's lines until
// EOF, then answers with what it read (quoted) and closes.
func startLineServer(t *testing.T) *peerServer {
	return startPeerServer(t, func(c net.Conn) {
		data, _ := io.ReadAll(c)
		c.Write([]byte("server read " + quoteLines(data) + "\n"))
	})
}

func quoteLines(b []byte) string { return strings.ReplaceAll(string(b), "\n", "|") }

func TestChatClientHalfClosesAtEndOfInput(t *testing.T) {
	iomuxtest.ForEachBackend(t, func(t *testing.T, backend string) {
		srv := startLineServer(t)
		chat := startChatClient(t, "--addr", srv.addr(), "--backend", backend, "--name", "alice")
		big := strings.Repeat("x", 3000)
		for range 100 { // 300 KB: more than the outbox holds, so stdin pauses
			io.WriteString(chat.stdin, big+"\n")
		}
		io.WriteString(chat.stdin, "last line without newline")
		chat.stdin.Close()
		chat.wait(t)
		want := "server read /nick alice|" + strings.Repeat(big+"|", 100) + "last line without newline\n"
		if !strings.Contains(chat.out.String(), want) {
			t.Errorf("the server's answer after our half-close is missing; output:\n%.300q", chat.out)
		}
	})
}

// ptyChat runs chat-client on a pseudo-terminal against a Go server whose
// one connection the test drives.
type ptyChat struct {
	master, slave *os.File
	screen        *linetest.Output // what chat-client shows on the terminal
	server        net.Conn         // the server's side of chat-client's socket
	lines         *bufio.Reader    // lines chat-client sent
	done          chan error
}

func startPTYChat(t *testing.T, backend string) *ptyChat {
	t.Helper()
	return startPTYChatWith(t, ptyChatOptions{backend: backend})
}

// serverLeaves closes the server's end, waits for the screen to show
// goodbye, and for chat-client to exit cleanly.
func (p *ptyChat) serverLeaves(t *testing.T, goodbye string) {
	t.Helper()
	p.server.Close()
	p.screen.WaitFor(t, goodbye, 1)
	p.finish(t)
}

// ptyChatOptions say how to run chat-client on the pseudo-terminal.
type ptyChatOptions struct {
	backend     string
	args        []string  // more flags
	stderr      io.Writer // nil: discarded
	stderrOnTTY bool      // stderr is the terminal too (stderr is then ignored)
	width       int       // the terminal's width in columns (0: unset, as a new pty has it)
}

func startPTYChatWith(t *testing.T, o ptyChatOptions) *ptyChat {
	t.Helper()
	iomuxtest.CheckLeaks(t)
	master, slave := openClientPTY(t)
	if o.width > 0 {
		setTermWidth(t, master, o.width)
	}
	var stderr io.Writer = io.Discard
	switch {
	case o.stderrOnTTY:
		stderr = slave
	case o.stderr != nil:
		stderr = o.stderr
	}
	p := &ptyChat{master: master, slave: slave, screen: readClientPTY(t, master, slave), done: make(chan error, 1)}
	conns := make(chan net.Conn, 1)
	release := make(chan struct{})
	srv := startPeerServer(t, func(c net.Conn) {
		conns <- c
		<-release
	})
	t.Cleanup(func() { close(release) })
	args := append([]string{"--addr", srv.addr(), "--backend", o.backend}, o.args...)
	go func() { p.done <- runChatClient(&env{stdin: slave, stdout: slave, stderr: stderr}, args) }()
	p.server = <-conns
	p.lines = bufio.NewReader(p.server)
	p.screen.WaitFor(t, "Connected to remote host. Start sending messages\r\n<You> ", 1)
	return p
}

// typeKeys types on the terminal and waits until chat-client shows want.
func (p *ptyChat) typeKeys(t *testing.T, keys, want string) {
	t.Helper()
	if _, err := p.master.WriteString(keys); err != nil {
		t.Fatal(err)
	}
	p.screen.WaitFor(t, want, 1)
}

// expectSent reads the next line chat-client sent to the server.
func (p *ptyChat) expectSent(t *testing.T, want string) {
	t.Helper()
	line, err := p.lines.ReadString('\n')
	if err != nil || line != want+"\n" {
		t.Fatalf("server read %q (%v), want %q", line, err, want+"\n")
	}
}

// finish waits for chat-client to return and checks the terminal is back
// in its usual line-editing mode.
func (p *ptyChat) finish(t *testing.T) {
	t.Helper()
	if err := <-p.done; err != nil {
		t.Fatalf("chat-client: %v", err)
	}
	checkTermRestored(t, p.slave)
}

func TestChatClientTerminalKeepsTypedLine(t *testing.T) {
	iomuxtest.ForEachBackend(t, func(t *testing.T, backend string) {
		p := startPTYChat(t, backend)
		p.typeKeys(t, "hel", "<You> hel")

		// A message arrives mid-line: it is printed on its own line (its
		// escape sequence defused), and the half-typed text comes back.
		p.server.Write([]byte("\r<bob> hi \x1b[2Jthere\n"))
		p.screen.WaitFor(t, "hel\r\x1b[J<bob> hi \\x1b[2Jthere\r\n<You> hel", 1)

		p.typeKeys(t, "lo\r", "<You> hello\r\n<You> ")
		p.expectSent(t, "hello")

		// Backspace, Ctrl-W, Ctrl-U and an arrow key edit the line.
		p.typeKeys(t, "one two\x17", "\r\x1b[J<You> one ")
		p.typeKeys(t, "zz\x7f\x7f", "\r\x1b[J<You> one z\r\x1b[J<You> one ")
		p.typeKeys(t, "x\x1b[Dy\x15", "<You> one xy\r\x1b[J<You> ")
		p.typeKeys(t, "é!\r", "<You> é!\r\n")
		p.expectSent(t, "é!")

		p.serverLeaves(t, "\r\x1b[JDisconnected from chat server\r\n") // the server goes away
	})
}

func TestChatClientTerminalCtrlD(t *testing.T) {
	p := startPTYChat(t, "auto")
	p.typeKeys(t, "bye\r", "<You> bye\r\n")
	p.expectSent(t, "bye")
	p.typeKeys(t, "\x04", "\r\x1b[J") // Ctrl-D: half-close
	if rest, err := io.ReadAll(p.lines); err != nil || len(rest) != 0 {
		t.Fatalf("after Ctrl-D the server read %q, %v; want EOF", rest, err)
	}
	p.server.Write([]byte("goodbye\n")) // still printed after the half-close
	p.screen.WaitFor(t, "goodbye\r\n", 1)
	p.serverLeaves(t, "Disconnected from chat server\r\n")
}

func TestChatClientTerminalCtrlC(t *testing.T) {
	p := startPTYChat(t, "auto")
	p.typeKeys(t, "abc\x03", "<You> abc^C\r\n")
	p.finish(t)
	if s := p.screen.String(); strings.Contains(s, "Disconnected") {
		t.Errorf("Ctrl-C should quit quietly:\n%q", s)
	}
}

// Our chat-server, plain and over TLS.
func TestChatClientOurChatServer(t *testing.T) {
	iomuxtest.ForEachBackend(t, func(t *testing.T, backend string) {
		plainAndTLS(t, func(t *testing.T, server, client []string) {
			srv := srvStart(t, runChatServer, append(server, "--backend", backend)...)
			bob := startChatClient(t, append(client, "--addr", srv.addr, "--backend", backend, "--name", "bob")...)
			bob.out.WaitFor(t, "you are now bob", 1)
			alice := startChatClient(t, append(client, "--addr", srv.addr, "--backend", backend, "--name", "alice")...)
			bob.out.WaitFor(t, "is now known as [alice]\n", 1)

			io.WriteString(alice.stdin, "hello bob\n")
			bob.out.WaitFor(t, "[alice] hello bob\n", 1)
			io.WriteString(alice.stdin, "/quit\n")
			alice.wait(t)
			bob.out.WaitFor(t, "* [alice] left the room\n", 1)

			if err := srv.stop(); err != nil {
				t.Fatalf("chat-server: %v", err)
			}
			bob.wait(t)
		})
	})
}

// TestChatClientStdinFromFile covers `iomux chat-client < file`: epoll
// refuses regular files, so stdin is read without waiting on it.
func TestChatClientStdinFromFile(t *testing.T) {
	iomuxtest.ForEachBackend(t, func(t *testing.T, backend string) {
		path := filepath.Join(iomuxtest.TempDir(t), "lines")
		big := strings.Repeat("y", 2000)
		content := "first\n" + strings.Repeat(big+"\n", 100) + "last\n" // more than the outbox holds
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		for _, stdinPath := range []string{path, os.DevNull} {
			stdin, err := os.Open(stdinPath)
			if err != nil {
				t.Fatal(err)
			}
			srv := startLineServer(t)
			out := new(linetest.Output)
			err = runChatClient(&env{stdin: stdin, stdout: out, stderr: io.Discard}, []string{"--addr", srv.addr(), "--backend", backend})
			stdin.Close()
			if err != nil {
				t.Fatalf("chat-client < %s: %v", stdinPath, err)
			}
			want := "server read \n"
			if stdinPath == path {
				want = "server read " + quoteLines([]byte(content)) + "\n"
			}
			if !strings.Contains(out.String(), want) || !strings.HasSuffix(out.String(), "Disconnected from chat server\n") {
				t.Errorf("chat-client < %s: output\n%.200q\nlacks %.200q", stdinPath, out, want)
			}
		}
	})
}

// Typing stops at the longest line chat-server takes (4096 bytes, which it
// does not refuse): one more key rings the bell.
func TestChatClientTerminalLineLimit(t *testing.T) {
	p := startPTYChat(t, "auto")
	p.typeKeys(t, strings.Repeat("x", chat.MaxLine+1), "x\a")
	p.typeKeys(t, "\r", "\r\n<You> ")
	p.expectSent(t, strings.Repeat("x", chat.MaxLine))
	p.serverLeaves(t, "Disconnected from chat server\r\n")
}

// A prompt and typed text wider than the terminal wrap over rows: to put
// a message above them, chat-client moves up to their first row and
// clears from there.
func TestChatClientTerminalWrappedLine(t *testing.T) {
	p := startPTYChatWith(t, ptyChatOptions{backend: "auto", width: 20})
	typed := "abcdefghijklmnopqrstuvwxyz0123" // with "<You> ", 36 columns: two rows
	p.typeKeys(t, typed, "<You> "+typed)
	p.server.Write([]byte("<bob> hi\n"))
	p.screen.WaitFor(t, typed+"\r\x1b[1A\x1b[J<bob> hi\r\n<You> "+typed, 1)
	p.typeKeys(t, "4567\x7f", "\r\x1b[1A\x1b[J<You> "+typed+"456") // from 40 columns: the cursor still on row 2
	p.typeKeys(t, "78\x7f", "\r\x1b[2A\x1b[J<You> "+typed+"4567")  // from 41: on row 3
	p.typeKeys(t, "\x15", "\r\x1b[1A\x1b[J<You> ")                 // from 40
	p.typeKeys(t, "x\x7f", "<You> x\r\x1b[J<You> ")
	p.serverLeaves(t, "Disconnected from chat server\r\n")
	if rowsAbove(20, 20) != 0 || rowsAbove(21, 20) != 1 || rowsAbove(5, 0) != 0 {
		t.Errorf("rowsAbove(20, 20), (21, 20), (5, 0) = %d, %d, %d; want 0, 1, 0", rowsAbove(20, 20), rowsAbove(21, 20), rowsAbove(5, 0))
	}
}

// A line that TCP splits is shown whole once its newline comes; one that
// never ends is shown in 4 KiB pieces, and the rest when the server goes.
var receivedYs = regexp.MustCompile(`received "(y+)" from`)

func TestChatClientTerminalHoldsPartialLines(t *testing.T) {
	trace := new(linetest.Output)
	p := startPTYChatWith(t, ptyChatOptions{backend: "auto", args: []string{"-v"}, stderr: trace})
	p.typeKeys(t, "hey", "<You> hey")
	p.server.Write([]byte("<bob> hel"))
	trace.WaitFor(t, `received "<bob> hel" from`, 1) // chat-client has read it alone
	p.server.Write([]byte("lo wörld\n<bob> next\n"))
	p.screen.WaitFor(t, "\r\x1b[J<bob> hello wörld\r\n<bob> next\r\n<You> hey", 1)

	long := strings.Repeat("y", 5000) // no newline: shown at 4 KiB, not held without bound
	p.server.Write([]byte(long))
	p.screen.WaitFor(t, "\r\x1b[J"+long[:chatClientHoldMax]+"\r\n<You> hey", 1)
	// All of it read before the z is sent, or the z could come in the
	// same read as the last y's.
	trace.WaitUntil(t, "5000 y's received", func(text string) bool {
		n := 0
		for _, m := range receivedYs.FindAllStringSubmatch(text, -1) {
			n += len(m[1])
		}
		return n == len(long)
	})
	p.server.Write([]byte("z"))
	trace.WaitFor(t, `received "z" from`, 1)
	// The rest, unfinished, is shown before the goodbye.
	p.serverLeaves(t, "\r\x1b[J"+long[chatClientHoldMax:]+"z\r\n<You> hey\r\x1b[JDisconnected from chat server\r\n")
	if s := p.screen.String(); strings.Contains(s, "<bob> hel\r\n") {
		t.Errorf("the split line was shown in two:\n%q", s)
	}
	if runeCut([]byte("ab\xc3")) != 2 || runeCut([]byte("a\xe6\x97")) != 1 || runeCut([]byte("aé")) != 3 {
		t.Error("runeCut splits a UTF-8 sequence")
	}
}

// With -v on a terminal, trace lines go where the typed line was, like
// messages, and the typed line comes back below each.
func TestChatClientTerminalVerbose(t *testing.T) {
	p := startPTYChatWith(t, ptyChatOptions{backend: "auto", args: []string{"-v"}, stderrOnTTY: true})
	p.typeKeys(t, "hel", "<You> hel")
	p.server.Write([]byte("<bob> hi\n"))
	p.screen.WaitFor(t, "\r\x1b[Jreceived \"<bob> hi\\n\" from 127.0.0.1:", 1)
	p.screen.WaitFor(t, "\r\x1b[J<bob> hi\r\n<You> hel", 1)
	p.typeKeys(t, "lo\r", "\r\x1b[Jsending \"hello\\n\" to ")
	p.expectSent(t, "hello")
	p.server.Close()
	p.screen.WaitFor(t, "\r\x1b[Jclosing socket after reading no data\r\n", 1)
	p.screen.WaitFor(t, "Disconnected from chat server\r\n", 1)
	p.finish(t)
	s := p.screen.String()
	if n, erased := strings.Count(s, "waiting for the next event"), strings.Count(s, "\r\x1b[Jwaiting for the next event\r\n"); n == 0 || n != erased {
		t.Errorf("%d trace lines, %d of them printed in place of the typed line:\n%q", n, erased, s)
	}
	if strings.Contains(s, "<nil>") {
		t.Errorf("a trace line shows a nil error:\n%q", s)
	}
}

// -v traces each step in the tutorials' words (stdin piped: plain lines on
// stderr), and the end of the stream without a nil error.
func TestChatClientVerbose(t *testing.T) {
	srv := startLineServer(t)
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	io.WriteString(w, "hi\n")
	w.Close()
	var out, trace bytes.Buffer
	if err := runChatClient(&env{stdin: r, stdout: &out, stderr: &trace}, []string{"--addr", srv.addr(), "-v"}); err != nil {
		t.Fatalf("chat-client: %v", err)
	}
	for _, want := range []string{"waiting for the next event\n", `sending "hi\n" to ` + srv.addr() + "\n",
		"shutting down the sending side to " + srv.addr() + "\n", `received "server read hi|\n" from ` + srv.addr() + "\n",
		"closing socket after reading no data\n"} {
		if !strings.Contains(trace.String(), want) {
			t.Errorf("-v trace lacks %q:\n%s", want, trace.String())
		}
	}
	if strings.Contains(trace.String(), "<nil>") || strings.Contains(out.String(), "waiting") {
		t.Errorf("trace:\n%s\noutput:\n%s", trace.String(), out.String())
	}
}
