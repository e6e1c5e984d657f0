package main

// chat-server the program: its -v trace, its flags, and rooms of
// chat-server processes (one SIGKILLed; over Debian's nats-server). The
// room's own rules (lines, commands, floods, nodes over NATS) are tested
// in internal/chat; the members both drive are chattest's, the embedded
// NATS server natstest's.

import (
	"bufio"
	"fmt"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/iomux/iomux/internal/chat/chattest"
	"github.com/iomux/iomux/internal/natstest"
)

// srvRoom starts chat-server (with args) and joins two members; a has
// seen b enter.
func srvRoom(t *testing.T, args ...string) (s *srvRunning, a, b *chattest.Member) {
	t.Helper()
	s = srvStart(t, runChatServer, args...)
	a = chattest.Join(t, s.addr)
	b = chattest.Join(t, s.addr)
	a.Lines.Expect(t, "* ["+b.Name+"] entered room")
	return s, a, b
}

// -v traces the loop in the tutorials' words.
func TestChatServerVerbose(t *testing.T) {
	s, a, b := srvRoom(t, "-v")
	a.Say(t, "hello\n")
	b.Lines.Expect(t, "["+a.Name+"] hello")
	a.Conn.Close()
	b.Lines.Expect(t, "* ["+a.Name+"] is offline")
	s.errs.WaitFor(t, "closing "+a.Name+" after reading no data", 1)
	srvExpectTrace(t, s.errs.String(), "starting up on 127.0.0.1 port ", "\nwaiting for the next event\n",
		"new connection from "+b.Name, `received "hello\n" from `+a.Name,
		`sending "[`+a.Name+`] hello\n" to `+b.Name, "output queue for "+b.Name+" is empty")
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

// chatNodeStart runs chat-server as node name of the room at url.
func chatNodeStart(t *testing.T, url, name string, args ...string) *srvRunning {
	t.Helper()
	return srvStart(t, runChatServer, append([]string{"--nats", url, "--node", name}, args...)...)
}

// A node that dies (SIGKILL) is noticed by the others within 5 s (the
// default --node-timeout is 3 s), its members announced offline; started
// again under the same name, it rejoins.
func TestChatClusterNodeKilled(t *testing.T) {
	ns := natstest.Start(t, server.Options{})
	a := chatNodeStart(t, ns.ClientURL(), "a")
	watcher := chattest.Join(t, a.addr)
	p := startProc(t, nil, nil, "chat-server", "--nats", ns.ClientURL(), "--node", "c")
	doomed := chattest.Join(t, p.addr)
	doomed.Nick(t, "doomed")
	watcher.WaitLine(t, "is now known as [doomed]")
	watcher.Who(t, "* 2 in the room, 2 nodes: a:")

	killed := time.Now()
	if err := p.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	watcher.WaitLine(t, "* [doomed] is offline (node c is out of reach)")
	if took := time.Since(killed); took > 5*time.Second {
		t.Fatalf("the node's members were announced offline %v after the kill, want at most 5s", took)
	} else {
		t.Logf("announced offline %v after SIGKILL", took.Round(time.Millisecond))
	}
	watcher.Who(t, "* 1 in the room, 1 nodes: a: ["+watcher.Name+"]")

	p = startProc(t, nil, nil, "chat-server", "--nats", ns.ClientURL(), "--node", "c")
	watcher.WaitLine(t, "* node c is in the room")
	back := chattest.Join(t, p.addr)
	back.Nick(t, "back")
	watcher.WaitLine(t, "is now known as [back]")
	back.Say(t, "hello again\n")
	watcher.WaitLine(t, "[back] hello again")
	back.Say(t, "/quit\n")
	watcher.WaitLine(t, "* [back] left the room")
	watcher.Who(t, "* 1 in the room, 2 nodes: a: ["+watcher.Name+"]; c:")
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
	var members []*chattest.Member
	var nodes []*procServer
	for i := range 3 {
		p := startProc(t, nil, nil, "chat-server", "--nats", ns.url, "--node", fmt.Sprintf("p%d", i))
		nodes = append(nodes, p)
		m := chattest.Join(t, p.addr)
		m.Nick(t, fmt.Sprintf("m%d", i))
		members = append(members, m)
	}
	members[0].Who(t, "* 3 in the room, 3 nodes: p0: [m0]; p1: [m1]; p2: [m2]")
	members[2].Who(t, "* 3 in the room, 3 nodes: p2: [m2]; p0: [m0]; p1: [m1]")
	members[1].Say(t, "hello from p1\n")
	members[0].WaitLine(t, "[m1] hello from p1")
	members[2].WaitLine(t, "[m1] hello from p1")

	killed := time.Now()
	nodes[2].cmd.Process.Kill()
	members[0].WaitLine(t, "* [m2] is offline (node p2 is out of reach)")
	if took := time.Since(killed); took > 5*time.Second {
		t.Fatalf("announced offline %v after SIGKILL, want at most 5s", took)
	}

	port := ns.url[strings.LastIndex(ns.url, ":")+1:]
	ns.kill()
	members[0].WaitLine(t, "* the room is split")
	members[1].WaitLine(t, "* the room is split")
	n, _ := strconv.Atoi(port)
	natsProcStart(t, n)
	members[0].WaitLine(t, "* the room is whole again")
	members[1].WaitLine(t, "* the room is whole again")
	members[0].Say(t, "after the merge\n")
	members[1].WaitLine(t, "[m0] after the merge")
}
