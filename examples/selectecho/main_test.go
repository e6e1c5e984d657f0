package main

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// The test binary doubles as the example: with this variable set, TestMain
// runs main instead of the tests, so the example runs as its own process
// (it serves until killed) without a separate go build.
const runMainEnv = "IOMUX_EXAMPLE_RUN_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(runMainEnv) == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// server is the example running in a child process.
type server struct {
	addr string
	mu   sync.Mutex
	log  bytes.Buffer // its stderr
	seen chan struct{}
}

var startLine = regexp.MustCompile(`starting up on (\S+) port (\d+)`)

// start runs the example on an ephemeral port and waits for it to listen.
func start(t *testing.T, args ...string) *server {
	t.Helper()
	cmd := exec.Command(os.Args[0], append([]string{"-addr", "127.0.0.1:0"}, args...)...)
	cmd.Env = append(os.Environ(), runMainEnv+"=1")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &server{seen: make(chan struct{}, 1)}
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
	case s.addr = <-addrs:
	case <-time.After(20 * time.Second):
		t.Fatal("the example did not start")
	}
	return s
}

// waitLog waits until the server's log contains want.
func (s *server) waitLog(t *testing.T, want string) {
	t.Helper()
	deadline := time.After(20 * time.Second)
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

// echoParts sends each part on every connection and checks the echoes, as
// the seeds' multiclient does.
func echoParts(t *testing.T, addr string, conns int, parts ...string) {
	t.Helper()
	var cs []net.Conn
	for range conns {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(20 * time.Second))
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

func TestSelectEcho(t *testing.T) {
	s := start(t)
	big := strings.Repeat("select! ", 8<<10) // 64 KiB: many reads, queued chunks
	echoParts(t, s.addr, 3, "This is the message. ", "It will be sent ", big, "in parts.")
	s.waitLog(t, "after reading no data")
	for _, words := range []string{"waiting for the next event", "new connection from 127.0.0.1:",
		`received "This is the message. " from`, `sending "in parts." to`, "is empty"} {
		s.waitLog(t, words)
	}
}

func TestSelectEchoTimeout(t *testing.T) {
	s := start(t, "-timeout", "10ms")
	s.waitLog(t, "  timed out, do some other work here")
	echoParts(t, s.addr, 1, "Part one of the message.", "Part two of the message.")
}

// python runs one of the seeds' Python clients against the example.
func python(t *testing.T, script string, args ...string) string {
	t.Helper()
	shim, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 not installed")
	}
	// The interpreter's own path: a pyenv shim costs seconds per start.
	py := shim
	if out, err := exec.Command(shim, "-c", "import sys; print(sys.executable)").Output(); err == nil {
		py = strings.TrimSpace(string(out))
	}
	path := filepath.Join("..", "..", "testdata", "python", script)
	out, err := exec.Command(py, append([]string{path}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", script, err, out)
	}
	return string(out)
}

func TestSelectEchoPythonClients(t *testing.T) {
	s := start(t)
	host, port, _ := net.SplitHostPort(s.addr)
	out := python(t, "select_echo_multiclient.py", host, port)
	if strings.Count(out, "received b'in parts.'") != 2 {
		t.Errorf("multiclient output:\n%s", out)
	}
	out = python(t, "select_echo_slow_client.py", host, port, "0.02")
	if !strings.Contains(out, "received b' of the message.'") {
		t.Errorf("slow client output:\n%s", out)
	}
}
