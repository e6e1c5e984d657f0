package chat

// What a node's room does with the other nodes (cluster.go is the
// link): it keeps their members (joins, nicks and leaves as they come, the
// whole list in every heartbeat to mend what a split lost), hands their
// lines to its own members, notices a node that went quiet, a split and a
// merge, and keeps names unique across the room. All of it runs on the
// room's loop.

import (
	"bytes"
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/iomux/iomux/loop"
)

// node is another node of the room, as this one knows it.
type node struct {
	name    string
	inst    uint64
	members []remote // in order of arrival
	heard   time.Time
	busy    bool // a member of theirs reads slower than the room talks
}

// clusterState is the loop's part of the link.
type clusterState struct {
	nodes map[uint64]*node
	seen  map[uint64]lastSeen // per instance ever heard (a lost node's too: its gap is counted when it is back)
	taken map[string]int      // the other nodes' names, lowercased
	seq   uint64              // this node's events
	said  uint64              // this node's lines
	split bool                // NATS is out of reach
	busy  bool                // what this node last said of its own queues
	told  uint64              // lines lost in the split buffer already said
	beat  *loop.Timer
	watch *loop.Timer // while busy: looks at the queues
}

// lastSeen is the last event heard from an instance.
type lastSeen struct{ seq, said uint64 }

func (s *clusterState) init() {
	s.nodes = map[uint64]*node{}
	s.seen = map[uint64]lastSeen{}
	s.taken = map[string]int{}
	s.split = true
}

// begin starts the heartbeat and says hello.
func (c *cluster) begin() {
	s := &c.state
	s.split = !c.connected.Load()
	if s.split {
		fmt.Fprintf(c.room.log, "NATS %s is out of reach; serving this node's members until it is back\n", c.cfg.URLs)
	}
	s.beat = c.l.Every(c.cfg.NodeTimeout/3, c.tick)
	c.send(c.rosterEvent("hello"))
}

// event makes this node's next event of kind.
func (c *cluster) event(kind string) *event {
	c.state.seq++
	return &event{Kind: kind, Node: c.cfg.Node, Inst: c.inst, Seq: c.state.seq, Said: c.state.said}
}

// rosterEvent is a hello or beat: every member of this node.
func (c *cluster) rosterEvent(kind string) *event {
	ev := c.event(kind)
	ev.Busy = c.state.busy
	ev.Members = make([]remote, len(c.room.members))
	for i, m := range c.room.members {
		ev.Members[i] = remote{ID: m.id, Name: m.name}
	}
	return ev
}

// What this node's room tells the others.

func (c *cluster) joined(m *member) {
	ev := c.event("join")
	ev.ID, ev.Name = m.id, m.name
	c.send(ev)
	c.yieldName(m)
}

func (c *cluster) renamed(m *member) {
	ev := c.event("nick")
	ev.ID, ev.Name = m.id, m.name
	c.send(ev)
	c.yieldName(m)
}

func (c *cluster) left(m *member) {
	ev := c.event("leave")
	ev.ID = m.id
	c.send(ev)
}

// say sends the turn's lines and notices for the whole room, in
// messages of at most sayMax (cut after a line), well below
// what a NATS server takes in one (1 MiB by default).
func (c *cluster) say(text []byte) {
	for len(text) > 0 {
		part := text
		if len(part) > sayMax {
			cut := bytes.LastIndexByte(part[:sayMax], '\n')
			if cut < 0 { // one line longer than that (MaxLine, escaped, is not)
				cut = sayMax - 1
			}
			part = part[:cut+1]
		}
		text = text[len(part):]
		lines := uint64(bytes.Count(part, []byte{'\n'}))
		c.state.said += lines
		ev := c.event("say")
		ev.Text, ev.Lines = part, lines
		c.send(ev)
	}
}

func (c *cluster) bye() {
	c.state.beat.Stop()
	if c.state.watch != nil {
		c.state.watch.Stop()
	}
	c.send(c.event("bye"))
}

// tick beats and looks for nodes gone quiet.
func (c *cluster) tick() {
	c.send(c.rosterEvent("beat"))
	if c.state.split { // nobody is heard: that says nothing of them
		return
	}
	now := time.Now()
	for _, n := range c.sortedNodes() {
		if now.Sub(n.heard) > c.cfg.NodeTimeout {
			c.lose(n, fmt.Sprintf("node %s is out of reach", n.name))
		}
	}
	c.room.flush()
}

// drain hands what came from the other nodes to the room, a turn's worth
// (turnMax of output) at a time; then it gives the loop back (and
// posts itself again if more waits), so a flood on another node cannot
// keep this one from its own members.
func (c *cluster) drain() {
	r := c.room
	var one []event
	for r.turn < turnMax {
		var dropped uint64
		one, dropped = c.take(one, 1)
		if dropped > 0 {
			r.add(nil, nil, fmt.Appendf(nil, "* %d messages from the other nodes were dropped: this node fell behind by %d MiB\n",
				dropped, inMax>>20))
		}
		if len(one) == 0 {
			break
		}
		c.apply(&one[0])
	}
	r.flush()
	c.checkBusy()
	if c.more() {
		c.l.Post(c.drain)
	}
}

// apply takes one event from another node.
func (c *cluster) apply(ev *event) {
	s, r := &c.state, c.room
	if ev.Inst == c.inst {
		return
	}
	last, known := s.seen[ev.Inst]
	if known && ev.Seq <= last.seq {
		return // had it already: every line once
	}
	if known && ev.Seq > last.seq+1 {
		if lost := ev.Said - ev.Lines - last.said; lost > 0 {
			r.add(nil, nil, fmt.Appendf(nil, "* %d lines from node %s were lost while the room was split\n", lost, ev.Node))
		}
	}
	s.seen[ev.Inst] = lastSeen{seq: ev.Seq, said: ev.Said}
	n := s.nodes[ev.Inst]
	if n == nil {
		if ev.Kind == "bye" {
			return
		}
		for _, old := range c.sortedNodes() {
			if old.name == ev.Node { // it restarted: its old self is gone
				c.lose(old, fmt.Sprintf("node %s restarted", old.name))
			}
		}
		n = &node{name: ev.Node, inst: ev.Inst}
		s.nodes[ev.Inst] = n
		if ev.Kind == "hello" || ev.Kind == "beat" {
			r.add(nil, nil, fmt.Appendf(nil, "* node %s is in the room with %d members (/who lists them)\n", n.name, len(ev.Members)))
			n.members = c.addNames(n, ev.Members)
		}
	}
	n.heard = time.Now()
	switch ev.Kind {
	case "hello", "beat":
		if ev.Busy != n.busy {
			n.busy = ev.Busy
			if n.busy {
				fmt.Fprintf(r.log, "node %s is behind (a member's queue is full): holding the senders here\n", n.name)
			} else {
				fmt.Fprintf(r.log, "node %s caught up\n", n.name)
			}
		}
		c.reconcile(n, ev.Members)
		if ev.Kind == "hello" { // a node (re)joined: it learns who is here now
			c.send(c.rosterEvent("beat"))
		}
	case "join":
		n.members = append(n.members, remote{ID: ev.ID, Name: ev.Name})
		c.addNames(n, n.members[len(n.members)-1:])
	case "nick":
		if i := slices.IndexFunc(n.members, func(x remote) bool { return x.ID == ev.ID }); i >= 0 {
			c.untake(n.members[i].Name)
			n.members[i].Name = ev.Name
			c.addNames(n, n.members[i:i+1])
		}
	case "leave":
		n.members = slices.DeleteFunc(n.members, func(x remote) bool {
			if x.ID == ev.ID {
				c.untake(x.Name)
				return true
			}
			return false
		})
	case "say":
		r.add(nil, nil, ev.Text)
	case "bye":
		c.lose(n, fmt.Sprintf("node %s stopped", n.name))
	}
}

// reconcile makes n's members what its heartbeat says, telling this
// node's members what changed that no event said (lost in a split).
func (c *cluster) reconcile(n *node, roster []remote) {
	r := c.room
	was := n.members
	for _, old := range was {
		i := slices.IndexFunc(roster, func(x remote) bool { return x.ID == old.ID })
		switch {
		case i < 0:
			r.add(nil, nil, []byte("* ["+old.Name+"] is offline\n"))
		case roster[i].Name != old.Name:
			r.add(nil, nil, []byte("* ["+old.Name+"] is now known as ["+roster[i].Name+"]\n"))
		}
	}
	for _, x := range roster {
		if !slices.ContainsFunc(was, func(old remote) bool { return old.ID == x.ID }) {
			r.add(nil, nil, []byte("* ["+x.Name+"] entered room\n"))
		}
	}
	for _, old := range was {
		c.untake(old.Name)
	}
	n.members = c.addNames(n, slices.Clone(roster))
}

// lose forgets n, its members announced offline (why says why).
func (c *cluster) lose(n *node, why string) {
	delete(c.state.nodes, n.inst)
	for _, x := range n.members {
		c.untake(x.Name)
		c.room.add(nil, nil, []byte("* ["+x.Name+"] is offline ("+why+")\n"))
	}
	fmt.Fprintf(c.room.log, "%s: %d members offline\n", why, len(n.members))
}

// splitNow: NATS went out of reach.
func (c *cluster) splitNow(err error) {
	s := &c.state
	if s.split {
		return
	}
	s.split = true
	for _, n := range s.nodes {
		n.busy = false // they cannot hear us: nothing to wait for
	}
	why := "the connection closed"
	if err != nil {
		why = err.Error()
	}
	fmt.Fprintf(c.room.log, "NATS out of reach (%s): the room is split\n", why)
	c.room.add(nil, nil, []byte("* the room is split: the other nodes are out of reach; until they are back, only the members on node "+
		c.cfg.Node+" hear you\n"))
	c.room.flush()
}

// merged: NATS is back at url (or reached for the first time).
func (c *cluster) merged(url string) {
	s := &c.state
	if !s.split {
		return
	}
	s.split = false
	now := time.Now()
	for _, n := range s.nodes {
		n.heard = now // they have a node timeout to be heard again
	}
	fmt.Fprintf(c.room.log, "NATS %s reached: the room is whole\n", url)
	c.room.add(nil, nil, []byte("* the room is whole again: the other nodes hear you\n"))
	if lost := c.lost.Load() - s.told; lost > 0 {
		s.told += lost
		c.room.add(nil, nil, fmt.Appendf(nil, "* %d lines said here while the room was split did not reach the other nodes (more than %d KiB)\n",
			lost, splitBuffer>>10))
	}
	c.send(c.rosterEvent("hello"))
	c.room.flush()
}

// held reports whether the room's senders must wait for the other nodes:
// NATS takes this node's output slower than it comes, or a node's member
// reads slower than the room talks.
func (c *cluster) held(limit int64) bool {
	if c.outBytes.Load() > limit {
		return true
	}
	for _, n := range c.state.nodes {
		if n.busy {
			return true
		}
	}
	return false
}

// checkBusy tells the other nodes when a queue here passes queueHigh
// (they hold their senders) and when every queue is below queueLow
// again.
func (c *cluster) checkBusy() {
	s := &c.state
	if s.busy || !c.room.queuesAbove(queueHigh) {
		return
	}
	s.busy = true
	c.send(c.rosterEvent("beat"))
	s.watch = c.l.Every(drainCheck, func() {
		if c.room.queuesAbove(queueLow) {
			return
		}
		s.watch.Stop()
		s.watch = nil
		s.busy = false
		c.send(c.rosterEvent("beat"))
	})
}

// who is /who's answer: every member, by node, this one first.
func (c *cluster) who() string {
	var b strings.Builder
	total := len(c.room.members)
	nodes := c.sortedNodes()
	if c.state.split {
		nodes = nil
	}
	for _, n := range nodes {
		total += len(n.members)
	}
	fmt.Fprintf(&b, "* %d in the room, %d nodes: %s:", total, len(nodes)+1, c.cfg.Node)
	for _, m := range c.room.members {
		b.WriteString(" [" + m.name + "]")
	}
	for _, n := range nodes {
		b.WriteString("; " + n.name + ":")
		for _, x := range n.members {
			b.WriteString(" [" + x.Name + "]")
		}
	}
	if c.state.split {
		b.WriteString("; the room is split: the other nodes are out of reach")
	}
	return b.String()
}

// count is the room's size, every node's members.
func (c *cluster) count() int {
	total := 0
	for _, n := range c.state.nodes {
		total += len(n.members)
	}
	return total
}

// sortedNodes is the other nodes by name (then instance).
func (c *cluster) sortedNodes() []*node {
	nodes := make([]*node, 0, len(c.state.nodes))
	for _, n := range c.state.nodes {
		nodes = append(nodes, n)
	}
	slices.SortFunc(nodes, func(a, b *node) int {
		return cmp.Or(strings.Compare(a.name, b.name), cmp.Compare(a.inst, b.inst))
	})
	return nodes
}
