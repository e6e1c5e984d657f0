package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"
)

// How the servers print (their notes, the log, the -v trace) without a
// loop ever waiting for whoever reads the output: a pipe nobody reads, a
// terminal scrolled back, a full disk. A loop only appends whole lines to
// a console's bounded buffer; a goroutine of the console's own writes them
// out. What does not fit is dropped and counted; write errors are
// reported, the lines they lose counted, and writing resumes when the
// output takes bytes again.

// Console defaults.
const (
	consoleLimit      = 256 << 10              // a console's buffer: notes, the -v trace
	consoleWarnEvery  = time.Second            // at most one warning a second per console
	consoleRetry      = 250 * time.Millisecond // after a write error, the next try
	consoleFlushLimit = time.Second            // how long a stop waits for the output to be written
)

// consoleSpec says what a console is for.
type consoleSpec struct {
	prog string // "iomux log-server", for the warnings
	name string // "stdout", "the log (FILE)"
	// limit bounds the bytes waiting to be written: a Write that does not
	// fit is dropped whole (its lines counted); holdUnlessRoom holds its
	// callers from half of it. 0: consoleLimit.
	limit int
	// warn receives the warnings about this console (drops, write
	// errors), as whole lines; nil: they go into the stream itself, as
	// they may for stderr.
	warn io.Writer
	// brokenPipe, if set, is called once when the reader of the output
	// has gone away (EPIPE); unset, the console warns and discards the
	// rest of the output. Everything after it is discarded either way.
	brokenPipe func(error)
}

// console is one output stream of a server (stdout, stderr, the log).
// Write, put and holdUnlessRoom are safe from any goroutine and never
// block on the output.
type console struct {
	consoleSpec
	w io.Writer

	mu        sync.Mutex
	buf       []byte // waiting to be written: whole lines
	dropped   int64  // lines that did not fit, since the last warning
	droppedIn int64  // ... in all
	lost      int64  // lines lost to write errors, in all
	failing   error  // the last write error, while writes fail
	broken    bool   // the reader is gone: everything is discarded
	lastWarn  time.Time
	waiting   []func() // holdUnlessRoom's callers, to be told of room
	closed    bool     // close has begun: nobody is held any more

	midLine bool // the bytes written so far end in the middle of a line (a write cut short)
	kick    chan struct{}
	stop    chan struct{}
	done    chan struct{}
}

// newConsole starts a console writing to w (the goroutine ends with
// close). A console on the process's stdout or stderr makes a write to a
// pipe whose reader has gone fail with EPIPE, which the console handles,
// instead of killing the process with SIGPIPE.
func newConsole(w io.Writer, spec consoleSpec) *console {
	if f, ok := w.(*os.File); ok && (f == os.Stdout || f == os.Stderr) {
		signal.Ignore(syscall.SIGPIPE)
	}
	if spec.limit <= 0 {
		spec.limit = consoleLimit
	}
	c := &console{consoleSpec: spec, w: w,
		kick: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	go c.run()
	return c
}

// Write queues p, which should be whole lines, or drops it whole if the
// buffer is full. It never fails: a server does not stop for its output.
func (c *console) Write(p []byte) (int, error) {
	c.put(false, func(b []byte) []byte { return append(b, p...) })
	return len(p), nil
}

// put appends what add appends to the buffer, under the console's lock,
// so lines from several loops never mix. Unless force is set, what goes
// past the limit is dropped and counted; force is for a caller that was
// held by holdUnlessRoom and let through (it overshoots by one batch at
// most). put reports whether the lines were kept.
func (c *console) put(force bool, add func([]byte) []byte) bool {
	c.mu.Lock()
	at := len(c.buf)
	c.buf = add(c.buf)
	kept := true
	var warning string
	switch {
	case c.broken:
		c.lost += int64(lineCount(c.buf[at:]))
		c.buf, kept = c.buf[:at], false
	case !force && len(c.buf) > c.limit:
		n := int64(lineCount(c.buf[at:]))
		c.buf, kept = c.buf[:at], false
		c.dropped += n
		c.droppedIn += n
		if c.warn != nil && time.Since(c.lastWarn) >= consoleWarnEvery {
			warning = fmt.Sprintf("%s: %s is not keeping up: %d lines dropped (%d in all)", c.prog, c.name, c.dropped, c.droppedIn)
			c.dropped, c.lastWarn = 0, time.Now()
		}
	}
	c.mu.Unlock()
	if warning != "" {
		io.WriteString(c.warn, warning+"\n") // another console: it does not block
	}
	if kept {
		select {
		case c.kick <- struct{}{}:
		default:
		}
	}
	return kept
}

// holdUnlessRoom reports whether the caller must wait before it adds
// more: the buffer is half full. Then wake will be called, once, from the
// console's goroutine, when there is room again (or the console stops).
func (c *console) holdUnlessRoom(wake func()) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.buf) < c.limit/2 || c.broken || c.closed {
		return false
	}
	c.waiting = append(c.waiting, wake)
	return true
}

// run writes what is buffered, until close.
func (c *console) run() {
	defer close(c.done)
	var out []byte
	for {
		select {
		case <-c.kick:
		case <-c.stop:
		}
		stopping := false
		select {
		case <-c.stop:
			stopping = true
		default:
		}
		for {
			var report string
			out, report = c.take(out)
			if report != "" {
				c.write([]byte(report), stopping)
			}
			if len(out) == 0 {
				break
			}
			if !c.write(out, stopping) && stopping {
				break // no retries once stopping: what is left is lost
			}
		}
		if stopping {
			c.wakeWaiting()
			return
		}
	}
}

// take swaps the buffer with spare (the loops append to one while the
// other is written) and returns what was buffered, and the report of
// lines dropped when the console reports into its own stream; then it
// tells the held callers that there is room.
func (c *console) take(spare []byte) (out []byte, report string) {
	if cap(spare) > 4*c.limit {
		spare = nil // a burst's buffer is not kept
	}
	c.mu.Lock()
	if c.warn == nil && c.dropped > 0 && len(c.buf) > 0 {
		report = fmt.Sprintf("%s: %d lines of %s dropped: not read in time\n", c.prog, c.dropped, c.name)
		c.dropped = 0
	}
	out, c.buf = c.buf, spare[:0]
	c.mu.Unlock()
	c.wakeWaiting()
	return out, report
}

func (c *console) wakeWaiting() {
	c.mu.Lock()
	waiting := c.waiting
	c.waiting = nil
	c.mu.Unlock()
	for _, wake := range waiting {
		wake()
	}
}

// write writes p, whole lines, to the output, and reports whether it
// could. A write error loses the lines not written (the rest of a line cut
// short is kept, so that no torn line is ever followed by another), is
// reported, and the next batch is tried after consoleRetry (at once when
// stopping); EPIPE ends the output.
func (c *console) write(p []byte, stopping bool) bool {
	n, err := c.w.Write(p)
	if n > 0 {
		c.midLine = p[n-1] != '\n'
	}
	if err == nil {
		c.recovered()
		return true
	}
	rest := p[n:]
	var keep []byte
	if c.midLine {
		if i := bytes.IndexByte(rest, '\n'); i >= 0 {
			keep = rest[:i+1]
		}
	}
	lost := int64(lineCount(rest[len(keep):]))
	if brokenPipe(err) {
		c.gone(err, lost)
		return false
	}
	c.mu.Lock()
	if stopping {
		lost += int64(lineCount(keep))
	} else if len(keep) > 0 { // keep is p's, which the next take overwrites: copied
		c.buf = append(append(make([]byte, 0, len(keep)+len(c.buf)), keep...), c.buf...)
	}
	c.lost += lost
	first := c.failing == nil
	c.failing = err
	var warning string
	if first || time.Since(c.lastWarn) >= consoleWarnEvery {
		warning = fmt.Sprintf("%s: writing %s: %v: %d lines lost so far; retrying every %v", c.prog, c.name, err, c.lost, consoleRetry)
		c.lastWarn = time.Now()
	}
	c.mu.Unlock()
	c.report(warning)
	if stopping {
		return false
	}
	select {
	case <-time.After(consoleRetry):
	case <-c.stop:
	}
	select { // what came meanwhile, or keep, is tried now
	case c.kick <- struct{}{}:
	default:
	}
	return false
}

// recovered reports that writes succeed again after a failure.
func (c *console) recovered() {
	c.mu.Lock()
	var warning string
	if c.failing != nil {
		warning = fmt.Sprintf("%s: %s is written again; %d lines were lost", c.prog, c.name, c.lost)
		c.failing = nil
	}
	c.mu.Unlock()
	c.report(warning)
}

// gone handles EPIPE: the reader of the output went away.
func (c *console) gone(err error, lost int64) {
	c.mu.Lock()
	c.broken = true
	c.lost += lost + int64(lineCount(c.buf))
	c.buf = c.buf[:0]
	c.mu.Unlock()
	c.wakeWaiting()
	if c.brokenPipe != nil {
		c.brokenPipe(err)
		return
	}
	c.report(fmt.Sprintf("%s: %s: its reader went away (%v): what follows is discarded", c.prog, c.name, err))
}

// report writes a warning line to warn (nil: nowhere, the stream itself
// is what fails).
func (c *console) report(warning string) {
	if warning != "" && c.warn != nil {
		io.WriteString(c.warn, warning+"\n")
	}
}

// close writes what is buffered, waiting at most consoleFlushLimit for
// the output to take it, stops the goroutine and reports what was lost
// (to warn). A goroutine stuck in a write is left behind: the process is
// about to exit.
func (c *console) close() {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	close(c.stop)
	flushed := true
	select {
	case <-c.done:
	case <-time.After(consoleFlushLimit):
		flushed = false
	}
	c.mu.Lock()
	waiting, lost, dropped, broken := len(c.buf), c.lost, c.droppedIn, c.broken
	if flushed && c.warn == nil && c.dropped > 0 && !broken { // the report take had no line to go before
		fmt.Fprintf(c.w, "%s: %d lines of %s dropped: not read in time\n", c.prog, c.dropped, c.name)
		c.dropped = 0
	}
	c.mu.Unlock()
	if !flushed {
		c.report(fmt.Sprintf("%s: %s took nothing for %v: %d bytes or more not written", c.prog, c.name, consoleFlushLimit, waiting))
	}
	if lost > 0 && !broken {
		c.report(fmt.Sprintf("%s: %d lines of %s lost to write errors in all", c.prog, lost, c.name))
	}
	if broken && lost > 0 {
		c.report(fmt.Sprintf("%s: %d lines of %s discarded: its reader went away", c.prog, lost, c.name))
	}
	if dropped > 0 {
		c.report(fmt.Sprintf("%s: %d lines of %s dropped in all: not read in time", c.prog, dropped, c.name))
	}
}

// lineCount is how many lines p holds: its newlines, and an unfinished
// last line.
func lineCount(p []byte) int {
	n := bytes.Count(p, []byte("\n"))
	if len(p) > 0 && p[len(p)-1] != '\n' {
		n++
	}
	return n
}
