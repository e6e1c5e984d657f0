package chat

// Names across the nodes of a room: unique without regard to case in the
// whole room. /nick refuses a name any node has; when two nodes granted one
// at once, the member on the node whose name sorts first keeps it and the
// other becomes NAME@NODE.

import (
	"cmp"
	"slices"
	"strings"
)

// addNames records members of n (a slice of n.members, or to become it),
// renaming any member here who must yield a name to them; it returns
// members.
func (c *cluster) addNames(n *node, members []remote) []remote {
	for _, x := range members {
		key := strings.ToLower(x.Name)
		c.state.taken[key]++
		if !c.precedes(n) {
			continue
		}
		for _, m := range c.room.members {
			if strings.ToLower(m.name) == key {
				c.rename(m, n)
			}
		}
	}
	return members
}

func (c *cluster) untake(name string) {
	key := strings.ToLower(name)
	if c.state.taken[key]--; c.state.taken[key] <= 0 {
		delete(c.state.taken, key)
	}
}

// nameTaken reports whether a member of another node is called name
// (without regard to case).
func (c *cluster) nameTaken(name string) bool { return c.state.taken[strings.ToLower(name)] > 0 }

// precedes reports whether n keeps a name that a member of n and one of
// this node both have: the node whose name sorts first (the instance,
// if two nodes share a name).
func (c *cluster) precedes(n *node) bool {
	return cmp.Or(strings.Compare(n.name, c.cfg.Node), cmp.Compare(n.inst, c.inst)) < 0
}

// yieldName renames m, just named, if a node that precedes this one has
// a member of that name.
func (c *cluster) yieldName(m *member) {
	if !c.nameTaken(m.name) {
		return
	}
	for _, n := range c.sortedNodes() {
		if c.precedes(n) && slices.ContainsFunc(n.members, func(x remote) bool { return strings.EqualFold(x.Name, m.name) }) {
			c.rename(m, n)
			return
		}
	}
}

// rename gives m, whose name n's member has too, the name NAME@NODE.
func (c *cluster) rename(m *member, n *node) {
	old := m.name
	m.name = old + "@" + c.cfg.Node
	r := c.room
	r.tell(m, "* the name "+old+" is taken on node "+n.name+"; you are now "+m.name)
	r.notice(m, "* ["+old+"] is now known as ["+m.name+"]")
	ev := c.event("nick")
	ev.ID, ev.Name = m.id, m.name
	c.send(ev)
}
