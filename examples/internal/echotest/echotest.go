// Package echotest runs an example echo server (selectecho, pollecho) in a
// child process for its tests, and talks to it as the Python select
// tutorials' clients do. The test binary doubles as the example: see Main.
package echotest

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/iomux/iomux/internal/python"
)

// runMainEnv set to 1 makes the test binary run the example's main.
const runMainEnv = "IOMUX_EXAMPLE_RUN_MAIN"

// wait bounds every wait in the examples' tests.
const wait = 20 * time.Second

// Main is the example's TestMain: with runMainEnv set it runs the
// example's main instead of the tests, so the example runs as its own
// process (it serves until killed) without a separate go build.
func Main(m *testing.M, main func()) {
	if os.Getenv(runMainEnv) == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// Command is the example run with args, as Start runs it.
func Command(args ...string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), runMainEnv+"=1")
	return cmd
}

// Server is the example running in a child process.
type Server struct {
	Addr string // where it listens
	mu   sync.Mutex
	log  bytes.Buffer // its stderr
	seen chan struct{}
}

var startLine = regexp.MustCompile(`starting up on (\S+) port (\d+)`)

// Start runs the example on an ephemeral port (plus args) and waits for it
// to listen; it is killed at cleanup.
func Start(t *testing.T, args ...string) *Server {
	t.Helper()
	cmd := Command(append([]string{"-addr", "127.0.0.1:0"}, args...)...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &Server{seen: make(chan struct{}, 1)}
	addrs := make(chan string, 1)
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			s.mu.Lock()
			s.log.WriteString(sc.Text() + "\n")
			s.mu.Unlock()
			select {
			case s.seen <- struct{}{}:
			default:
			}
			if m := startLine.FindStringSubmatch(sc.Text()); m != nil {
				addrs <- net.JoinHostPort(m[1], m[2])
			}
		}
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-copied
		cmd.Wait()
	})
	select {
	case s.Addr = <-addrs:
	case <-time.After(wait):
		t.Fatal("the example did not start")
	}
	return s
}

// WaitLog waits until the server's log contains want.
func (s *Server) WaitLog(t *testing.T, want string) {
	t.Helper()
	deadline := time.After(wait)
	for {
		s.mu.Lock()
		log := s.log.String()
		s.mu.Unlock()
		if strings.Contains(log, want) {
			return
		}
		select {
		case <-s.seen:
		case <-deadline:
			t.Fatalf("log lacks %q:\n%s", want, log)
		}
	}
}

// EchoSession sends the multiclient's message in parts, with a large part
// among them (many reads, queued chunks), on three connections, then
// checks that the server narrated it in the tutorials' words.
func (s *Server) EchoSession(t *testing.T, large string) {
	t.Helper()
	EchoParts(t, s.Addr, 3, "This is the message. ", "It will be sent ", large, "in parts.")
	s.WaitLog(t, "after reading no data")
	for _, words := range []string{"waiting for the next event", "new connection from 127.0.0.1:",
		`received "This is the message. " from`, `sending "in parts." to`, "is empty"} {
		s.WaitLog(t, words)
	}
}

// EchoParts sends each part on every connection and checks the echoes, as
// the tutorials' multiclient does.
func EchoParts(t *testing.T, addr string, conns int, parts ...string) {
	t.Helper()
	var cs []net.Conn
	for range conns {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(wait))
		cs = append(cs, c)
	}
	for _, p := range parts {
		for _, c := range cs {
			io.WriteString(c, p)
		}
		for _, c := range cs {
			got := make([]byte, len(p))
			if _, err := io.ReadFull(c, got); err != nil || string(got) != p {
				t.Fatalf("echo %q (%v), want %q", got, err, p)
			}
		}
	}
}

// PythonClients runs the tutorials' own multiclient and slow client
// against the server (skipped without python3).
func (s *Server) PythonClients(t *testing.T) {
	t.Helper()
	host, port, _ := net.SplitHostPort(s.Addr)
	out := runPython(t, "select_echo_multiclient.py", host, port)
	if strings.Count(out, "received b'in parts.'") != 2 {
		t.Errorf("multiclient output:\n%s", out)
	}
	out = runPython(t, "select_echo_slow_client.py", host, port, "0.02")
	if !strings.Contains(out, "received b' of the message.'") {
		t.Errorf("slow client output:\n%s", out)
	}
}

func runPython(t *testing.T, script string, args ...string) string {
	t.Helper()
	out, err := exec.Command(python.Need(t), append([]string{python.Script(script)}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", script, err, out)
	}
	return string(out)
}
