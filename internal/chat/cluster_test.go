package chat

// Rooms of several nodes over an embedded NATS server
// (github.com/nats-io/nats-server/v2, in this test binary only, on a
// random port). cmd/iomux's tests run chat-server --nats as processes, and
// over Debian's nats-server.

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"go.uber.org/goleak"

	"github.com/iomux/iomux/internal/chat/chattest"
	"github.com/iomux/iomux/internal/iomuxtest"
	"github.com/iomux/iomux/internal/linetest"
	"github.com/iomux/iomux/internal/natstest"
)

// startNode runs a chat server as node name of the room at url, with
// cfg's other settings.
func startNode(t *testing.T, url, name string, cfg Config) *running {
	t.Helper()
	cfg.Cluster.URLs, cfg.Cluster.Node = url, name
	return start(t, cfg)
}

// chatters returns the lines l has received so far that are members'
// (start with "["), taken or not.
func chatters(l *linetest.Lines) []string {
	var out []string
	for _, line := range l.All() {
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
	iomuxtest.CheckLeaks(t)
	ns := natstest.Start(t, server.Options{})
	const nodes, perNode, lines = 3, 20, 1000
	var members []*chattest.Member
	var servers []*running
	for n := range nodes {
		s := startNode(t, ns.ClientURL(), fmt.Sprintf("n%d", n), Config{})
		servers = append(servers, s)
	}
	for i := range nodes * perNode {
		m := chattest.Join(t, servers[i%nodes].addr)
		m.Nick(t, fmt.Sprintf("u%d", i))
		members = append(members, m)
	}
	// Every node knows every member: /who says so, by node.
	var names []string
	for i := range nodes * perNode {
		names = append(names, fmt.Sprintf("[u%d]", i))
	}
	for n := range nodes {
		got := members[n].Who(t, fmt.Sprintf("* %d in the room, %d nodes: n%d:", nodes*perNode, nodes, n), names...)
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
	members[0].Say(t, "/nick U1\n")
	members[0].WaitLine(t, "* the name U1 is taken (on another node)")

	sent := make([]int, len(members))
	rng := rand.New(rand.NewPCG(1, 2))
	for range lines {
		i := rng.IntN(len(members))
		members[i].Say(t, fmt.Sprintf("line %d\n", sent[i]))
		sent[i]++
	}
	for i, m := range members {
		want := lines - sent[i]
		deadline := time.Now().Add(testWait)
		for len(chatters(m.Lines)) < want && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		m.Who(t, "* 60 in the room") // anything still on its way is in by now
		next := make(map[string]int)
		got := chatters(m.Lines)
		for _, line := range got {
			name, text, _ := strings.Cut(line, " ")
			k, err := strconv.Atoi(strings.TrimPrefix(text, "line "))
			if err != nil || name == "["+m.Name+"]" || next[name] != k {
				t.Fatalf("member %s: line %q out of place (want line %d from %s)", m.Name, line, next[name], name)
			}
			next[name]++
		}
		if len(got) != want {
			t.Fatalf("member %s got %d lines, want %d", m.Name, len(got), want)
		}
	}
}

// NATS stopped: each node serves its own members and tells them the
// room is split; NATS back on the same port: the room merges and says so,
// and lines cross again.
func TestChatClusterSplitAndMerge(t *testing.T) {
	ns := natstest.Start(t, server.Options{})
	port := natstest.Port(ns)
	a := startNode(t, ns.ClientURL(), "a", Config{})
	b := startNode(t, ns.ClientURL(), "b", Config{})
	a1, a2, b1 := chattest.Join(t, a.addr), chattest.Join(t, a.addr), chattest.Join(t, b.addr)
	a1.Nick(t, "a1")
	a2.Nick(t, "a2")
	b1.Nick(t, "b1")
	b1.Who(t, "* 3 in the room, 2 nodes: b: [b1]; a: [a1] [a2]")

	ns.Shutdown()
	ns.WaitForShutdown()
	split := "* the room is split: the other nodes are out of reach; until they are back, only the members on node "
	for _, m := range []*chattest.Member{a1, a2} {
		m.WaitLine(t, split+"a hear you")
	}
	b1.WaitLine(t, split+"b hear you")
	a1.Say(t, "only a hears this\n")
	a2.WaitLine(t, "[a1] only a hears this")
	a1.Who(t, "* 2 in the room, 1 nodes: a: [a1] [a2]; the room is split")

	natstest.Start(t, server.Options{Port: port})
	for _, m := range []*chattest.Member{a1, a2, b1} {
		m.WaitLine(t, "* the room is whole again")
	}
	b1.Who(t, "* 3 in the room, 2 nodes: b: [b1]; a: [a1] [a2]")
	b1.Say(t, "after the merge\n")
	a1.WaitLine(t, "[b1] after the merge")
	a2.WaitLine(t, "[b1] after the merge")
}

// Two members who take the same name on two nodes at once (here: while
// the room is split) cannot keep it both: the one on the node whose name
// sorts first does, the other is renamed NAME@NODE and told.
func TestChatClusterNameClash(t *testing.T) {
	ns := natstest.Start(t, server.Options{})
	port := natstest.Port(ns)
	a := startNode(t, ns.ClientURL(), "a", Config{})
	b := startNode(t, ns.ClientURL(), "b", Config{})
	am, bm := chattest.Join(t, a.addr), chattest.Join(t, b.addr)
	bm.Who(t, "* 2 in the room, 2 nodes")
	ns.Shutdown()
	ns.WaitForShutdown()
	am.WaitLine(t, "* the room is split")
	bm.WaitLine(t, "* the room is split")
	am.Nick(t, "Sam")
	bm.Nick(t, "sam")
	natstest.Start(t, server.Options{Port: port})
	bm.WaitLine(t, "* the name sam is taken on node a; you are now sam@b")
	am.Who(t, "* 2 in the room, 2 nodes: a: [Sam]; b: [sam@b]")
}

// A node that stops leaves no goroutine and no descriptor behind, and
// the others are told its members are offline at once.
func TestChatClusterNodeStopLeaksNothing(t *testing.T) {
	ns := natstest.Start(t, server.Options{})
	a := startNode(t, ns.ClientURL(), "a", Config{})
	watcher := chattest.Join(t, a.addr)
	fds, countable := iomuxtest.OpenFDs()
	ignore := goleak.IgnoreCurrent()
	b := startNode(t, ns.ClientURL(), "b", Config{})
	m := chattest.Join(t, b.addr)
	m.Nick(t, "leaving")
	watcher.WaitLine(t, "is now known as [leaving]")
	if err := b.stop(); err != nil {
		t.Fatal(err)
	}
	m.Conn.Close()
	watcher.WaitLine(t, "* [leaving] is offline (node b stopped)")
	goleak.VerifyNone(t, ignore)
	if now, _ := iomuxtest.OpenFDs(); countable && now != fds {
		t.Errorf("%d descriptors open after node b stopped, %d before", now, fds)
	}
}

// A turn's worth of lines (256 KiB) crosses to the other nodes whole
// through a NATS server that takes no message over 64 KiB: it goes in
// several.
func TestChatClusterTurnFitsSmallMaxPayload(t *testing.T) {
	ns := natstest.Start(t, server.Options{MaxPayload: 64 << 10})
	a := startNode(t, ns.ClientURL(), "a", Config{})
	b := startNode(t, ns.ClientURL(), "b", Config{})
	sender, reader := chattest.Join(t, a.addr), chattest.Join(t, b.addr)
	sender.Nick(t, "s")
	reader.Who(t, "* 2 in the room, 2 nodes: b: ["+reader.Name+"]; a: [s]")
	const lines = 2000
	var flood strings.Builder
	for i := range lines {
		fmt.Fprintf(&flood, "%0120d\n", i)
	}
	sender.Say(t, flood.String())
	for i := 0; i < lines; {
		got := reader.Lines.Next(t)
		if strings.HasPrefix(got, "* ") {
			// A notice: the nick's may come from node a after /who
			// answered with the name (the roster and the line are
			// separate messages between nodes).
			continue
		}
		if got != fmt.Sprintf("[s] %0120d", i) {
			t.Fatalf("line %d is %.60q, want the flood's", i, got)
		}
		i++
	}
}

// What is not a node's message on the room's subject (garbage, an
// unknown kind, no instance) is noted and ignored: the room goes on.
func TestChatClusterIgnoresGarbage(t *testing.T) {
	ns := natstest.Start(t, server.Options{})
	a := startNode(t, ns.ClientURL(), "a", Config{})
	b := startNode(t, ns.ClientURL(), "b", Config{})
	am, bm := chattest.Join(t, a.addr), chattest.Join(t, b.addr)
	am.Who(t, "* 2 in the room, 2 nodes")
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
	a.out.WaitFor(t, "that is not a node's", 7)
	am.Say(t, "still here\n")
	bm.WaitLine(t, "] still here")
	bm.Who(t, "* 2 in the room, 2 nodes: b: ["+bm.Name+"]; a: ["+am.Name+"]")
}
