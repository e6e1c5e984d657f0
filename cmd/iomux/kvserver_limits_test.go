package main

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/iomux/iomux/internal/iomuxtest"
)

// Each limit: past it, Redis's protocol error (or, for a command that is
// still incomplete, nothing), then the connection closes; the server
// serves the next client.
func TestKVServerLimits(t *testing.T) {
	iomuxtest.CheckLeaks(t)
	s := srvStart(t, runKVServer, "--loops", "1", "--max-bulk", "1024", "--max-args", "8",
		"--max-inline", "256", "--max-query", "4096")
	for _, tc := range []struct {
		name, send, want string
	}{
		{"bulk", "*2\r\n$3\r\nGET\r\n$1025\r\n", "-ERR Protocol error: invalid bulk length"},
		{"args", "*9\r\n", "-ERR Protocol error: invalid multibulk length"},
		{"inline args", "a b c d e f g h i\r\n", "-ERR Protocol error: invalid multibulk length"},
		{"inline line", strings.Repeat("x", 300), "-ERR Protocol error: too big inline request"},
		{"header", "*" + strings.Repeat("1", 300), "-ERR Protocol error: too big mbulk count string"},
		{"query", "*8" + strings.Repeat("\r\n$1000\r\n"+strings.Repeat("v", 1000), 5), "-ERR Protocol error: query buffer limit reached"},
		{"garbage", "*1\r\n$1\r\nab\r\n", "-ERR Protocol error: expected CRLF after bulk string"},
	} {
		c := dialRESP(t, "tcp", s.addr)
		c.send([]byte(tc.send))
		if got := c.reply(); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
		if got := c.reply(); got != "EOF" {
			t.Errorf("%s: after the error, %q, want the connection closed", tc.name, got)
		}
	}
	c := dialRESP(t, "tcp", s.addr)
	if got := c.do("SET", "k", strings.Repeat("v", 1024)); got != "+OK" {
		t.Fatalf("a bulk string at the limit: %q", got)
	}
}

// A client that pipelines GETs of a large value and never reads: the
// server stops reading it once 1 MiB of replies is queued (serving
// others meanwhile), then drops it when its queue makes no progress for
// --write-timeout. What reaches it is bounded, far below what it asked for.
func TestKVServerNeverReadingClientIsDropped(t *testing.T) {
	iomuxtest.CheckLeaks(t)
	s := srvStart(t, runKVServer, "--loops", "1", "--write-timeout", "1s")
	c := dialRESP(t, "tcp", s.addr)
	if got := c.do("SET", "big", strings.Repeat("x", 1<<20)); got != "+OK" {
		t.Fatal(got)
	}
	const asked = 512 // GETs of 1 MiB: half a GiB of replies
	batch := bytes.Repeat(encodeCommand("GET", "big"), asked)
	go func() { c.conn.Write(batch) }() // blocks once the server stops reading
	time.Sleep(300 * time.Millisecond)
	other := dialRESP(t, "tcp", s.addr)
	if got := other.do("PING"); got != "+PONG" {
		t.Fatalf("another client, meanwhile: %q", got)
	}
	waitClients(t, other, 1) // the other one alone: dropped, past --write-timeout with no progress
	c.conn.SetReadDeadline(time.Now().Add(srvWait))
	n, err := io.Copy(io.Discard, c.conn)
	if err != nil && !isReset(err) {
		t.Fatalf("reading what was queued: %v", err)
	}
	if n >= asked<<20/4 {
		t.Fatalf("the client got %d MiB before being dropped: not bounded", n>>20)
	}
	t.Logf("dropped after %d KiB of %d MiB asked", n>>10, asked)
	if got := other.do("PING"); got != "+PONG" {
		t.Fatalf("another client, after: %q", got)
	}
}

// waitClients waits until INFO, asked on c, counts n connected clients.
func waitClients(t *testing.T, c *respConn, n int) {
	t.Helper()
	want := "connected_clients:" + strconv.Itoa(n) + "\\r\\n"
	deadline := time.Now().Add(srvWait)
	for {
		got := c.do("INFO", "clients")
		if strings.Contains(got, want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("INFO clients: %s, want %d", got, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// --max-output drops a client at once when the replies queued for it
// exceed it (here: one reply larger than the limit, once the socket's
// buffers are full), without waiting for --write-timeout.
func TestKVServerMaxOutput(t *testing.T) {
	iomuxtest.CheckLeaks(t)
	s := srvStart(t, runKVServer, "--loops", "1", "--max-output", "500000")
	c := dialRESP(t, "tcp", s.addr)
	args := []string{"RPUSH", "l"}
	for range 1000 {
		args = append(args, strings.Repeat("v", 1000))
	}
	if got := c.do(args...); got != ":1000" {
		t.Fatal(got)
	}
	// One LRANGE is 1 MB: the socket's buffers take a few, then the queue passes 500 kB.
	c.send(bytes.Repeat(encodeCommand("LRANGE", "l", "0", "-1"), 64))
	waitClients(t, dialRESP(t, "tcp", s.addr), 1) // not reading until it is dropped
	c.conn.SetReadDeadline(time.Now().Add(srvWait))
	n, err := io.Copy(io.Discard, c.conn)
	if err != nil && !isReset(err) {
		t.Fatal(err)
	}
	if n >= 32<<20 {
		t.Fatalf("got %d MiB: not dropped", n>>20)
	}
	t.Logf("dropped after %d KiB of 64 MB asked", n>>10)
}

// Garbage, byte-at-a-time commands and resets never crash the server or
// hold it up: after each, a new client is served.
func TestKVServerHostileInput(t *testing.T) {
	iomuxtest.CheckLeaks(t)
	s := srvStart(t, runKVServer, "--loops", "2")
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 50 {
		c := dialRESP(t, "tcp", s.addr)
		junk := make([]byte, rng.IntN(4096))
		for j := range junk {
			junk[j] = "*$\r\n0123456789-abc \"'\\"[rng.IntN(22)]
		}
		c.send(junk)
		if i%2 == 0 {
			c.conn.Close() // a reset, or a close with input unread
		}
	}
	c := dialRESP(t, "tcp", s.addr)
	cmd := encodeCommand("SET", "slow", "v\r\n")
	for i := range cmd {
		c.send(cmd[i : i+1])
	}
	if got := c.reply(); got != "+OK" {
		t.Fatalf("a command sent byte by byte: %q", got)
	}
	if got := c.do("GET", "slow"); got != strconv.Quote("v\r\n") {
		t.Fatalf("GET: %q", got)
	}
}

// Keys that expire and are never touched again are removed by the
// loops' expiry timer: DBSIZE, which counts keys not yet removed, falls
// to zero.
func TestKVServerActiveExpiry(t *testing.T) {
	iomuxtest.CheckLeaks(t)
	s := srvStart(t, runKVServer, "--loops", "2")
	c := dialRESP(t, "tcp", s.addr)
	var batch []byte
	for i := range 500 {
		batch = append(batch, encodeCommand("SET", "e:"+strconv.Itoa(i), "v", "PX", "50")...)
	}
	batch = append(batch, encodeCommand("SET", "kept", "v")...)
	c.send(batch)
	for range 501 {
		if got := c.reply(); got != "+OK" {
			t.Fatal(got)
		}
	}
	deadline := time.Now().Add(srvWait)
	for {
		got := c.do("DBSIZE")
		if got == ":1" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("DBSIZE still %s", got)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if got := c.do("GET", "kept"); got != `"v"` {
		t.Fatalf("the key without expiry: %s", got)
	}
}

// -v traces kv-server's loop in the Python select tutorials' words, as
// every server's does.
func TestKVServerTrace(t *testing.T) {
	iomuxtest.CheckLeaks(t)
	s := srvStart(t, runKVServer, "--loops", "1", "-v")
	c := dialRESP(t, "tcp", s.addr)
	if got := c.do("PING"); got != "+PONG" {
		t.Fatal(got)
	}
	c.conn.Close()
	s.errs.WaitFor(t, "after reading no data", 1)
	for _, words := range []string{"starting up on 127.0.0.1 port ", "new connection from 127.0.0.1:",
		`received "*1\r\n$4\r\nPING\r\n" from 127.0.0.1:`, `sending "+PONG\r\n" to 127.0.0.1:`} {
		if !strings.Contains(s.errs.String(), words) {
			t.Errorf("-v trace lacks %q:\n%s", words, s.errs)
		}
	}
}

// A pipelined batch is answered with one write per read: 200 PINGs sent
// at once come back in as many writes as the server made reads (one, or a
// few if TCP split them), never one per command.
func TestKVServerPipelineOneWritePerRead(t *testing.T) {
	iomuxtest.CheckLeaks(t)
	s := srvStart(t, runKVServer, "--loops", "1", "-v")
	c := dialRESP(t, "tcp", s.addr)
	c.send(bytes.Repeat(encodeCommand("PING"), 200))
	for range 200 {
		if got := c.reply(); got != "+PONG" {
			t.Fatal(got)
		}
	}
	c.conn.Close()
	s.errs.WaitFor(t, "after reading no data", 1)
	trace := s.errs.String()
	reads, writes := strings.Count(trace, "\nreceived "), strings.Count(trace, "\nsending ")
	if writes != reads || reads > 10 {
		t.Fatalf("%d reads answered by %d writes:\n%.2000s", reads, writes, trace)
	}
}

// A pipeline whose replies pass the loop's HighWater (1 MiB) while the
// client does not read: the server stops mid-batch, and carries on once
// the client reads (the loop runs OnData again for the rest): every reply
// comes, in order.
func TestKVServerPipelinePastHighWater(t *testing.T) {
	iomuxtest.CheckLeaks(t)
	s := srvStart(t, runKVServer, "--loops", "1")
	c := dialRESP(t, "tcp", s.addr)
	value := strings.Repeat("v", 4096)
	if got := c.do("SET", "k", value); got != "+OK" {
		t.Fatal(got)
	}
	const n = 2000 // 8 MiB of replies
	var batch []byte
	for i := range n {
		batch = append(batch, encodeCommand("GET", "k")...)
		if i%100 == 99 {
			batch = append(batch, encodeCommand("ECHO", strconv.Itoa(i))...)
		}
	}
	c.send(batch)
	time.Sleep(200 * time.Millisecond) // the replies fill the queue past HighWater
	for i := range n {
		if got := c.reply(); got != strconv.Quote(value) {
			t.Fatalf("reply %d: %.40q", i, got)
		}
		if i%100 == 99 {
			if got := c.reply(); got != strconv.Quote(strconv.Itoa(i)) {
				t.Fatalf("after reply %d: %q", i, got)
			}
		}
	}
}

// --addr unix:PATH serves on a Unix socket, removed at exit.
func TestKVServerUnixSocket(t *testing.T) {
	iomuxtest.SkipUnderWine(t, "Wine 8's Winsock has no AF_UNIX (internal/sock's TestUnixWithoutAFUnix checks the error it gives)")
	iomuxtest.CheckLeaks(t)
	path := filepath.Join(iomuxtest.TempDir(t), "kv.sock")
	s := srvStart(t, runKVServer, "--loops", "1", "--addr", "unix:"+path)
	if s.addr != path {
		t.Fatalf("listening on %q, want %q", s.addr, path)
	}
	c := dialRESP(t, "unix", path)
	if got := c.do("SET", "k", "v"); got != "+OK" {
		t.Fatal(got)
	}
	if got := c.do("GET", "k"); got != `"v"` {
		t.Fatal(got)
	}
	c.conn.Close()
	if err := s.stop(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the socket is still there after the stop: %v", err)
	}
}
