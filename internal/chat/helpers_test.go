package chat

// Test helpers: a chat server on an ephemeral port, the lines a connection
// receives taken in order, output that can be waited on, and the leak
// check. cmd/iomux's tests, which run chat-server the program, have their
// twins (srvLines, clientOutput, checkLeaks): test helpers cannot be
// imported from another package's tests, and these are small.

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/iomux/iomux"
	"github.com/iomux/iomux/internal/sock"
	"github.com/iomux/iomux/loop"
)

// testWait bounds every wait in these tests; generous, since other tests
// share the two cores.
const testWait = 30 * time.Second

// running is a chat server running in this process.
type running struct {
	addr      string
	out, errs *output      // its notes (Config.Log) and its loop's log
	stop      func() error // graceful stop, then Close (also done at cleanup); returns Stop's error
}

// start runs a chat server made from cfg on 127.0.0.1 and an ephemeral
// port, on the auto backend. Cleanup stops it and checks that it stopped
// cleanly.
func start(t *testing.T, cfg Config) *running {
	t.Helper()
	return startOn(t, "auto", cfg)
}

// startOn is start on backend.
func startOn(t *testing.T, backend string, cfg Config) *running {
	t.Helper()
	s := &running{out: newOutput(), errs: newOutput()}
	cfg.Log = s.out
	srv, err := NewServer(cfg, loop.Options{Backend: backend, Logger: slog.New(slog.NewTextHandler(s.errs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Listen("tcp", "127.0.0.1:0"); err != nil {
		srv.Close()
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		srv.Close()
		t.Fatal(err)
	}
	s.addr = srv.Addrs()[0].String()
	var once sync.Once
	var stopErr error
	s.stop = func() error {
		once.Do(func() {
			// As chat-server stops: queued output gets 5 s to drain.
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			stopErr = srv.Stop(ctx)
			if errors.Is(stopErr, context.DeadlineExceeded) {
				stopErr = nil
			}
			srv.Close()
		})
		return stopErr
	}
	t.Cleanup(func() {
		if err := s.stop(); err != nil {
			t.Errorf("server: %v\nlog:\n%s", err, s.errs)
		}
	})
	return s
}

// dial connects to addr; the connection is closed at cleanup.
func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, testWait)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// smallReceiveBuffer gives a client socket a 4 KiB receive buffer, so
// what it does not read waits in the server sooner.
func smallReceiveBuffer(fd uintptr) { sock.SetBuffers(int(fd), 4096, 0) }

// lines collects the lines a connection receives, from a goroutine that
// keeps reading (so the peer is never a slow reader), for the test to
// take in order.
type lines struct {
	conn    net.Conn
	mu      sync.Mutex
	lines   []string
	eof     error // set when reading ended
	changed chan struct{}
	taken   int
}

// readLines starts collecting c's lines; the goroutine ends when c is
// closed (at cleanup at the latest).
func readLines(t *testing.T, c net.Conn) *lines {
	l := &lines{conn: c, changed: make(chan struct{})}
	done := make(chan struct{})
	go func() {
		defer close(done)
		r := bufio.NewReader(c)
		for {
			line, err := r.ReadString('\n')
			l.mu.Lock()
			if err != nil {
				l.eof = err
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

// next returns the next line not yet taken, waiting for it; at the end of
// the stream it fails the test.
func (l *lines) next(t *testing.T) string {
	t.Helper()
	deadline := time.After(testWait)
	for {
		l.mu.Lock()
		if l.taken < len(l.lines) {
			line := l.lines[l.taken]
			l.taken++
			l.mu.Unlock()
			return line
		}
		eof, changed := l.eof, l.changed
		l.mu.Unlock()
		if eof != nil {
			t.Fatalf("%s: stream ended (%v), no more lines", l.conn.LocalAddr(), eof)
		}
		select {
		case <-changed:
		case <-deadline:
			t.Fatalf("%s: timed out waiting for a line", l.conn.LocalAddr())
		}
	}
}

// expect takes the next line and checks it is want.
func (l *lines) expect(t *testing.T, want string) {
	t.Helper()
	if got := l.next(t); got != want {
		t.Fatalf("%s: got line %q, want %q", l.conn.LocalAddr(), got, want)
	}
}

// skipTo takes lines until one equals want.
func (l *lines) skipTo(t *testing.T, want string) {
	t.Helper()
	for l.next(t) != want {
	}
}

// expectEOF waits for the end of the stream, with no line left untaken.
func (l *lines) expectEOF(t *testing.T) {
	t.Helper()
	deadline := time.After(testWait)
	for {
		l.mu.Lock()
		eof, changed, rest := l.eof, l.changed, l.lines[l.taken:]
		l.mu.Unlock()
		if len(rest) > 0 {
			t.Fatalf("%s: lines %q before the end, want none", l.conn.LocalAddr(), rest)
		}
		if eof != nil {
			return
		}
		select {
		case <-changed:
		case <-deadline:
			t.Fatalf("%s: timed out waiting for the end of the stream", l.conn.LocalAddr())
		}
	}
}

// output is an io.Writer that tests can wait on: waitFor returns once the
// text written so far contains a string.
type output struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	changed chan struct{} // closed and replaced on every write
}

func newOutput() *output { return &output{changed: make(chan struct{})} }

func (w *output) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	close(w.changed)
	w.changed = make(chan struct{})
	return len(p), nil
}

func (w *output) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// waitFor waits until the output contains want at least count times, and
// fails the test if it does not within testWait.
func (w *output) waitFor(t *testing.T, want string, count int) {
	t.Helper()
	deadline := time.After(testWait)
	for {
		w.mu.Lock()
		text, changed := w.buf.String(), w.changed
		w.mu.Unlock()
		if strings.Count(text, want) >= count {
			return
		}
		select {
		case <-changed:
		case <-deadline:
			t.Fatalf("timed out waiting for %d× %q in output:\n%s", count, want, text)
		}
	}
}

// forEachBackend runs f as a subtest on every backend this OS has, each
// checked for leaked goroutines and descriptors.
func forEachBackend(t *testing.T, f func(t *testing.T, backend string)) {
	for _, b := range iomux.Backends() {
		t.Run(b, func(t *testing.T) {
			checkLeaks(t)
			f(t, b)
		})
	}
}

// checkLeaks fails the test if, once its cleanups have run, it has left
// goroutines or open descriptors behind. Call it first, so that its
// cleanup runs last.
func checkLeaks(t *testing.T) {
	fds, countable := openFDs()
	if !countable {
		t.Logf("cannot list open descriptors (none of %v): not checking them for leaks", fdDirs)
	}
	ignore := goleak.IgnoreCurrent()
	t.Cleanup(func() {
		if t.Failed() {
			return
		}
		goleak.VerifyNone(t, ignore)
		// Fewer is no leak: an earlier test's descriptor may close
		// meanwhile.
		if now, _ := openFDs(); countable && now > fds {
			t.Errorf("%d descriptors open after the test, %d before", now, fds)
		}
	})
}

// openFDs counts the entries of the first of fdDirs that can be listed;
// ok is false when none can.
func openFDs() (n int, ok bool) {
	for _, dir := range fdDirs {
		if entries, err := os.ReadDir(dir); err == nil {
			return len(entries), true
		}
	}
	return 0, false
}
