package main

// The programs as real processes: the test binary runs as iomux itself
// when procMainEnv is set (see TestMain), so that what only a process has
// can be tested: its stdout a pipe that nobody reads or whose reader is
// gone, SIGPIPE, a lowered RLIMIT_NOFILE.

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/iomux/iomux/internal/linetest"
)

const (
	procMainEnv   = "IOMUX_TEST_MAIN"   // set: the test binary is iomux, its arguments the program's
	procNofileEnv = "IOMUX_TEST_NOFILE" // with procMainEnv: the RLIMIT_NOFILE to run under
)

func TestMain(m *testing.M) {
	if os.Getenv(procMainEnv) == "" {
		os.Exit(m.Run())
	}
	if n := os.Getenv(procNofileEnv); n != "" {
		limit, err := strconv.ParseUint(n, 10, 64)
		if err == nil {
			err = limitFiles(limit)
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "%s=%s: %v\n", procNofileEnv, n, err)
			os.Exit(1)
		}
	}
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// procServer is a server program running as a process of its own.
type procServer struct {
	cmd  *exec.Cmd
	addr string
	errs *linetest.Output // its stderr, as it comes
	done chan struct{}    // closed when it has exited
	err  error            // how it exited, once done is closed
}

var procStartLine = regexp.MustCompile(`starting up on (\S+) port (\d+)`)

// startProc runs "iomux args... --addr 127.0.0.1:0" as a process, with
// stdout (nil: /dev/null) and env added to the test's environment, and
// waits until it listens. Cleanup stops it (SIGTERM, then SIGKILL).
func startProc(t testing.TB, stdout *os.File, env []string, args ...string) *procServer {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, append(args, "--addr", "127.0.0.1:0")...)
	cmd.Env = append(append(os.Environ(), procMainEnv+"=1"), env...)
	if stdout != nil {
		cmd.Stdout = stdout
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	p := &procServer{cmd: cmd, errs: new(linetest.Output), done: make(chan struct{})}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	addrs := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			p.errs.Write(append(sc.Bytes(), '\n'))
			if m := procStartLine.FindStringSubmatch(sc.Text()); m != nil {
				select {
				case addrs <- m[1] + ":" + m[2]:
				default:
				}
			}
		}
		io.Copy(io.Discard, stderr)
		p.err = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		terminateProc(cmd.Process)
		select {
		case <-p.done:
		case <-time.After(srvWait):
			cmd.Process.Kill()
			<-p.done
		}
	})
	select {
	case p.addr = <-addrs:
	case <-p.done:
		t.Fatalf("iomux %v exited (%v) before listening:\n%s", args, p.err, p.errs)
	case <-time.After(srvWait):
		t.Fatalf("iomux %v did not start:\n%s", args, p.errs)
	}
	return p
}

// terminate asks the server to stop (SIGTERM), without waiting for it.
func (p *procServer) terminate() { terminateProc(p.cmd.Process) }

// wait waits for the process to exit by itself and returns how it did.
func (p *procServer) wait(t *testing.T) error {
	t.Helper()
	select {
	case <-p.done:
		return p.err
	case <-time.After(srvWait):
		t.Fatalf("the server did not exit:\n%s", p.errs)
	}
	return nil
}

// exitSignal is the signal that ended a process (0: it exited).
func exitSignal(err error) syscall.Signal {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return ws.Signal()
		}
	}
	return 0
}

// fullPipe returns a pipe whose buffer is already full and that nobody
// reads: a writer to w blocks at once. Both ends are closed at cleanup.
func fullPipe(t *testing.T) (r, w *os.File) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close(); w.Close() })
	fillPipe(t, w)
	return r, w
}
