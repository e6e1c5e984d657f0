package main

// chat-server --nats: rooms of several nodes over an embedded NATS server
// (github.com/nats-io/nats-server/v2, in this test binary only, on a
// random port), and over Debian's nats-server with the nodes as processes.

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"net"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"go.uber.org/goleak"
)

// natsStart runs a NATS server in this process on port (-1: a random
// one); cleanup shuts it down.
func natsStart(t *testing.T, port int) *server.Server {
	t.Helper()
	return natsStartWith(t, server.Options{Port: port})
}

// natsStartWith is natsStart with more options.
func natsStartWith(t *testing.T, opts server.Options) *server.Server {
	t.Helper()
	opts.Host, opts.NoLog, opts.NoSigs = "127.0.0.1", true, true
	ns, err := server.NewServer(&opts)
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

// natsPort is the port a NATS server listens on.
func natsPort(ns *server.Server) int { return ns.Addr().(*net.TCPAddr).Port }

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

// chatters returns the lines collected so far that start with "[".
func (l *srvLines) chatters() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, line := range l.lines {
		if strings.HasPrefix(line, "[") {
			out = append(out, line)
		}
	}
	return out
}

// Three nodes of 20 members each are one room: 1,000 lines from random
// members reach every other member once each, in the order their sender
// sent them; /who lists all 60 with their nodes; names are unique across
// the room.
func TestChatClusterOneRoom(t *testing.T) {
	checkLeaks(t)
	ns := natsStart(t, -1)
	const nodes, perNode, lines = 3, 20, 1000
	var members []*srvChatter
	var servers []*srvRunning
	for n := range nodes {
		s := chatNodeStart(t, ns.ClientURL(), fmt.Sprintf("n%d", n))
		servers = append(servers, s)
	}
	for i := range nodes * perNode {
		m := srvJoin(t, servers[i%nodes].addr)
		m.nick(t, fmt.Sprintf("u%d", i))
		members = append(members, m)
	}
	// Every node knows every member: /who says so, by node.
	var names []string
	for i := range nodes * perNode {
		names = append(names, fmt.Sprintf("[u%d]", i))
	}
	for n := range nodes {
		got := members[n].who(t, fmt.Sprintf("* %d in the room, %d nodes: n%d:", nodes*perNode, nodes, n), names...)
		for k := range nodes {
			node := fmt.Sprintf("n%d:", k)
			part := got[strings.Index(got, node):]
			if end := strings.Index(part, ";"); end >= 0 {
				part = part[:end]
			}
			if want := strings.Count(part, "[u"); want != perNode {
				t.Fatalf("/who on n%d: %d members on %s, want %d: %q", n, want, node, perNode, got)
			}
		}
	}
	// A name taken on another node is refused, without regard to case.
	members[0].say(t, "/nick U1\n")
	members[0].waitLine(t, "* the name U1 is taken (on another node)")

	sent := make([]int, len(members))
	rng := rand.New(rand.NewPCG(1, 2))
	for range lines {
		i := rng.IntN(len(members))
		members[i].say(t, fmt.Sprintf("line %d\n", sent[i]))
		sent[i]++
	}
	for i, m := range members {
		want := lines - sent[i]
		deadline := time.Now().Add(srvWait)
		for len(m.lines.chatters()) < want && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		m.who(t, "* 60 in the room") // anything still on its way is in by now
		next := make(map[string]int)
		got := m.lines.chatters()
		for _, line := range got {
			name, text, _ := strings.Cut(line, " ")
			k, err := strconv.Atoi(strings.TrimPrefix(text, "line "))
			if err != nil || name == "["+m.name+"]" || next[name] != k {
				t.Fatalf("member %s: line %q out of place (want line %d from %s)", m.name, line, next[name], name)
			}
			next[name]++
		}
		if len(got) != want {
			t.Fatalf("member %s got %d lines, want %d", m.name, len(got), want)
		}
	}
}

// A node that dies (SIGKILL) is noticed by the others within 5 s (the
// default --node-timeout is 3 s), its members announced offline; started
// again under the same name, it rejoins.
func TestChatClusterNodeKilled(t *testing.T) {
	ns := natsStart(t, -1)
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

// NATS stopped: each node serves its own members and tells them the
// room is split; NATS back on the same port: the room merges and says so,
// and lines cross again.
func TestChatClusterSplitAndMerge(t *testing.T) {
	ns := natsStart(t, -1)
	port := natsPort(ns)
	a := chatNodeStart(t, ns.ClientURL(), "a")
	b := chatNodeStart(t, ns.ClientURL(), "b")
	a1, a2, b1 := srvJoin(t, a.addr), srvJoin(t, a.addr), srvJoin(t, b.addr)
	a1.nick(t, "a1")
	a2.nick(t, "a2")
	b1.nick(t, "b1")
	b1.who(t, "* 3 in the room, 2 nodes: b: [b1]; a: [a1] [a2]")

	ns.Shutdown()
	ns.WaitForShutdown()
	split := "* the room is split: the other nodes are out of reach; until they are back, only the members on node "
	for _, m := range []*srvChatter{a1, a2} {
		m.waitLine(t, split+"a hear you")
	}
	b1.waitLine(t, split+"b hear you")
	a1.say(t, "only a hears this\n")
	a2.waitLine(t, "[a1] only a hears this")
	a1.who(t, "* 2 in the room, 1 nodes: a: [a1] [a2]; the room is split")

	natsStart(t, port)
	for _, m := range []*srvChatter{a1, a2, b1} {
		m.waitLine(t, "* the room is whole again")
	}
	b1.who(t, "* 3 in the room, 2 nodes: b: [b1]; a: [a1] [a2]")
	b1.say(t, "after the merge\n")
	a1.waitLine(t, "[b1] after the merge")
	a2.waitLine(t, "[b1] after the merge")
}

// Two members who take the same name on two nodes at once (here: while
// the room is split) cannot keep it both: the one on the node whose name
// sorts first does, the other is renamed NAME@NODE and told.
func TestChatClusterNameClash(t *testing.T) {
	ns := natsStart(t, -1)
	port := natsPort(ns)
	a := chatNodeStart(t, ns.ClientURL(), "a")
	b := chatNodeStart(t, ns.ClientURL(), "b")
	am, bm := srvJoin(t, a.addr), srvJoin(t, b.addr)
	bm.who(t, "* 2 in the room, 2 nodes")
	ns.Shutdown()
	ns.WaitForShutdown()
	am.waitLine(t, "* the room is split")
	bm.waitLine(t, "* the room is split")
	am.nick(t, "Sam")
	bm.nick(t, "sam")
	natsStart(t, port)
	bm.waitLine(t, "* the name sam is taken on node a; you are now sam@b")
	am.who(t, "* 2 in the room, 2 nodes: a: [Sam]; b: [sam@b]")
}

// A node that stops leaves no goroutine and no descriptor behind, and
// the others are told its members are offline at once.
func TestChatClusterNodeStopLeaksNothing(t *testing.T) {
	ns := natsStart(t, -1)
	a := chatNodeStart(t, ns.ClientURL(), "a")
	watcher := srvJoin(t, a.addr)
	fds, countable := openFDs(fdDirs)
	ignore := goleak.IgnoreCurrent()
	b := chatNodeStart(t, ns.ClientURL(), "b")
	m := srvJoin(t, b.addr)
	m.nick(t, "leaving")
	watcher.waitLine(t, "is now known as [leaving]")
	if err := b.stop(); err != nil {
		t.Fatal(err)
	}
	m.conn.Close()
	watcher.waitLine(t, "* [leaving] is offline (node b stopped)")
	goleak.VerifyNone(t, ignore)
	if now, _ := openFDs(fdDirs); countable && now != fds {
		t.Errorf("%d descriptors open after node b stopped, %d before", now, fds)
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

// A turn's worth of lines (256 KiB) crosses to the other nodes whole
// through a NATS server that takes no message over 64 KiB: it goes in
// several.
func TestChatClusterTurnFitsSmallMaxPayload(t *testing.T) {
	ns := natsStartWith(t, server.Options{Port: -1, MaxPayload: 64 << 10})
	a := chatNodeStart(t, ns.ClientURL(), "a")
	b := chatNodeStart(t, ns.ClientURL(), "b")
	sender, reader := srvJoin(t, a.addr), srvJoin(t, b.addr)
	sender.nick(t, "s")
	reader.who(t, "* 2 in the room, 2 nodes: b: ["+reader.name+"]; a: [s]")
	const lines = 2000
	var flood strings.Builder
	for i := range lines {
		fmt.Fprintf(&flood, "%0120d\n", i)
	}
	sender.say(t, flood.String())
	for i := range lines {
		if got := reader.lines.next(t); got != fmt.Sprintf("[s] %0120d", i) {
			t.Fatalf("line %d is %.60q, want the flood's", i, got)
		}
	}
}

// What is not a node's message on the room's subject (garbage, an
// unknown kind, no instance) is noted and ignored: the room goes on.
func TestChatClusterIgnoresGarbage(t *testing.T) {
	ns := natsStart(t, -1)
	a := chatNodeStart(t, ns.ClientURL(), "a")
	b := chatNodeStart(t, ns.ClientURL(), "b")
	am, bm := srvJoin(t, a.addr), srvJoin(t, b.addr)
	am.who(t, "* 2 in the room, 2 nodes")
	nc, err := nats.Connect(ns.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	for _, junk := range []string{"", "garbage", "{}\n", `{"k":"boom","n":"x","i":1,"s":1}`,
		`{"k":"say","n":"x","i":0,"s":1}` + "\n* fake", `{"k":"say","n":"a b","i":7,"s":1}` + "\nfake\n", "{\"k\":\"say\"" + strings.Repeat("[", 1<<16)} {
		if err := nc.Publish("iomux.chat.chat", []byte(junk)); err != nil {
			t.Fatal(err)
		}
	}
	nc.Flush()
	a.out.waitFor(t, "that is not a node's", 7)
	am.say(t, "still here\n")
	bm.waitLine(t, "] still here")
	bm.who(t, "* 2 in the room, 2 nodes: b: ["+bm.name+"]; a: ["+am.name+"]")
}
