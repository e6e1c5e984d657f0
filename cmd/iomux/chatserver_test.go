package main

// chat-server the program: its -v trace, its flags, and rooms of
// chat-server processes (one SIGKILLed; over Debian's nats-server). The
// room's own rules (lines, commands, floods, nodes over NATS) are tested
// in internal/chat; so are this file's helpers' twins there (join, nick,
// who, natsStart): test helpers cannot be imported across packages.

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// srvChatter is one member of a chat room under test.
type srvChatter struct {
	conn  net.Conn
	name  string // host:port, as the server names it
	lines *srvLines
}

func srvJoin(t *testing.T, addr string) *srvChatter {
	t.Helper()
	return srvJoinOver(t, srvDial(t, addr))
}

// srvJoinOver joins over a connection the test made (TLS, say).
func srvJoinOver(t *testing.T, c net.Conn) *srvChatter {
	t.Helper()
	m := &srvChatter{conn: c, name: c.LocalAddr().String(), lines: srvReadLines(t, c)}
	if got := m.lines.next(t); !strings.HasPrefix(got, "* welcome, "+m.name+";") {
		t.Fatalf("first line %q, want the welcome", got)
	}
	return m
}

// srvRoom starts chat-server (with args) and joins two members; a has
// seen b enter.
func srvRoom(t *testing.T, args ...string) (s *srvRunning, a, b *srvChatter) {
	t.Helper()
	s = srvStart(t, runChatServer, args...)
	a = srvJoin(t, s.addr)
	b = srvJoin(t, s.addr)
	a.lines.expect(t, "* ["+b.name+"] entered room")
	return s, a, b
}

// quit sends a /quit line (cmd), expects the goodbye and the close, and
// that other is told m left.
func (m *srvChatter) quit(t *testing.T, cmd string, other *srvChatter) {
	t.Helper()
	m.say(t, cmd)
	m.lines.expect(t, "* bye")
	m.lines.expectEOF(t)
	other.lines.expect(t, "* ["+m.name+"] left the room")
}

func (m *srvChatter) say(t *testing.T, text string) {
	t.Helper()
	if _, err := io.WriteString(m.conn, text); err != nil {
		t.Fatal(err)
	}
}

// -v traces the loop in the tutorials' words.
func TestChatServerVerbose(t *testing.T) {
	s, a, b := srvRoom(t, "-v")
	a.say(t, "hello\n")
	b.lines.expect(t, "["+a.name+"] hello")
	a.conn.Close()
	b.lines.expect(t, "* ["+a.name+"] is offline")
	s.errs.waitFor(t, "closing "+a.name+" after reading no data", 1)
	srvExpectTrace(t, s.errs.String(), "starting up on 127.0.0.1 port ", "\nwaiting for the next event\n",
		"new connection from "+b.name, `received "hello\n" from `+a.name,
		`sending "[`+a.name+`] hello\n" to `+b.name, "output queue for "+b.name+" is empty")
}

// srvExpectTrace checks that a -v trace holds each of the lines (or parts
// of lines) in want.
func srvExpectTrace(t *testing.T, trace string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(trace, w) {
			t.Errorf("-v trace lacks %q:\n%s", w, trace)
		}
	}
}

// natsStart runs a NATS server in this process on a random port; cleanup
// shuts it down.
func natsStart(t *testing.T) *server.Server {
	t.Helper()
	ns, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, NoLog: true, NoSigs: true})
	if err != nil {
		t.Fatal(err)
	}
	go ns.Start()
	if !ns.ReadyForConnections(srvWait) {
		t.Fatal("the NATS server did not start")
	}
	t.Cleanup(func() { ns.Shutdown(); ns.WaitForShutdown() })
	return ns
}

// chatNodeStart runs chat-server as node name of the room at url.
func chatNodeStart(t *testing.T, url, name string, args ...string) *srvRunning {
	t.Helper()
	return srvStart(t, runChatServer, append([]string{"--nats", url, "--node", name}, args...)...)
}

// nick renames m and waits for the server's answer (skipping the lines
// that come before it).
func (m *srvChatter) nick(t *testing.T, name string) {
	t.Helper()
	m.say(t, "/nick "+name+"\n")
	m.lines.skipTo(t, "* you are now "+name)
	m.name = name
}

// who asks /who until the answer starts with want and has each of also
// in it (what the other nodes said may not have come yet), and returns it.
func (m *srvChatter) who(t *testing.T, want string, also ...string) string {
	t.Helper()
	deadline := time.Now().Add(srvWait)
	for {
		m.say(t, "/who\n")
		var got string
		for !whoAnswer.MatchString(got) { // not "* node N is in the room with K members"
			got = m.lines.next(t)
		}
		if strings.HasPrefix(got, want) && !slices.ContainsFunc(also, func(s string) bool { return !strings.Contains(got, s) }) {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("/who: %q, want it to start with %q", got, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

var whoAnswer = regexp.MustCompile(`^\* \d+ in the room`)

// waitLine takes lines until one has text in it, and returns it.
func (m *srvChatter) waitLine(t *testing.T, text string) string {
	t.Helper()
	for {
		if line := m.lines.next(t); strings.Contains(line, text) {
			return line
		}
	}
}

// A node that dies (SIGKILL) is noticed by the others within 5 s (the
// default --node-timeout is 3 s), its members announced offline; started
// again under the same name, it rejoins.
func TestChatClusterNodeKilled(t *testing.T) {
	ns := natsStart(t)
	a := chatNodeStart(t, ns.ClientURL(), "a")
	watcher := srvJoin(t, a.addr)
	p := startProc(t, nil, nil, "chat-server", "--nats", ns.ClientURL(), "--node", "c")
	doomed := srvJoin(t, p.addr)
	doomed.nick(t, "doomed")
	watcher.waitLine(t, "is now known as [doomed]")
	watcher.who(t, "* 2 in the room, 2 nodes: a:")

	killed := time.Now()
	if err := p.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	watcher.waitLine(t, "* [doomed] is offline (node c is out of reach)")
	if took := time.Since(killed); took > 5*time.Second {
		t.Fatalf("the node's members were announced offline %v after the kill, want at most 5s", took)
	} else {
		t.Logf("announced offline %v after SIGKILL", took.Round(time.Millisecond))
	}
	watcher.who(t, "* 1 in the room, 1 nodes: a: ["+watcher.name+"]")

	p = startProc(t, nil, nil, "chat-server", "--nats", ns.ClientURL(), "--node", "c")
	watcher.waitLine(t, "* node c is in the room")
	back := srvJoin(t, p.addr)
	back.nick(t, "back")
	watcher.waitLine(t, "is now known as [back]")
	back.say(t, "hello again\n")
	watcher.waitLine(t, "[back] hello again")
	back.say(t, "/quit\n")
	watcher.waitLine(t, "* [back] left the room")
	watcher.who(t, "* 1 in the room, 2 nodes: a: ["+watcher.name+"]; c:")
}

// The cluster's flags are checked before anything starts.
func TestChatClusterUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"--nats", "nats://127.0.0.1:1", "--room", "a b"},
		{"--nats", "nats://127.0.0.1:1", "--node", "n/1"},
		{"--nats", "nats://127.0.0.1:1", "--node-timeout", "0s"},
	} {
		code, _, errs := runIomux(append([]string{"chat-server"}, args...)...)
		if code != 2 || !strings.Contains(errs, "--") {
			t.Errorf("chat-server %v: exit %d, stderr %q; want a usage error (2)", args, code, errs)
		}
	}
}

// natsProc is Debian's nats-server (or any on PATH), run as a process.
type natsProc struct {
	cmd  *exec.Cmd
	url  string
	done chan struct{}
}

var natsListening = regexp.MustCompile(`Listening for client connections on (\S+)`)

// natsProcStart runs nats-server on 127.0.0.1 and port (-1: a random
// one); cleanup kills it. Without a nats-server on PATH, the test skips.
func natsProcStart(t testing.TB, port int) *natsProc {
	t.Helper()
	exe, err := exec.LookPath("nats-server")
	if err != nil {
		t.Skip("nats-server not installed (apt-get install nats-server): skipping the test with a real NATS server")
	}
	cmd := exec.Command(exe, "-a", "127.0.0.1", "-p", strconv.Itoa(port))
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &natsProc{cmd: cmd, done: make(chan struct{})}
	urls := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if m := natsListening.FindStringSubmatch(sc.Text()); m != nil {
				urls <- "nats://" + m[1]
			}
		}
		cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() { p.kill() })
	select {
	case p.url = <-urls:
	case <-p.done:
		t.Fatal("nats-server exited before listening")
	case <-time.After(srvWait):
		t.Fatal("nats-server did not start")
	}
	return p
}

func (p *natsProc) kill() {
	p.cmd.Process.Kill()
	<-p.done
}

// As a user runs it: Debian's nats-server and three chat-server
// processes. A line crosses to every node, /who lists all three, a
// SIGKILLed node's member is announced offline within 5 s, and a
// nats-server killed and started again splits and merges the room.
func TestChatClusterWithNATSServerProcess(t *testing.T) {
	ns := natsProcStart(t, -1)
	var members []*srvChatter
	var nodes []*procServer
	for i := range 3 {
		p := startProc(t, nil, nil, "chat-server", "--nats", ns.url, "--node", fmt.Sprintf("p%d", i))
		nodes = append(nodes, p)
		m := srvJoin(t, p.addr)
		m.nick(t, fmt.Sprintf("m%d", i))
		members = append(members, m)
	}
	members[0].who(t, "* 3 in the room, 3 nodes: p0: [m0]; p1: [m1]; p2: [m2]")
	members[2].who(t, "* 3 in the room, 3 nodes: p2: [m2]; p0: [m0]; p1: [m1]")
	members[1].say(t, "hello from p1\n")
	members[0].waitLine(t, "[m1] hello from p1")
	members[2].waitLine(t, "[m1] hello from p1")

	killed := time.Now()
	nodes[2].cmd.Process.Kill()
	members[0].waitLine(t, "* [m2] is offline (node p2 is out of reach)")
	if took := time.Since(killed); took > 5*time.Second {
		t.Fatalf("announced offline %v after SIGKILL, want at most 5s", took)
	}

	port := ns.url[strings.LastIndex(ns.url, ":")+1:]
	ns.kill()
	members[0].waitLine(t, "* the room is split")
	members[1].waitLine(t, "* the room is split")
	n, _ := strconv.Atoi(port)
	natsProcStart(t, n)
	members[0].waitLine(t, "* the room is whole again")
	members[1].waitLine(t, "* the room is whole again")
	members[0].say(t, "after the merge\n")
	members[1].waitLine(t, "[m0] after the merge")
}
