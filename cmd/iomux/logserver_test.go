package main

import (
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/iomux/iomux/internal/iomuxtest"
)

// srvLogLine is one line of the log-server's output.
var srvLogLine = regexp.MustCompile(`^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} (?:Got connection from (\S+)|(\S+): (.*)|(\S+) disconnected)$`)

// srvLogClient sends lines in random pieces (lines split across writes,
// several lines in one write), the last one without its newline, shuts
// down its side and waits for the server to close (then the server has
// read everything). It returns its address and the lines it sent.
func srvLogClient(addr string, id, lines int) (string, []string, error) {
	c, err := net.DialTimeout("tcp", addr, srvWait)
	if err != nil {
		return "", nil, err
	}
	defer c.Close()
	rng := rand.New(rand.NewPCG(uint64(id), 1))
	var sent []string
	var stream []byte
	for j := range lines {
		line := fmt.Sprintf("client %d line %d %s", id, j, strings.Repeat("=", rng.IntN(300)))
		sent = append(sent, line)
		stream = append(stream, line...)
		if j < lines-1 {
			stream = append(stream, '\n')
		}
	}
	c.SetWriteDeadline(time.Now().Add(srvWait))
	for len(stream) > 0 {
		n := min(len(stream), 1+rng.IntN(700))
		if _, err := c.Write(stream[:n]); err != nil {
			return "", nil, err
		}
		stream = stream[n:]
	}
	c.(*net.TCPConn).CloseWrite()
	c.SetReadDeadline(time.Now().Add(srvWait))
	if n, err := c.Read(make([]byte, 1)); n != 0 || err != io.EOF {
		return "", nil, fmt.Errorf("after our EOF: read %d bytes, %v; want the server's EOF", n, err)
	}
	return c.LocalAddr().String(), sent, nil
}

// srvCheckLog checks the log-server's output: every line well formed, and
// each client's lines complete, in order, attributed to it, between its
// connection and disconnection lines.
func srvCheckLog(t *testing.T, log string, sent map[string][]string) {
	t.Helper()
	got := map[string][]string{}
	state := map[string]string{} // "", "open", "closed"
	for _, line := range strings.Split(strings.TrimSuffix(log, "\n"), "\n") {
		m := srvLogLine.FindStringSubmatch(line)
		if m == nil {
			t.Fatalf("malformed (torn?) log line %.120q", line)
		}
		switch {
		case m[1] != "":
			if state[m[1]] != "" {
				t.Fatalf("%s connected twice", m[1])
			}
			state[m[1]] = "open"
		case m[2] != "":
			if state[m[2]] != "open" {
				t.Fatalf("line from %s outside its connection: %.80q", m[2], line)
			}
			got[m[2]] = append(got[m[2]], m[3])
		default:
			state[m[4]] = "closed"
		}
	}
	for addr, lines := range sent {
		if state[addr] != "closed" {
			t.Errorf("%s: connection state %q at the end", addr, state[addr])
		}
		if strings.Join(got[addr], "\n") != strings.Join(lines, "\n") {
			t.Errorf("%s: logged %d lines, sent %d, or they differ", addr, len(got[addr]), len(lines))
		}
	}
}

func srvLogClients(t *testing.T, addr string, clients, lines int) map[string][]string {
	t.Helper()
	var mu sync.Mutex
	var wg sync.WaitGroup
	sent := map[string][]string{}
	for i := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			local, lines, err := srvLogClient(addr, i, lines)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				t.Error(err)
				return
			}
			sent[local] = lines
		}()
	}
	wg.Wait()
	return sent
}

func TestLogServerManyClients(t *testing.T) {
	iomuxtest.ForEachBackend(t, func(t *testing.T, backend string) {
		s := srvStart(t, runLogServer, "--backend", backend, "--loops", "2")
		const clients = 50
		sent := srvLogClients(t, s.addr, clients, 40)
		s.out.WaitFor(t, " disconnected\n", clients)
		srvCheckLog(t, s.out.String(), sent)
	})
}

func TestLogServerOutFile(t *testing.T) {
	path := filepath.Join(iomuxtest.TempDir(t), "clients.log")
	s := srvStart(t, runLogServer, "--out", path)
	sent := srvLogClients(t, s.addr, 5, 10)
	if err := s.stop(); err != nil {
		t.Fatal(err)
	}
	if s.out.String() != "" {
		t.Errorf("with --out, stdout got %q", s.out)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	srvCheckLog(t, string(data), sent)
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != privateFileMode {
		t.Errorf("log file mode %v, want %v", fi.Mode().Perm(), os.FileMode(privateFileMode))
	}

	// A second run appends.
	s = srvStart(t, runLogServer, "--out", path)
	more := srvLogClients(t, s.addr, 1, 3)
	if err := s.stop(); err != nil {
		t.Fatal(err)
	}
	data, err = os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for addr, lines := range more {
		sent[addr] = lines
	}
	srvCheckLog(t, string(data), sent)
}

// logged returns the text of every client line in a log-server's output
// (not the "Got connection" and "disconnected" lines), in order.
func logged(out string) []string {
	var lines []string
	for _, line := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		if m := srvLogLine.FindStringSubmatch(line); m != nil && m[2] != "" {
			lines = append(lines, m[3])
		}
	}
	return lines
}

// A line longer than the server holds is logged in pieces, not buffered
// without bound.
func TestLogServerLongLine(t *testing.T) {
	s := srvStart(t, runLogServer)
	c := srvDial(t, s.addr)
	long := strings.Repeat("L", logMaxLine*2+10)
	if _, err := c.Write([]byte(long + "\nshort\n")); err != nil {
		t.Fatal(err)
	}
	c.Close()
	s.out.WaitFor(t, " disconnected\n", 1)
	pieces := logged(s.out.String())
	want := []string{long[:logMaxLine], long[logMaxLine : 2*logMaxLine], long[2*logMaxLine:], "short"}
	if strings.Join(pieces, "|") != strings.Join(want, "|") {
		t.Errorf("logged %d pieces of lengths %v, want the 64 KiB pieces and the short line", len(pieces), srvLens(pieces))
	}
}

func srvLens(ss []string) []int {
	n := make([]int, len(ss))
	for i, s := range ss {
		n[i] = len(s)
	}
	return n
}

// A line's control bytes are logged escaped, so a "\r" cannot put another
// client's prefix over the line; UTF-8 text is logged as it is.
func TestLogServerEscapesControlBytes(t *testing.T) {
	s := srvStart(t, runLogServer)
	c := srvDial(t, s.addr)
	fake := "\r2026-01-01 00:00:00.000 10.0.0.1:99: fake \x1b[31mred\x1b[0m, ünïcödé ✓"
	if _, err := io.WriteString(c, fake+"\nunfinished \x1b"); err != nil {
		t.Fatal(err)
	}
	c.Close()
	s.out.WaitFor(t, " disconnected\n", 1)
	var logged []string
	for _, line := range strings.Split(strings.TrimSuffix(s.out.String(), "\n"), "\n") {
		m := srvLogLine.FindStringSubmatch(line)
		if m == nil {
			t.Fatalf("malformed log line %q", line)
		}
		if m[2] != "" {
			if m[2] != c.LocalAddr().String() {
				t.Errorf("line attributed to %s, sent by %s: %q", m[2], c.LocalAddr(), line)
			}
			logged = append(logged, m[3])
		}
	}
	want := []string{`\r2026-01-01 00:00:00.000 10.0.0.1:99: fake \x1b[31mred\x1b[0m, ünïcödé ✓`, `unfinished \x1b`}
	if strings.Join(logged, "\n") != strings.Join(want, "\n") {
		t.Errorf("logged %q, want %q", logged, want)
	}
}

// A long line is cut at 64 KiB however the reads split it: here its
// newline arrives in the same read as the end of a held piece.
func TestLogServerLongLineAcrossReads(t *testing.T) {
	s := srvStart(t, runLogServer)
	c := srvDial(t, s.addr)
	if _, err := io.WriteString(c, strings.Repeat("a", logMaxLine-10)); err != nil {
		t.Fatal(err)
	}
	s.out.WaitFor(t, "Got connection", 1)
	// Not synchronisation: a pause makes it likely that the server reads
	// the first write alone and holds it; the check holds either way.
	time.Sleep(50 * time.Millisecond)
	if _, err := io.WriteString(c, strings.Repeat("b", 20)+"\n"+strings.Repeat("c", logMaxLine)+"\nend\n"); err != nil {
		t.Fatal(err)
	}
	c.Close()
	s.out.WaitFor(t, " disconnected\n", 1)
	pieces := logged(s.out.String())
	long := strings.Repeat("a", logMaxLine-10) + strings.Repeat("b", 20)
	want := []string{long[:logMaxLine], long[logMaxLine:], strings.Repeat("c", logMaxLine), "end"}
	if strings.Join(pieces, "|") != strings.Join(want, "|") {
		t.Errorf("logged pieces of lengths %v, want %v", srvLens(pieces), srvLens(want))
	}
}

// -v traces the loop in the tutorials' words; the log itself is unchanged.
func TestLogServerVerbose(t *testing.T) {
	s := srvStart(t, runLogServer, "-v")
	c := srvDial(t, s.addr)
	name := c.LocalAddr().String()
	io.WriteString(c, "one line\n")
	s.out.WaitFor(t, name+": one line\n", 1)
	c.Close()
	s.out.WaitFor(t, name+" disconnected\n", 1)
	s.errs.WaitFor(t, "closing "+name+" after reading no data", 1) // stderr is written apart from the log
	srvExpectTrace(t, s.errs.String(), "starting up on 127.0.0.1 port ", "\nwaiting for the next event\n",
		"new connection from "+name, `received "one line\n" from `+name, "closing "+name+" after reading no data")
	if strings.Contains(s.out.String(), "waiting for the next event") {
		t.Errorf("the trace went into the log:\n%s", s.out)
	}
}

// A UTF-8 character that a 64 KiB piece of a long line would cut is kept
// whole: it starts the next piece.
func TestLogServerKeepsUTF8Whole(t *testing.T) {
	s := srvStart(t, runLogServer)
	c := srvDial(t, s.addr)
	long := strings.Repeat("a", logMaxLine-1) + "é" + strings.Repeat("b", 10) // é: 2 bytes, across the limit
	if _, err := io.WriteString(c, long+"\n"); err != nil {
		t.Fatal(err)
	}
	c.Close()
	s.out.WaitFor(t, " disconnected\n", 1)
	got := logged(s.out.String())
	want := []string{strings.Repeat("a", logMaxLine-1), "é" + strings.Repeat("b", 10)}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("logged pieces of lengths %v ending %q, want %v ending %q", srvLens(got), srvEnds(got), srvLens(want), srvEnds(want))
	}
}

func srvEnds(ss []string) []string {
	ends := make([]string, len(ss))
	for i, s := range ss {
		ends[i] = s[max(0, len(s)-4):]
	}
	return ends
}
