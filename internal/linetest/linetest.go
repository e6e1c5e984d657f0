// Package linetest is the text a test waits on: Lines, the lines a
// connection receives, for the test to take in order as they come, and
// Output, an io.Writer (a server's log, a program's stdout) whose text the
// test can wait for.
//
// Every wait is bounded by Timeout; a wait that runs out, or a stream that
// ends before the line a test takes, fails the test with what was seen.
package linetest

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// Timeout bounds every wait in this package: generous, since a test may
// share a loaded machine (two cores, -race) with many others.
const Timeout = 30 * time.Second

// Lines collects the lines a connection receives, from a goroutine that
// keeps reading (so the peer never meets a slow reader), for the test to
// take in order. Next, Expect, SkipTo and ExpectEOF take lines and are for
// one goroutine at a time; All may be called from any.
type Lines struct {
	conn    net.Conn
	mu      sync.Mutex
	lines   []string      // every line received, "\n" stripped
	taken   int           // how many of lines the test has taken
	end     error         // why reading ended (io.EOF at the end of the stream); nil while it goes on
	changed chan struct{} // closed and replaced when a line or the end arrives
}

// ReadLines starts collecting the lines c receives. Closing c ends the
// reading goroutine; cleanup closes c and waits for the goroutine.
func ReadLines(t testing.TB, c net.Conn) *Lines {
	l := &Lines{conn: c, changed: make(chan struct{})}
	done := make(chan struct{})
	go func() {
		defer close(done)
		r := bufio.NewReader(c)
		for {
			line, err := r.ReadString('\n')
			l.mu.Lock()
			if err != nil {
				l.end = err // a last line without its "\n" is dropped: it is no line
			} else {
				l.lines = append(l.lines, strings.TrimSuffix(line, "\n"))
			}
			close(l.changed)
			l.changed = make(chan struct{})
			l.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	t.Cleanup(func() {
		c.Close()
		<-done
	})
	return l
}

// Next takes the next line, waiting up to Timeout for it. It fails the
// test if the stream ends first, or the time runs out.
func (l *Lines) Next(t testing.TB) string {
	t.Helper()
	deadline := time.After(Timeout)
	for {
		l.mu.Lock()
		if l.taken < len(l.lines) {
			line := l.lines[l.taken]
			l.taken++
			l.mu.Unlock()
			return line
		}
		end, changed := l.end, l.changed
		l.mu.Unlock()
		if end != nil {
			t.Fatalf("%s: stream ended (%v), no more lines", l.conn.LocalAddr(), end)
		}
		select {
		case <-changed:
		case <-deadline:
			t.Fatalf("%s: timed out waiting for a line", l.conn.LocalAddr())
		}
	}
}

// Expect takes the next line (as Next) and fails the test unless it is
// want.
func (l *Lines) Expect(t testing.TB, want string) {
	t.Helper()
	if got := l.Next(t); got != want {
		t.Fatalf("%s: got line %q, want %q", l.conn.LocalAddr(), got, want)
	}
}

// SkipTo takes lines (as Next) up to and including the first that is
// want.
func (l *Lines) SkipTo(t testing.TB, want string) {
	t.Helper()
	for l.Next(t) != want {
	}
}

// ExpectEOF waits up to Timeout for the end of the stream. It fails the
// test if a line arrives that was not taken, or the time runs out.
func (l *Lines) ExpectEOF(t testing.TB) {
	t.Helper()
	deadline := time.After(Timeout)
	for {
		l.mu.Lock()
		end, changed, rest := l.end, l.changed, l.lines[l.taken:]
		l.mu.Unlock()
		if len(rest) > 0 {
			t.Fatalf("%s: lines %q before the end, want none", l.conn.LocalAddr(), rest)
		}
		if end != nil {
			return
		}
		select {
		case <-changed:
		case <-deadline:
			t.Fatalf("%s: timed out waiting for the end of the stream", l.conn.LocalAddr())
		}
	}
}

// All returns a copy of every line received so far, taken or not, in
// order; it does not wait, and takes none.
func (l *Lines) All() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.lines...)
}

// Output is an io.Writer whose text a test can wait for: WaitFor and
// WaitUntil return once the text written so far holds what they want.
// Its methods may be called from any goroutine. The zero Output is empty
// and ready to use.
type Output struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	changed chan struct{} // closed and dropped on every write; made by a wait that needs it
}

// Write appends p to the text and wakes the waits; it never fails.
func (w *Output) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	if w.changed != nil {
		close(w.changed)
		w.changed = nil
	}
	return len(p), nil
}

// String returns the text written so far.
func (w *Output) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// WaitFor waits until the text holds want at least count times. It fails
// the test, showing the text, if that takes longer than Timeout.
func (w *Output) WaitFor(t testing.TB, want string, count int) {
	t.Helper()
	w.WaitUntil(t, fmt.Sprintf("%d× %q", count, want), func(text string) bool { return strings.Count(text, want) >= count })
}

// WaitUntil waits until done(the text written so far) is true; done is
// called again after each write. It fails the test, naming what and
// showing the text, if that takes longer than Timeout.
func (w *Output) WaitUntil(t testing.TB, what string, done func(text string) bool) {
	t.Helper()
	deadline := time.After(Timeout)
	for {
		w.mu.Lock()
		text := w.buf.String()
		if w.changed == nil {
			w.changed = make(chan struct{})
		}
		changed := w.changed
		w.mu.Unlock()
		if done(text) {
			return
		}
		select {
		case <-changed:
		case <-deadline:
			t.Fatalf("timed out waiting for %s in output:\n%s", what, text)
		}
	}
}
