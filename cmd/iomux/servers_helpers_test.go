package main

// Test helpers for the server programs (echo-server, chat-server,
// log-server, time-server): run one in-process on an ephemeral port, read
// a connection's lines as they come, run a Python client against it.

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/iomux/iomux/internal/python"
)

// srvWait bounds every wait in the server tests; generous, since other
// tests share the two cores.
const srvWait = 30 * time.Second

// srvRunning is a server program running in this process.
type srvRunning struct {
	addr      string
	out, errs *clientOutput // its stdout and stderr
	stop      func() error  // graceful stop (also done at cleanup); returns run's error
}

// srvStart runs a server program (its run function) with args plus
// "--addr 127.0.0.1:0" and waits until it listens. Cleanup stops it and
// checks that it returned no error.
func srvStart(t *testing.T, run func(*env, []string) error, args ...string) *srvRunning {
	t.Helper()
	return srvStartOut(t, nil, run, args...)
}

// srvStartOut is srvStart with the server's stdout going through stdout,
// which gets s.out (nil: stdout is s.out).
func srvStartOut(t *testing.T, stdout func(io.Writer) io.Writer, run func(*env, []string) error, args ...string) *srvRunning {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s := &srvRunning{out: newClientOutput(), errs: newClientOutput()}
	addrs := make(chan net.Addr, 1)
	var out io.Writer = s.out
	if stdout != nil {
		out = stdout(s.out)
	}
	e := &env{stdout: out, stderr: s.errs, ctx: ctx, ready: func(a net.Addr) { addrs <- a }}
	done := make(chan error, 1)
	go func() { done <- run(e, append([]string{"--addr", "127.0.0.1:0"}, args...)) }()
	var once sync.Once
	var err error
	s.stop = func() error {
		once.Do(func() {
			cancel()
			select {
			case err = <-done:
			case <-time.After(srvWait):
				err = errors.New("server did not stop")
			}
		})
		return err
	}
	t.Cleanup(func() {
		if err := s.stop(); err != nil {
			t.Errorf("server: %v\nstderr:\n%s", err, s.errs)
		}
	})
	select {
	case a := <-addrs:
		s.addr = a.String()
	case err := <-done:
		t.Fatalf("server did not start: %v\nstderr:\n%s", err, s.errs)
	case <-time.After(srvWait):
		t.Fatalf("server did not start\nstderr:\n%s", s.errs)
	}
	return s
}

// srvDial connects to addr; the connection is closed at cleanup.
func srvDial(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, srvWait)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// srvLines collects the lines a connection receives, from a goroutine
// that keeps reading (so the peer is never a slow reader), for the test
// to take in order.
type srvLines struct {
	conn    net.Conn
	mu      sync.Mutex
	lines   []string
	eof     error // set when reading ended
	changed chan struct{}
	taken   int
}

// srvReadLines starts collecting c's lines; the goroutine ends when c is
// closed (at cleanup at the latest).
func srvReadLines(t *testing.T, c net.Conn) *srvLines {
	l := &srvLines{conn: c, changed: make(chan struct{})}
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
func (l *srvLines) next(t *testing.T) string {
	t.Helper()
	deadline := time.After(srvWait)
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
func (l *srvLines) expect(t *testing.T, want string) {
	t.Helper()
	if got := l.next(t); got != want {
		t.Fatalf("%s: got line %q, want %q", l.conn.LocalAddr(), got, want)
	}
}

// skipTo takes lines until one equals want.
func (l *srvLines) skipTo(t *testing.T, want string) {
	t.Helper()
	for l.next(t) != want {
	}
}

// expectEOF waits for the end of the stream, with no line left untaken.
func (l *srvLines) expectEOF(t *testing.T) {
	t.Helper()
	deadline := time.After(srvWait)
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

// srvPy is a Python client from testdata/python, running.
type srvPy struct {
	out  *clientOutput // its stdout and stderr
	done chan error    // receives its exit status
}

// srvPython starts a script from testdata/python with the given arguments
// and stdin; the test is skipped when python3 is not installed. Cleanup
// kills it if it is still running.
func srvPython(t *testing.T, stdin io.Reader, script string, args ...string) *srvPy {
	t.Helper()
	p := &srvPy{out: newClientOutput(), done: make(chan error, 1)}
	cmd := exec.Command(python.Need(t), append([]string{"-u", python.Script(script)}, args...)...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdin, p.out, p.out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() {
		err := cmd.Wait()
		close(exited)
		p.done <- err
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
	})
	return p
}

// wait waits for the script to exit and returns its output; it fails the
// test if the script failed.
func (p *srvPy) wait(t *testing.T) string {
	t.Helper()
	select {
	case err := <-p.done:
		if err != nil {
			t.Fatalf("python: %v\n%s", err, p.out)
		}
	case <-time.After(srvWait):
		t.Fatalf("python did not finish:\n%s", p.out)
	}
	return p.out.String()
}

// srvHostPort splits addr for the Python scripts' HOST PORT arguments.
func srvHostPort(t *testing.T, addr string) (string, string) {
	t.Helper()
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	return host, port
}
