package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/iomux/iomux/internal/safetext"
	"github.com/iomux/iomux/loop"
)

// logServerProgram is iomux log-server.
func logServerProgram() *command {
	return &command{
		name:    "log-server",
		summary: "print what every client sends, line by line, with time and address (the tutorials' logger)",
		usage: `Usage: iomux log-server [--addr 127.0.0.1:1234] [--out FILE] [--loops N] [--tls-cert FILE --tls-key FILE] [--backend auto] [-v]

The Python select tutorials' logging server: any number of clients
(telnet, nc, programs) connect and send lines; each complete line is
printed once, prefixed with the time and the client's address, to stdout
or appended to --out FILE (created with mode 0600 if missing).
Connections are logged too:

  2026-11-23 18:56:57.123 Got connection from 127.0.0.1:55821
  2026-11-23 18:56:58.004 127.0.0.1:55821: the line it sent
  2026-11-23 18:56:59.310 127.0.0.1:55821 disconnected

Control bytes are shown as escapes (\r, \x1b), so that a client cannot fake
another's line or drive the terminal of whoever reads the log; UTF-8 text
is printed as it is. A partial line is held until its newline arrives, or
printed as it is when the client closes; a line longer than 64 KiB is
printed in 64 KiB pieces rather than held without bound (a UTF-8
character that a cut would split starts the next piece). Lines from
different clients never mix: each is written whole, however many loops
read them.

The loops never wait for the log's output: a goroutine writes it, in
batches. When it falls behind (a slow disk, a reader that does not keep
up), clients are no longer read once 2 MiB wait, so nothing is lost; the
connection lines, which cannot wait, are dropped past 4 MiB (counted, and
said on stderr). A write that fails (a full disk) is said on stderr at once
and then at most once a second, with the lines lost so far; the server
keeps serving, tries again every 250ms, says when the log is written
again, and at exit how many lines were lost in all. A line cut short by a
failed write is finished first when writes succeed again, so no line is
torn. When the log's reader goes away (stdout, or --out, a pipe whose
reader has exited), the server stops, with a message and exit status 1
(not killed by SIGPIPE).

Example:
  $ iomux log-server --out /tmp/clients.log &
  $ echo hello | nc -q1 127.0.0.1 1234
  $ cat /tmp/clients.log
`,
		run: runLogServer,
	}
}

// logMaxLine bounds how much of one line is held before it is printed.
const logMaxLine = 64 << 10

// logBuffer bounds the log waiting to be written (console.go): from half
// of it on, clients are not read until the output has caught up, so a slow
// disk or reader loses nothing; the connection lines, which cannot wait,
// are dropped past all of it (counted, and said on stderr).
const logBuffer = 4 << 20

const logTimeFormat = "2006-01-02 15:04:05.000"

// logSink is the log every loop writes to: a console, which takes each
// batch of lines whole, so a line is never torn or mixed with another
// client's, and writes what came from all the clients meanwhile in one
// write(2), never from a loop.
type logSink struct {
	out *console
}

// write prints lines (each without its newline) from who, as one batch,
// and reports whether they were kept. force is for lines of a client that
// holdUnlessRoom let through; without it, the lines are dropped (and
// counted) when the buffer is full.
func (s *logSink) write(force bool, who string, lines ...[]byte) bool {
	now := time.Now().Format(logTimeFormat)
	return s.out.put(force, func(b []byte) []byte {
		for _, line := range lines {
			b = append(b, now...)
			b = append(b, ' ')
			b = append(b, who...)
			b = append(b, line...)
			b = append(b, '\n')
		}
		return b
	})
}

// logClient is what the server keeps per connection.
type logClient struct {
	addr    string
	partial []byte // a line still waiting for its newline
	resume  func() // reads the client again once the log has room (from the console's goroutine)
}

// logHandler logs what its clients send.
type logHandler struct {
	loop.BaseHandler
	sink *logSink
}

func runLogServer(e *env, args []string) error {
	fs := newFlags(logServerProgram())
	var opt serverOptions
	opt.bind(fs, "127.0.0.1:1234", true)
	outPath := fs.String("out", "", "append the log to this `file` (mode 0600) instead of stdout")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := opt.check(fs); err != nil {
		return err
	}
	out, name := io.Writer(e.stdout), "the log (stdout)"
	if *outPath != "" {
		f, err := os.OpenFile(*outPath, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
		if err != nil {
			return err
		}
		defer f.Close()
		out, name = f, "the log ("+*outPath+")"
	}
	opt.openOutputs(e)
	// When the log's reader goes away (a pipe's), the log cannot be
	// written again: the server stops, and says why.
	stop := func(err error) {
		opt.stopWith(fmt.Errorf("%s: its reader went away (%v): stopped", name, err))
	}
	sink := &logSink{out: opt.console(out, consoleSpec{prog: "iomux log-server", name: name, limit: logBuffer, brokenPipe: stop})}
	h := &logHandler{sink: sink}
	return opt.serve(e, loop.NewServer(h, opt.loopOptions()))
}

func (h *logHandler) OnOpen(c *loop.Conn) {
	lc := &logClient{addr: c.RemoteAddr().String()}
	lc.resume = func() {
		c.Loop().Post(func() {
			if !c.Closed() {
				c.ResumeRead() // and OnData for what came before the pause
			}
		})
	}
	c.SetContext(lc)
	h.sink.write(false, "", []byte("Got connection from "+lc.addr))
}

// OnData prints every complete line and holds the tail. The read buffer is
// the loop's: the lines are written (copied into the sink) before OnData
// returns, and only the partial tail is kept, in the client's own buffer.
// While the log is too far behind, the client is not read, and what came
// waits in its buffer.
func (h *logHandler) OnData(c *loop.Conn) {
	lc := c.Context().(*logClient)
	if h.sink.out.holdUnlessRoom(lc.resume) {
		c.PauseRead()
		return
	}
	data := c.Next(-1)
	var lines [][]byte
	for len(data) > 0 {
		// Look for the newline only as far as the held part leaves room
		// for: a line is cut at logMaxLine bytes however the reads split
		// it (a newline at index room ends a line of exactly logMaxLine).
		room := logMaxLine - len(lc.partial)
		i := bytes.IndexByte(data[:min(len(data), room+1)], '\n')
		if i < 0 {
			if len(data) <= room {
				lc.partial = append(lc.partial, data...)
				break
			}
			i = room // a line too long to hold: print this much now
		}
		line := data[:i]
		if len(lc.partial) > 0 {
			line = append(lc.partial, line...)
			lc.partial = nil
		}
		if i < len(data) && data[i] == '\n' {
			i++
			line = bytes.TrimSuffix(line, []byte("\r"))
		} else if cut := runeCut(line); cut > 0 {
			// A piece of a long line ends before a UTF-8 character that
			// it would cut: the character starts the next piece.
			lc.partial = append(lc.partial, line[cut:]...)
			line = line[:cut]
		}
		lines = append(lines, safetext.Escape(line))
		data = data[i:]
	}
	if len(lines) > 0 {
		h.sink.write(true, lc.addr+": ", lines...)
	}
}

// OnClose prints a line the client left unfinished, then the disconnect.
func (h *logHandler) OnClose(c *loop.Conn, err error) {
	lc := c.Context().(*logClient)
	if len(lc.partial) > 0 {
		h.sink.write(true, lc.addr+": ", safetext.Escape(lc.partial))
	}
	status := " disconnected"
	if err != nil {
		status += fmt.Sprintf(" (%v)", err)
	}
	h.sink.write(false, "", []byte(lc.addr+status))
}
