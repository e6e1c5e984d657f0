package main

// Test helpers for the client programs (echo-client, slow-client,
// chat-client, watch): servers to run them against, an output buffer that
// can be waited on, and a pseudo-terminal.

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/iomux/iomux"
	"github.com/iomux/iomux/internal/python"
)

// clientWait bounds every wait in these tests; generous, since other tests
// share the two cores.
const clientWait = 20 * time.Second

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

// checkLeaks fails the test if, once its cleanups have run, it has
// left goroutines or open descriptors behind. Call it first, so that its
// cleanup runs last.
func checkLeaks(t *testing.T) {
	fds, countable := openFDs(fdDirs)
	if !countable {
		t.Logf("cannot list open descriptors (none of %v): not checking them for leaks", fdDirs)
	}
	ignore := goleak.IgnoreCurrent()
	t.Cleanup(func() {
		if t.Failed() {
			return
		}
		goleak.VerifyNone(t, ignore)
		// Fewer is no leak: an earlier test's descriptor (a child's pipe,
		// say) may close meanwhile.
		if now, _ := openFDs(fdDirs); countable && now > fds {
			t.Errorf("%d descriptors open after the test, %d before", now, fds)
		}
	})
}

// openFDs counts the entries of the first of dirs that can be listed; ok
// is false when none can.
func openFDs(dirs []string) (n int, ok bool) {
	for _, dir := range dirs {
		if entries, err := os.ReadDir(dir); err == nil {
			return len(entries), true
		}
	}
	return 0, false
}

// testEnv is the environment of a program run by a test: stdin is the
// process's (unused by most), stdout and stderr the test's writers.
func testEnv(stdout, stderr io.Writer) *env {
	return &env{stdin: os.Stdin, stdout: stdout, stderr: stderr}
}

// clientOutput is an io.Writer that tests can wait on: waitFor returns
// once the text written so far contains a string.
type clientOutput struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	changed chan struct{} // closed and replaced on every write
}

func newClientOutput() *clientOutput { return &clientOutput{changed: make(chan struct{})} }

func (w *clientOutput) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	close(w.changed)
	w.changed = make(chan struct{})
	return len(p), nil
}

func (w *clientOutput) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// waitFor waits until the output contains want at least count times, and
// fails the test if it does not within clientWait.
func (w *clientOutput) waitFor(t *testing.T, want string, count int) {
	t.Helper()
	w.waitUntil(t, fmt.Sprintf("%d× %q", count, want), func(text string) bool { return strings.Count(text, want) >= count })
}

// waitUntil waits until done(the output so far) is true, and fails the
// test, naming what, if it is not within clientWait.
func (w *clientOutput) waitUntil(t *testing.T, what string, done func(string) bool) {
	t.Helper()
	deadline := time.After(clientWait)
	for {
		w.mu.Lock()
		text, changed := w.buf.String(), w.changed
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

var peerPortLine = regexp.MustCompile(`port (\d+)`)

// pyPeer is one of the tutorials' Python servers, running.
type pyPeer struct {
	addr string        // where it listens
	out  *clientOutput // its stdout and stderr
	kill func()        // stops it now (also done at cleanup)
}

// startPyPeer runs one of the tutorials' Python servers from testdata/python
// on 127.0.0.1 and an ephemeral port (plus extra arguments) and waits for
// the line that names its port. The test is skipped when python3 is not
// installed.
func startPyPeer(t *testing.T, script string, extra ...string) *pyPeer {
	t.Helper()
	args := append([]string{"-u", python.Script(script), "127.0.0.1", "0"}, extra...)
	cmd := exec.Command(python.Need(t), args...)
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	out := newClientOutput()
	copied := make(chan struct{})
	var once sync.Once
	kill := func() {
		once.Do(func() {
			cmd.Process.Kill()
			cmd.Wait()
			pw.Close()
			<-copied
		})
	}
	t.Cleanup(kill)
	ports := make(chan string, 1)
	go func() {
		defer close(copied)
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			out.Write(append(sc.Bytes(), '\n'))
			if m := peerPortLine.FindStringSubmatch(sc.Text()); m != nil {
				select {
				case ports <- m[1]:
				default:
				}
			}
		}
		io.Copy(io.Discard, pr)
	}()
	select {
	case port := <-ports:
		return &pyPeer{addr: net.JoinHostPort("127.0.0.1", port), out: out, kill: kill}
	case <-time.After(clientWait):
		t.Fatalf("%s did not start:\n%s", script, out)
	}
	return nil
}

// peerServer is a Go TCP server on 127.0.0.1:0 whose connections are
// handled by serve, each in its own goroutine; everything is closed and
// waited for at cleanup.
type peerServer struct {
	ln    net.Listener
	wg    sync.WaitGroup
	mu    sync.Mutex
	conns []net.Conn
}

func startPeerServer(t *testing.T, serve func(c net.Conn)) *peerServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &peerServer{ln: ln}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.mu.Lock()
			s.conns = append(s.conns, c)
			s.mu.Unlock()
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				defer c.Close()
				serve(c)
			}()
		}
	}()
	t.Cleanup(s.stop)
	return s
}

func (s *peerServer) addr() string { return s.ln.Addr().String() }

// stop closes the listener and every connection, and waits for the
// handlers to return.
func (s *peerServer) stop() {
	s.ln.Close()
	s.mu.Lock()
	for _, c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
}

// startPeerEcho is a Go echo server; corrupt, if not nil, may change each
// chunk before it is echoed.
func startPeerEcho(t *testing.T, corrupt func([]byte)) *peerServer {
	return startPeerServer(t, func(c net.Conn) {
		buf := make([]byte, 4096)
		for {
			n, err := c.Read(buf)
			if err != nil {
				return
			}
			if corrupt != nil {
				corrupt(buf[:n])
			}
			if _, err := c.Write(buf[:n]); err != nil {
				return
			}
		}
	})
}

// readClientPTY copies what the program writes to the terminal (read from the
// master side) into a clientOutput; the copy ends at cleanup, when the
// slave side is closed and the master's read fails with EIO.
func readClientPTY(t *testing.T, master, slave *os.File) *clientOutput {
	out := newClientOutput()
	done := make(chan struct{})
	go func() {
		defer close(done)
		io.Copy(out, master)
	}()
	t.Cleanup(func() {
		slave.Close()
		<-done
	})
	return out
}

// The leak check counts descriptors wherever the OS lists them: each of
// fdDirs this OS has sees one more after an open, and a missing /proc
// falls back to /dev/fd instead of skipping the test.
func TestOpenFDsCountsDescriptors(t *testing.T) {
	if _, ok := openFDs([]string{"/nonexistent/fd", "/also/missing"}); ok {
		t.Fatal("openFDs listed a directory that does not exist")
	}
	listed := 0
	for _, dir := range fdDirs {
		dirs := []string{"/nonexistent/fd", dir} // as on macOS: no /proc, /dev/fd
		before, ok := openFDs(dirs)
		if !ok {
			continue
		}
		listed++
		f, err := os.Open(os.DevNull)
		if err != nil {
			t.Fatal(err)
		}
		during, _ := openFDs(dirs)
		f.Close()
		after, _ := openFDs(dirs)
		if during != before+1 || after != before {
			t.Errorf("%s: %d descriptors, %d with one more open, %d once closed; want %d, %d, %d",
				dir, before, during, after, before, before+1, before)
		}
	}
	if listed == 0 {
		t.Skipf("none of %v can be listed here", fdDirs)
	}
}
