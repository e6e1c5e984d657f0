package main

// Test helpers for the client programs (echo-client, slow-client,
// chat-client, watch): servers to run them against, and a pseudo-terminal.
// Output to wait on is linetest's; the backends and the leak check are
// iomuxtest's.

import (
	"bufio"
	"io"
	"net"
	"os"
	"os/exec"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/iomux/iomux/internal/linetest"
	"github.com/iomux/iomux/internal/python"
)

// clientWait bounds every wait in these tests; generous, since other tests
// share the two cores.
const clientWait = 20 * time.Second

// testEnv is the environment of a program run by a test: stdin is the
// process's (unused by most), stdout and stderr the test's writers.
func testEnv(stdout, stderr io.Writer) *env {
	return &env{stdin: os.Stdin, stdout: stdout, stderr: stderr}
}

var peerPortLine = regexp.MustCompile(`port (\d+)`)

// pyPeer is one of the tutorials' Python servers, running.
type pyPeer struct {
	addr string           // where it listens
	out  *linetest.Output // its stdout and stderr
	kill func()           // stops it now (also done at cleanup)
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
	out := new(linetest.Output)
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
// master side) into a linetest.Output; the copy ends at cleanup, when the
// slave side is closed and the master's read fails with EIO.
func readClientPTY(t *testing.T, master, slave *os.File) *linetest.Output {
	out := new(linetest.Output)
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
