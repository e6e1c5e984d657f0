package main

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/iomux/iomux"
	"github.com/iomux/iomux/internal/safetext"
)

// The Python select tutorials' non-blocking clients (pollclient.py,
// selectclient.py): a program that stays busy (the spinner) while it waits
// for the network.

// watchProgram is iomux watch.
func watchProgram() *command {
	return &command{
		name:    "watch",
		summary: "print what a server sends, with a spinner while waiting (the tutorials' poll/select client)",
		usage: `Usage: iomux watch [--addr 127.0.0.1:51423] [--tls [--tls-ca FILE]] [--backend auto] [--timeout 10s] [-v]

The Python select tutorials' non-blocking client (pollclient.py /
selectclient.py). Connects, then waits on the socket with a 50 ms timeout,
over and over: what arrives is printed as "Received: ..." lines, and on a
terminal a bouncing spinner moves on every timeout to show the program is
not blocked. When stdout is not a terminal it prints plain lines and no
spinner. The server's control bytes are printed as escapes (\x1b, \x07),
never passed to the terminal (a title, the clipboard, a cleared screen),
as chat-client shows the others' lines; carriage returns are dropped.

Exits 0 with "Remote end closed connection; exiting." when the server
closes the connection, and non-zero with "Problem occurred; exiting." when
the connection fails. --backend poll is pollclient.py, --backend select is
selectclient.py. -v traces what arrives ("received ... from ...") and the
end of the stream on stderr. With --tls it runs a TLS handshake after
connecting and prints the plaintext.

Example:
  $ iomux time-server --interval 1s &
  $ iomux watch --backend poll
  Received: Mon Nov 23 18:51:34 2026
  ...|......
`,
		run: runWatch,
	}
}

// watchTick is the tutorials' poll(50) / select(..., 0.05): how often the
// spinner moves while nothing arrives.
const watchTick = 50 * time.Millisecond

func runWatch(e *env, args []string) error {
	fs := newFlags(watchProgram())
	var opt clientOptions
	opt.bind(fs, "127.0.0.1:51423")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected arguments %q", errUsage, fs.Args())
	}
	w := &watcher{out: e.stdout, terminal: isTerminal(e.stdout), spin: spinner{size: 10, dir: 1}}
	trace := func(format string, args ...any) { w.trace(&opt, e.stderr, format, args...) }
	sel, err := opt.setup()
	if err != nil {
		return err
	}
	defer sel.Close()
	st, closeConn, err := opt.connect(sel, iomux.Readable, trace)
	if err != nil {
		return err
	}
	defer closeConn()

	err = w.run(sel, st, trace)
	if err != nil {
		w.line("Problem occurred; exiting.")
		return err
	}
	w.line("Remote end closed connection; exiting.")
	return nil
}

// watcher prints what arrives line by line, and the spinner in between.
type watcher struct {
	out      io.Writer
	terminal bool   // stdout is a terminal: draw the spinner
	partial  []byte // the start of a line whose newline has not come yet
	spin     spinner
}

// run waits on the socket, watchTick at a time, until the server closes it
// (nil) or the connection fails (the error).
func (w *watcher) run(sel iomux.Selector, st *clientStream, trace func(string, ...any)) error {
	ready := make([]iomux.Ready, 1)
	buf := make([]byte, 4096)
	for {
		n, err := st.wait(sel, watchTick, ready)
		if err != nil {
			return err
		}
		if n > 0 {
			data, err := st.read(buf)
			if len(data) > 0 {
				w.received(data)
			}
			switch {
			case err == io.EOF:
				trace("closing socket after reading no data")
				w.flush()
				return nil
			case err != nil:
				return fmt.Errorf("receive: %w", err)
			}
		}
		if w.terminal {
			fmt.Fprintf(w.out, "\r%s ", w.spin.next())
		}
	}
}

// trace prints a -v line on stderr; when that is the terminal too, the
// spinner is cleared first (it is drawn again at the next tick).
func (w *watcher) trace(opt *clientOptions, stderr io.Writer, format string, args ...any) {
	if opt.verbose && w.terminal && isTerminal(stderr) {
		fmt.Fprint(w.out, "\r\x1b[K")
	}
	opt.tracef(stderr, format, args...)
}

// received prints each complete line as "Received: line"; a partial line
// waits for its end, unless it grows past one read's worth (then it is
// printed up to the last whole UTF-8 character).
func (w *watcher) received(data []byte) {
	w.partial = append(w.partial, data...)
	for {
		i := bytes.IndexByte(w.partial, '\n')
		if i < 0 {
			break
		}
		w.show(w.partial[:i])
		w.partial = w.partial[i+1:]
	}
	if len(w.partial) >= 4096 {
		cut := runeCut(w.partial)
		if cut == 0 {
			cut = len(w.partial)
		}
		w.show(w.partial[:cut])
		w.partial = w.partial[cut:]
	}
	w.partial = append([]byte(nil), w.partial...) // do not pin the old buffer
}

// flush prints a partial line as if it were complete.
func (w *watcher) flush() {
	if len(w.partial) > 0 {
		w.show(w.partial)
		w.partial = w.partial[:0]
	}
}

// show prints a line from the server as chat-client shows the others'
// lines (safetext.ForTerminal): the server's bytes may not drive the
// terminal (set its title or clipboard with OSC 0 or 52, clear it with
// CSI 2J), so its controls are printed as escapes, on a terminal or not
// (what is piped is read on a terminal later).
func (w *watcher) show(line []byte) {
	w.line("Received: " + string(safetext.ForTerminal(line)))
}

// line prints one line; on a terminal it first clears the spinner.
func (w *watcher) line(s string) {
	if w.terminal {
		s = "\r\x1b[K" + s
	}
	fmt.Fprintln(w.out, s)
}

// spinner is the tutorials' bouncing bar: a '|' that moves along ten dots and
// turns at each end.
type spinner struct {
	size, pos, dir int
}

// next draws the spinner where it is, then moves it one step.
func (s *spinner) next() string {
	bar := strings.Repeat(".", s.pos) + "|" + strings.Repeat(".", s.size-s.pos-1)
	s.pos += s.dir
	if s.pos < 0 {
		s.pos, s.dir = 1, 1
	} else if s.pos >= s.size {
		s.pos, s.dir = s.pos-2, -1
	}
	return bar
}
