package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"sync/atomic"
	"time"

	"github.com/iomux/iomux"
	"github.com/iomux/iomux/internal/chat"
)

// The Python select tutorials' chat client: one Selector waits on stdin
// and the socket at once. On a terminal it edits the line itself (the
// terminal's own echo is off), so that a message arriving mid-line can be
// printed above the line and the half-typed text put back, which the
// tutorial's "\r" + prompt trick only pretends to do.

// chatClientProgram is iomux chat-client.
func chatClientProgram() *command {
	return &command{
		name:    "chat-client",
		summary: "chat from a terminal or a pipe; messages arrive without clobbering the typed line",
		usage: `Usage: iomux chat-client [--addr 127.0.0.1:8002] [--name NAME] [--tls [--tls-ca FILE]] [--backend auto] [--timeout 10s] [-v]

The Python select tutorials' chat client. One Selector waits on stdin and the socket at once:
each line you type goes to the chat server, and what the server sends (the
other members' messages, prefixed with their names) is printed as it comes.

On a terminal it shows a "<You> " prompt and edits the line itself
(Backspace, Ctrl-U, Ctrl-W; Enter sends; Ctrl-D on an empty line leaves;
Ctrl-C quits), so a message that arrives while you type is printed above
your line and your half-typed text is put back (also when it wraps over
several rows). A message is shown once its whole line has come (at most 4
KiB of it is held). With stdin piped from a file there is no prompt: it
sends every line, then shuts down its sending side and keeps printing until
the server closes (with --tls, it sends close_notify instead of
shutting down the socket's sending side).

On Windows, select waits on sockets only (as Python's select module says
too), so a goroutine reads stdin and hands each line to the loop, which
waits on the socket; the console edits and echoes the typed line itself
(no "<You> " prompt), and a message that arrives while you type is printed
where the cursor is.

-v traces each step on stderr, in the tutorials' words; when stderr is the
terminal too, each trace line is printed like a message, above the typed
line.

Prints "Disconnected from chat server" and exits 0 when the server goes
away. --name NAME first sends "/nick NAME". The server's commands: /nick
NAME, /who, /quit.

Example:
  $ iomux chat-server &
  $ iomux chat-client --name alice
  Connected to remote host. Start sending messages
  * [127.0.0.1:40412] entered room
  <bob> hi alice
  <You> hello bo
`,
		run: runChatClient,
	}
}

const (
	chatClientPrompt    = "<You> "
	chatClientMaxLine   = chat.MaxLine // typing stops (a bell) at the longest line chat-server takes
	chatClientOutboxMax = 64 << 10     // stop reading stdin while this much waits to be sent
	chatClientHoldMax   = 4 << 10      // on a terminal, show this much of a line without waiting for its end
)

// chatClient is the state of one chat-client run.
type chatClient struct {
	sel    iomux.Selector
	st     *clientStream
	in     int // stdin, or -1 once it has ended
	out    io.Writer
	opt    *clientOptions
	stderr io.Writer

	tty        *chatLine // the line being typed; nil when not on a terminal
	held       []byte    // on a terminal, the start of a server line whose newline has not come
	sockWrite  bool      // the socket is registered for Writable
	inWatched  bool      // stdin is registered
	inFile     bool      // stdin cannot be waited on (a file under epoll; any stdin on Windows): it is read without waiting
	feed       stdinFeed // on Windows, the goroutine that reads stdin
	buf        []byte    // for reading stdin and the socket
	lastByte   byte      // the last byte printed, to end a line before "Disconnected"
	signalled  atomic.Bool
	halfClosed bool
	sendErr    error // what made queueing fail (a TLS stream already ended)
}

func runChatClient(e *env, args []string) error {
	fs := newFlags(chatClientProgram())
	var opt clientOptions
	opt.bind(fs, "127.0.0.1:8002")
	name := fs.String("name", "", "send \"/nick NAME\" first")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected arguments %q", errUsage, fs.Args())
	}
	sel, err := opt.setup()
	if err != nil {
		return err
	}
	defer sel.Close()
	stdin, stdout, stderr := e.stdin, e.stdout, e.stderr
	c := &chatClient{sel: sel, in: int(stdin.Fd()), out: stdout, opt: &opt, stderr: stderr,
		lastByte: '\n', buf: make([]byte, 4096)}
	st, closeConn, err := opt.connect(sel, iomux.Readable, c.trace)
	if err != nil {
		return fmt.Errorf("unable to connect: %w", err)
	}
	defer closeConn()
	c.st = st
	if *name != "" {
		c.outgoing([]byte("/nick " + *name + "\n"))
	}
	if editsLine && isTerminal(stdin) && isTerminal(stdout) {
		restore, err := enterChatMode(c.in)
		if err != nil {
			return err
		}
		defer restore()
		stop := c.wakeOnSignal()
		defer stop()
		c.tty = &chatLine{fd: int(stdout.(*os.File).Fd()), stderr: isTerminal(stderr)}
	}
	if err := c.watchStdin(stdin); err != nil {
		return err
	}
	defer func() {
		if c.inWatched {
			sel.Unregister(c.in)
		}
		c.feed.stop()
	}()
	c.print("Connected to remote host. Start sending messages\n")
	c.prompt()
	return c.loop()
}

// loop waits on stdin and the socket until the server goes away (nil), the
// user quits (nil), or something fails.
func (c *chatClient) loop() error {
	ready := make([]iomux.Ready, 3) // the socket, stdin, and a stdin that cannot be waited on
	for {
		if c.sendErr != nil {
			return c.sendErr
		}
		if err := c.updateInterest(); err != nil {
			return err
		}
		timeout := time.Duration(-1)
		readFile := c.inFile && c.in >= 0 && c.st.pending() < chatClientOutboxMax && c.stdinReady()
		if readFile {
			timeout = 0 // just look at the socket: stdin is ready
		}
		c.trace("waiting for the next event")
		n, err := c.st.wait(c.sel, timeout, ready[:2])
		if err != nil {
			return err
		}
		if readFile {
			ready[n] = iomux.Ready{FD: c.in, Events: iomux.Readable}
			n++
		}
		if c.signalled.Load() {
			c.print(c.erase())
			return fmt.Errorf("interrupted by a signal")
		}
		for _, r := range ready[:n] {
			if r.FD == c.st.fd && r.Events&iomux.Writable != 0 {
				if gone := c.send(); gone {
					return c.disconnected()
				}
			}
			if r.FD == c.st.fd && r.Events&iomux.Readable != 0 {
				if gone := c.receive(); gone {
					return c.disconnected()
				}
			}
			if r.FD == c.in && c.in >= 0 {
				if quit := c.input(); quit {
					return nil
				}
			}
		}
	}
}

// updateInterest asks for Writable only while there is something to send,
// and stops reading stdin while the server is not taking what was read.
func (c *chatClient) updateInterest() error {
	if c.in < 0 && c.st.pending() == 0 && !c.halfClosed {
		// Stdin has ended and all of it is sent: tell the server, and keep
		// printing what it sends until it closes. (With TLS that is a
		// close_notify, to be sent, hence before Writable is asked for.)
		c.trace("shutting down the sending side to %s", c.opt.addr)
		c.halfClosed = true
		if err := c.st.closeWrite(); err != nil {
			return err
		}
	}
	if want := c.st.pending() > 0; want != c.sockWrite {
		ev := iomux.Readable
		if want {
			ev |= iomux.Writable
		}
		if err := c.sel.Modify(c.st.fd, ev, nil); err != nil {
			return err
		}
		c.sockWrite = want
	}
	if want := c.in >= 0 && !c.inFile && c.st.pending() < chatClientOutboxMax; want != c.inWatched {
		var err error
		if want {
			err = c.sel.Register(c.in, iomux.Readable, nil)
		} else {
			err = c.sel.Unregister(c.in)
		}
		if err != nil {
			return fmt.Errorf("stdin: %w", err)
		}
		c.inWatched = want
	}
	return nil
}

// outgoing queues p for the server. Only a TLS stream that has sent an
// alert or its close_notify refuses it, which ends the client.
func (c *chatClient) outgoing(p []byte) {
	if err := c.st.queue(p); err != nil && c.sendErr == nil {
		c.sendErr = fmt.Errorf("send: %w", err)
	}
}

// send writes what the socket takes of what waits to be sent; gone
// reports that the server is gone.
func (c *chatClient) send() (gone bool) {
	if err := c.st.flush(); err != nil {
		c.trace("send to %s: %v", c.opt.addr, err)
		return true
	}
	return false
}

// receive prints what the server sent; gone reports that it closed the
// connection (or reset it).
func (c *chatClient) receive() (gone bool) {
	data, err := c.st.read(c.buf)
	c.incoming(data)
	switch {
	case err == io.EOF:
		c.trace("closing socket after reading no data")
		return true
	case err != nil:
		c.trace("closing socket after reading no data (%v)", err)
		return true
	}
	return false
}

// incoming prints what the server sent. On a terminal, whole lines are
// shown, above the typed line: the start of a line that TCP delivered
// without its end waits for it, up to chatClientHoldMax.
func (c *chatClient) incoming(data []byte) {
	if len(data) == 0 {
		return
	}
	if c.tty == nil {
		c.print(string(data))
		return
	}
	c.held = append(c.held, data...)
	for {
		end := bytes.LastIndexByte(c.held, '\n') + 1
		if end == 0 {
			if len(c.held) < chatClientHoldMax {
				return
			}
			end = runeCut(c.held[:chatClientHoldMax])
		}
		c.show(c.held[:end])
		c.held = append(c.held[:0], c.held[end:]...)
	}
}

// disconnected says the tutorial's goodbye.
func (c *chatClient) disconnected() error {
	if c.tty != nil {
		if len(c.held) > 0 { // the server's last words, unfinished
			c.show(c.held)
			c.held = nil
		}
		c.print(c.erase())
	} else if c.lastByte != '\n' {
		c.print("\n")
	}
	c.print("Disconnected from chat server\n")
	return nil
}

// input reads stdin: lines for the server, or keys for the line editor on
// a terminal. quit reports that the user asked to leave at once.
func (c *chatClient) input() (quit bool) {
	buf := c.buf
	n, err := c.readStdin(buf)
	if errors.Is(err, errStdinAgain) {
		return false
	}
	if err != nil || n == 0 {
		c.endInput()
		return false
	}
	if c.tty == nil {
		c.outgoing(buf[:n])
		return false
	}
	for _, b := range buf[:n] {
		if quit := c.key(b); quit {
			return true
		}
		if c.in < 0 { // Ctrl-D
			break
		}
	}
	return false
}

// endInput stops reading stdin; the sending side is shut down once
// nothing waits to be sent (see updateInterest).
func (c *chatClient) endInput() {
	if c.inWatched {
		c.sel.Unregister(c.in)
		c.inWatched = false
	}
	if c.tty != nil {
		c.print(c.erase())
	}
	c.in = -1
}

func (c *chatClient) print(s string) {
	if s == "" {
		return
	}
	io.WriteString(c.out, s)
	c.lastByte = s[len(s)-1]
}
