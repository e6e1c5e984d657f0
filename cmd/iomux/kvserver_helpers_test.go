package main

// Test helpers for kv-server: a real redis-server to compare with, and a
// raw RESP connection that sends bytes as given and reads replies back as
// canonical text.

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// needTool skips the test, with one line saying what to install, when
// the named binary is absent (CI installs it).
func needTool(t *testing.T, name, pkg string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		t.Skipf("%s not installed (apt-get install %s): skipping", name, pkg)
	}
	return path
}

// startRedis runs a redis-server of its own for the test, on a Unix socket
// in the test's temporary directory (no TCP port to collide with another
// test's), with persistence off. It returns the socket's path.
func startRedis(t *testing.T, extra ...string) string {
	t.Helper()
	bin := needTool(t, "redis-server", "redis-server")
	dir := t.TempDir()
	sock := filepath.Join(dir, "redis.sock")
	args := append([]string{"--port", "0", "--unixsocket", sock, "--save", "", "--appendonly", "no",
		"--dir", dir, "--daemonize", "no", "--logfile", filepath.Join(dir, "log")}, extra...)
	cmd := exec.Command(bin, args...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	deadline := time.Now().Add(srvWait)
	for {
		if c, err := net.Dial("unix", sock); err == nil {
			c.Close()
			return sock
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(dir, "log"))
			t.Fatalf("redis-server did not start:\n%s", log)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// respConn is a client connection read and written raw.
type respConn struct {
	t    *testing.T
	conn net.Conn
	r    *bufio.Reader
}

func dialRESP(t *testing.T, network, addr string) *respConn {
	t.Helper()
	c, err := net.DialTimeout(network, addr, srvWait)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &respConn{t: t, conn: c, r: bufio.NewReaderSize(c, 1<<16)}
}

// encodeCommand is args as a multibulk array.
func encodeCommand(args ...string) []byte {
	b := fmt.Appendf(nil, "*%d\r\n", len(args))
	for _, a := range args {
		b = fmt.Appendf(b, "$%d\r\n%s\r\n", len(a), a)
	}
	return b
}

func (c *respConn) send(p []byte) {
	c.t.Helper()
	c.conn.SetWriteDeadline(time.Now().Add(srvWait))
	if _, err := c.conn.Write(p); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

// do sends a command and returns its reply.
func (c *respConn) do(args ...string) string {
	c.t.Helper()
	c.send(encodeCommand(args...))
	return c.reply()
}

// reply reads one reply as text: +s, -ERR..., :n, $bulk (quoted), nil,
// [a b ...] for arrays; "EOF" when the server closed the connection.
func (c *respConn) reply() string {
	c.t.Helper()
	c.conn.SetReadDeadline(time.Now().Add(srvWait))
	s, err := readReply(c.r)
	if errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) || isReset(err) {
		return "EOF"
	}
	if err != nil {
		c.t.Fatalf("reading a reply: %v", err)
	}
	return s
}

func isReset(err error) bool { return err != nil && strings.Contains(err.Error(), "connection reset") }

func readReply(r *bufio.Reader) (string, error) {
	line, err := r.ReadString('\n')
	if err != nil {
		return "", err
	}
	if !strings.HasSuffix(line, "\r\n") || len(line) < 3 {
		return "", fmt.Errorf("bad reply line %q", line)
	}
	body := line[1 : len(line)-2]
	switch line[0] {
	case '+', '-', ':':
		return line[:1] + body, nil
	case '$':
		n, err := strconv.Atoi(body)
		if err != nil {
			return "", err
		}
		if n < 0 {
			return "nil", nil
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(r, buf); err != nil {
			return "", err
		}
		return strconv.Quote(string(buf[:n])), nil
	case '*':
		n, err := strconv.Atoi(body)
		if err != nil {
			return "", err
		}
		if n < 0 {
			return "nilarray", nil
		}
		items := make([]string, n)
		for i := range items {
			if items[i], err = readReply(r); err != nil {
				return "", err
			}
		}
		return "[" + strings.Join(items, " ") + "]", nil
	}
	return "", fmt.Errorf("bad reply type %q", line)
}

// canonical makes a reply comparable between servers: an error by its
// first word, and, with unordered, an array's elements sorted (KEYS,
// SMEMBERS...), or its pairs sorted (HGETALL).
func canonical(reply string, unordered int) string {
	if strings.HasPrefix(reply, "-") {
		word, _, _ := strings.Cut(reply, " ")
		return word
	}
	if unordered == 0 || !strings.HasPrefix(reply, "[") {
		return reply
	}
	items := splitArray(reply)
	var groups []string
	for i := 0; i+unordered <= len(items); i += unordered {
		groups = append(groups, strings.Join(items[i:i+unordered], " "))
	}
	slices.Sort(groups)
	return "[" + strings.Join(groups, " ") + "]"
}

// splitArray splits "[a b [c d]]" into its top-level elements (quoted
// bulk strings may hold spaces and brackets).
func splitArray(s string) []string {
	s = s[1 : len(s)-1]
	var out []string
	depth, start, quoted := 0, 0, false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case quoted && c == '\\':
			i++
		case c == '"':
			quoted = !quoted
		case quoted:
		case c == '[':
			depth++
		case c == ']':
			depth--
		case c == ' ' && depth == 0:
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	if start < len(s) {
		out = append(out, s[start:])
	}
	return out
}
