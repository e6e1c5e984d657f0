package chat

// Rooms of several nodes over an embedded NATS server
// (github.com/nats-io/nats-server/v2, in this test binary only, on a
// random port). cmd/iomux's tests run chat-server --nats as processes, and
// over Debian's nats-server.

import (
	"fmt"
	"math/rand/v2"
	"net"
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
	if !ns.ReadyForConnections(testWait) {
		t.Fatal("the NATS server did not start")
	}
	t.Cleanup(func() { ns.Shutdown(); ns.WaitForShutdown() })
	return ns
}

// natsPort is the port a NATS server listens on.
func natsPort(ns *server.Server) int { return ns.Addr().(*net.TCPAddr).Port }

// startNode runs a chat server as node name of the room at url, with
// cfg's other settings.
func startNode(t *testing.T, url, name string, cfg Config) *running {
	t.Helper()
	cfg.Cluster.URLs, cfg.Cluster.Node = url, name
	return start(t, cfg)
}

// nick renames m and waits for the server's answer (skipping the lines
// that come before it).
func (m *chatter) nick(t *testing.T, name string) {
	t.Helper()
	m.say(t, "/nick "+name+"\n")
	m.lines.skipTo(t, "* you are now "+name)
	m.name = name
}

// who asks /who until the answer starts with want and has each of also
// in it (what the other nodes said may not have come yet), and returns it.
func (m *chatter) who(t *testing.T, want string, also ...string) string {
	t.Helper()
	deadline := time.Now().Add(testWait)
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
func (m *chatter) waitLine(t *testing.T, text string) string {
	t.Helper()
	for {
		if line := m.lines.next(t); strings.Contains(line, text) {
			return line
		}
	}
}

// chatters returns the lines collected so far that start with "[".
func (l *lines) chatters() []string {
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
	var members []*chatter
	var servers []*running
	for n := range nodes {
		s := startNode(t, ns.ClientURL(), fmt.Sprintf("n%d", n), Config{})
		servers = append(servers, s)
	}
	for i := range nodes * perNode {
		m := join(t, servers[i%nodes].addr)
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
		deadline := time.Now().Add(testWait)
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

// NATS stopped: each node serves its own members and tells them the
// room is split; NATS back on the same port: the room merges and says so,
// and lines cross again.
func TestChatClusterSplitAndMerge(t *testing.T) {
	ns := natsStart(t, -1)
	port := natsPort(ns)
	a := startNode(t, ns.ClientURL(), "a", Config{})
	b := startNode(t, ns.ClientURL(), "b", Config{})
	a1, a2, b1 := join(t, a.addr), join(t, a.addr), join(t, b.addr)
	a1.nick(t, "a1")
	a2.nick(t, "a2")
	b1.nick(t, "b1")
	b1.who(t, "* 3 in the room, 2 nodes: b: [b1]; a: [a1] [a2]")

	ns.Shutdown()
	ns.WaitForShutdown()
	split := "* the room is split: the other nodes are out of reach; until they are back, only the members on node "
	for _, m := range []*chatter{a1, a2} {
		m.waitLine(t, split+"a hear you")
	}
	b1.waitLine(t, split+"b hear you")
	a1.say(t, "only a hears this\n")
	a2.waitLine(t, "[a1] only a hears this")
	a1.who(t, "* 2 in the room, 1 nodes: a: [a1] [a2]; the room is split")

	natsStart(t, port)
	for _, m := range []*chatter{a1, a2, b1} {
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
	a := startNode(t, ns.ClientURL(), "a", Config{})
	b := startNode(t, ns.ClientURL(), "b", Config{})
	am, bm := join(t, a.addr), join(t, b.addr)
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
	a := startNode(t, ns.ClientURL(), "a", Config{})
	watcher := join(t, a.addr)
	fds, countable := openFDs()
	ignore := goleak.IgnoreCurrent()
	b := startNode(t, ns.ClientURL(), "b", Config{})
	m := join(t, b.addr)
	m.nick(t, "leaving")
	watcher.waitLine(t, "is now known as [leaving]")
	if err := b.stop(); err != nil {
		t.Fatal(err)
	}
	m.conn.Close()
	watcher.waitLine(t, "* [leaving] is offline (node b stopped)")
	goleak.VerifyNone(t, ignore)
	if now, _ := openFDs(); countable && now != fds {
		t.Errorf("%d descriptors open after node b stopped, %d before", now, fds)
	}
}

// A turn's worth of lines (256 KiB) crosses to the other nodes whole
// through a NATS server that takes no message over 64 KiB: it goes in
// several.
func TestChatClusterTurnFitsSmallMaxPayload(t *testing.T) {
	ns := natsStartWith(t, server.Options{Port: -1, MaxPayload: 64 << 10})
	a := startNode(t, ns.ClientURL(), "a", Config{})
	b := startNode(t, ns.ClientURL(), "b", Config{})
	sender, reader := join(t, a.addr), join(t, b.addr)
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
	a := startNode(t, ns.ClientURL(), "a", Config{})
	b := startNode(t, ns.ClientURL(), "b", Config{})
	am, bm := join(t, a.addr), join(t, b.addr)
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
