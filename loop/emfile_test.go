package loop

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// childEnv makes the test binary run as a subprocess server (see runChild)
// instead of running tests.
const childEnv = "LOOP_TEST_CHILD"

// childFDLimit is the RLIMIT_NOFILE of the EMFILE child.
const childFDLimit = 64

// runChild is the subprocess side: an echo server on 127.0.0.1:0 whose
// address it prints on stdout; each "stats" line on stdin prints its Stats
// as JSON; stdin's EOF stops it. Modes: "emfile" runs it under an
// RLIMIT_NOFILE of childFDLimit; "echo" runs it as it is (the server alone
// in its process, so its memory can be measured).
func runChild(mode string) int {
	switch mode {
	case "emfile":
		if err := limitFiles(childFDLimit); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	case "echo", "echo-small-buffers":
	default:
		fmt.Fprintf(os.Stderr, "unknown child mode %q\n", mode)
		return 2
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
	opts := Options{Loops: 1, Logger: logger}
	if mode == "echo-small-buffers" {
		// Socket buffers the kernel cannot grow: what a peer does not
		// read queues in the server at once, as on a busy machine.
		opts.SocketWriteBuffer = 64 << 10
	}
	s := NewServer(echoHandler{}, opts)
	if err := s.Listen("tcp", "127.0.0.1:0"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if err := s.Start(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Println(s.Addrs()[0])
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		b, _ := json.Marshal(s.Stats())
		fmt.Printf("%s\n", b)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.Stop(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "stop:", err)
		return 1
	}
	return 0
}

// child is a running subprocess server.
type child struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stdout *bufio.Reader
	stderr syncBuffer
	addr   string
}

func startChild(t *testing.T, mode string) *child {
	t.Helper()
	ch := &child{cmd: exec.Command(os.Args[0], "-test.run=^$")}
	ch.cmd.Env = append(os.Environ(), childEnv+"="+mode)
	ch.cmd.Stderr = &ch.stderr
	var err error
	if ch.stdin, err = ch.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	out, err := ch.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	ch.stdout = bufio.NewReader(out)
	if err := ch.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ch.stdin.Close()
		done := make(chan error, 1)
		go func() { done <- ch.cmd.Wait() }()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("child: %v\n%s", err, ch.stderr.String())
			}
		case <-time.After(20 * time.Second):
			ch.cmd.Process.Kill()
			<-done
			t.Errorf("child did not stop\n%s", ch.stderr.String())
		}
	})
	line, err := ch.stdout.ReadString('\n')
	if err != nil {
		t.Fatalf("child: %v\n%s", err, ch.stderr.String())
	}
	ch.addr = strings.TrimSpace(line)
	return ch
}

func (ch *child) stats(t *testing.T) Stats {
	t.Helper()
	if _, err := io.WriteString(ch.stdin, "stats\n"); err != nil {
		t.Fatal(err)
	}
	line, err := ch.stdout.ReadString('\n')
	if err != nil {
		t.Fatalf("child stats: %v\n%s", err, ch.stderr.String())
	}
	var st Stats
	if err := json.Unmarshal([]byte(line), &st); err != nil {
		t.Fatal(err)
	}
	return st
}

// cpuTime returns the user+system CPU time the process has used.
func cpuTime(t *testing.T, pid int) time.Duration {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	// Fields after the command name (which may hold spaces) in ")": state
	// is field 3, utime and stime are fields 14 and 15, in USER_HZ (100).
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(utime+stime) * 10 * time.Millisecond
}

// TestAcceptEMFILE runs a server under RLIMIT_NOFILE 64 and connects more
// clients than it can hold: the server must not spin on the listener
// (which stays readable), must count the failed accepts, log about them at
// most once a second, and serve again once clients leave.
func TestAcceptEMFILE(t *testing.T) {
	skipWithoutFileLimit(t)
	ch := startChild(t, "emfile")
	const extra = 40
	var clients []net.Conn
	var closeOnce sync.Once
	closeAll := func() {
		closeOnce.Do(func() {
			for _, c := range clients {
				c.Close()
			}
		})
	}
	t.Cleanup(closeAll)
	for range childFDLimit + extra {
		c, err := net.DialTimeout("tcp", ch.addr, 5*time.Second)
		if err != nil {
			t.Fatal(err) // the kernel completes the handshake even unaccepted
		}
		clients = append(clients, c)
	}
	// Wait until the server has run out of descriptors.
	deadline := time.Now().Add(10 * time.Second)
	var st Stats
	for st = ch.stats(t); st.AcceptErrors == 0; st = ch.stats(t) {
		if time.Now().After(deadline) {
			t.Fatalf("no accept errors with %d clients: %+v", len(clients), st)
		}
		time.Sleep(10 * time.Millisecond)
	}
	held := st.Open
	if held >= int64(len(clients)) || held == 0 {
		t.Fatalf("server holds %d of %d clients under a limit of %d", held, len(clients), childFDLimit)
	}
	// The listener is readable the whole time: a server that retries at
	// once burns a core. Measure a second of its CPU.
	pid := ch.cmd.Process.Pid
	cpu0, wall0 := cpuTime(t, pid), time.Now()
	time.Sleep(time.Second)
	cpu, wall := cpuTime(t, pid)-cpu0, time.Since(wall0)
	st = ch.stats(t)
	t.Logf("holding %d connections, %d accept errors; CPU %v in %v", st.Open, st.AcceptErrors, cpu, wall.Round(time.Millisecond))
	if cpu > wall/2 {
		t.Fatalf("server used %v of CPU in %v while out of descriptors", cpu, wall)
	}
	// The first clients were accepted and still get their echo.
	roundTrip(t, clients[0], []byte("still served"))

	closeAll()
	// Once descriptors are free, the queued connections are accepted (and
	// found closed), and a new client is served.
	c, err := net.DialTimeout("tcp", ch.addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	roundTrip(t, c, []byte("served again"))
	st = ch.stats(t)
	if st.Total < int64(len(clients))+1 {
		t.Fatalf("server accepted %d connections in all, want every one of %d", st.Total, len(clients)+1)
	}
	logged := strings.Count(ch.stderr.String(), "too many open files")
	t.Logf("EMFILE logged %d times; stats %+v", logged, st)
	if logged == 0 || logged > 5 {
		t.Fatalf("EMFILE logged %d times in a few seconds, want about once a second:\n%s", logged, ch.stderr.String())
	}
}

// syncBuffer is a bytes.Buffer safe for a writer and a reader at once.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
