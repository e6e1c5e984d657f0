package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/iomux/iomux/loop"
)

func init() {
	register(&command{
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
printed in 64 KiB pieces rather than held without bound. Lines from
different clients never mix: each is written whole, under one lock, however
many loops read them.

Example:
  $ iomux log-server --out /tmp/clients.log &
  $ echo hello | nc -q1 127.0.0.1 1234
  $ cat /tmp/clients.log
`,
		run: runLogServer,
	})
}

// logMaxLine bounds how much of one line is held before it is printed.
const logMaxLine = 64 << 10

const logTimeFormat = "2006-01-02 15:04:05.000"

// logSink is the single writer every loop logs through: a buffered writer
// under a mutex, flushed once per batch of lines, so a line is always
// written whole and a busy client costs one write(2) per read, not per line.
type logSink struct {
	mu sync.Mutex
	w  *bufio.Writer
}

// write prints lines (each without its newline) from who, as one batch.
func (s *logSink) write(who string, lines ...[]byte) {
	now := time.Now().Format(logTimeFormat)
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, line := range lines {
		s.w.WriteString(now)
		s.w.WriteByte(' ')
		s.w.WriteString(who)
		s.w.Write(line)
		s.w.WriteByte('\n')
	}
	s.w.Flush()
}

// logClient is what the server keeps per connection.
type logClient struct {
	addr    string
	partial []byte // a line still waiting for its newline
}

// logHandler logs what its clients send.
type logHandler struct {
	loop.BaseHandler
	sink *logSink
}

func runLogServer(e *env, args []string) error {
	fs := newFlags(commands["log-server"])
	var opt serverOptions
	opt.bind(fs, "127.0.0.1:1234", true)
	outPath := fs.String("out", "", "append the log to this `file` (mode 0600) instead of stdout")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := opt.check(fs); err != nil {
		return err
	}
	out := e.stdout
	if *outPath != "" {
		f, err := os.OpenFile(*outPath, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
		if err != nil {
			return err
		}
		defer f.Close()
		out = f
	}
	h := &logHandler{sink: &logSink{w: bufio.NewWriterSize(out, 64<<10)}}
	return opt.serve(e, loop.NewServer(h, opt.loopOptions(e.stderr)))
}

func (h *logHandler) OnOpen(c *loop.Conn) {
	lc := &logClient{addr: c.RemoteAddr().String()}
	c.SetContext(lc)
	h.sink.write("", []byte("Got connection from "+lc.addr))
}

// OnData prints every complete line and holds the tail. The read buffer is
// the loop's: the lines are written (copied into the sink) before OnData
// returns, and only the partial tail is kept, in the client's own buffer.
func (h *logHandler) OnData(c *loop.Conn) {
	lc := c.Context().(*logClient)
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
		lines = append(lines, escapeControls(bytes.TrimSuffix(line, []byte("\r"))))
		if i < len(data) && data[i] == '\n' {
			i++
		}
		data = data[i:]
	}
	if len(lines) > 0 {
		h.sink.write(lc.addr+": ", lines...)
	}
}

// OnClose prints a line the client left unfinished, then the disconnect.
func (h *logHandler) OnClose(c *loop.Conn, err error) {
	lc := c.Context().(*logClient)
	if len(lc.partial) > 0 {
		h.sink.write(lc.addr+": ", escapeControls(lc.partial))
	}
	status := " disconnected"
	if err != nil {
		status += fmt.Sprintf(" (%v)", err)
	}
	h.sink.write("", []byte(lc.addr+status))
}
