package main

// Test helpers for the server programs (echo-server, chat-server,
// log-server, time-server): run one in-process on an ephemeral port, run
// a Python client against it. A connection's lines, taken as they come,
// are linetest's.

import (
	"context"
	"errors"
	"io"
	"net"
	"os/exec"
	"sync"
	"testing"
	"time"

	"github.com/iomux/iomux/internal/linetest"
	"github.com/iomux/iomux/internal/python"
)

// srvWait bounds every wait in the server tests, as it does linetest's.
const srvWait = linetest.Timeout

// srvRunning is a server program running in this process.
type srvRunning struct {
	addr      string
	out, errs *linetest.Output // its stdout and stderr
	stop      func() error     // graceful stop (also done at cleanup); returns run's error
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
	s := &srvRunning{out: new(linetest.Output), errs: new(linetest.Output)}
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

// srvPy is a Python client from testdata/python, running.
type srvPy struct {
	out  *linetest.Output // its stdout and stderr
	done chan error       // receives its exit status
}

// srvPython starts a script from testdata/python with the given arguments
// and stdin; the test is skipped when python3 is not installed. Cleanup
// kills it if it is still running.
func srvPython(t *testing.T, stdin io.Reader, script string, args ...string) *srvPy {
	t.Helper()
	p := &srvPy{out: new(linetest.Output), done: make(chan error, 1)}
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
