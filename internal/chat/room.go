package chat

// The room: its members, what they send (lines, commands) and what the
// others see of it. How the output flows to them is flow.go.

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/iomux/iomux/codec"
	"github.com/iomux/iomux/internal/safetext"
	"github.com/iomux/iomux/loop"
)

// How much the room takes and holds.
const (
	// turnMax bounds the output of one turn (what one read of a member
	// brought): each member gets the turn's lines in one write.
	turnMax = 256 << 10
	// queueHigh is the queue for a member past which senders are held
	// (not read) until every queue is below queueLow.
	queueHigh = 256 << 10
	queueLow  = 64 << 10
	// drainCheck is how often the queues are looked at while senders are
	// held.
	drainCheck = 10 * time.Millisecond
)

// splitLines cuts what a member sends into lines of at most MaxLine bytes.
var splitLines = codec.Lines(MaxLine)

// member is one connection in the room: a TCP (or TLS) connection on the
// room's loop (c), or a WebSocket on another loop (web, web.go).
type member struct {
	c        *loop.Conn // nil for a web member
	web      *webMember // nil for a TCP member
	id       uint64     // unique on this node, for the other nodes
	name     string
	skipping bool   // discarding the rest of an oversize line
	quit     bool   // sent /quit: the rest of their input is ignored
	leaving  string // how the others are told this member left
}

// gone reports whether m's connection is closed or closing: nothing more
// is written to it.
func (m *member) gone() bool {
	if m.web != nil {
		return m.web.gone
	}
	return m.c.Closed()
}

// outbound is what waits to be sent to m, in bytes.
func (m *member) outbound() int {
	if m.web != nil {
		return m.web.outbound()
	}
	return m.c.Outbound()
}

// close closes m's connection once what was written to it is sent.
func (m *member) close() {
	if m.web != nil {
		m.web.close(1000, "bye")
		return
	}
	m.c.Close()
}

// room is the chat server's handler.
//
// What a turn (an event: a member's read, a join, a leave) sends is
// gathered in pending and written at its end, one write per member: a
// member who sends a read's worth of short lines costs each of the others
// one write, not one per line, so the room's other events are not kept
// waiting behind them.
type room struct {
	loop.BaseHandler
	members      []*member     // in order of arrival
	closing      bool          // the server is stopping: departures are not announced
	log          io.Writer     // the server's own notes (Config.Log)
	writeTimeout time.Duration // Config.WriteTimeout

	pending []piece     // the turn's output, not yet written
	turn    int         // bytes added to pending this turn (a broadcast counts once)
	held    []*member   // senders not read until the queues drain
	drain   *loop.Timer // while senders are held: looks at the queues

	batch     []membership // joins and leaves not yet told (notices.go)
	batchWait *loop.Timer  // tells the batch, unless output of a turn takes it first

	l       *loop.Loop // the room's, once it started
	cluster *cluster   // the other nodes of the room (cluster.go), started with the loop; nil without
	joined  uint64     // members who joined so far: the next one's id
}

// The room's optional loop.Handler methods.
var (
	_ loop.LoopStartHandler = (*room)(nil)
	_ loop.StopHandler      = (*room)(nil)
)

// OnLoopStart joins the node to the room's cluster, if there is one, as
// the room's loop starts.
func (r *room) OnLoopStart(l *loop.Loop) {
	r.l = l
	if r.cluster != nil {
		r.cluster.start(r, l)
	}
}

// piece is output for one member (to), or for all but from (to nil),
// and with upTo set, only for the members who joined by then (whose id
// is at most upTo). room: it is for the other nodes too (what a member
// said, and notices of what members here did).
type piece struct {
	to, from *member
	text     []byte
	upTo     uint64
	room     bool
}

func (r *room) OnOpen(c *loop.Conn) {
	m := &member{c: c, name: c.RemoteAddr().String()}
	c.SetContext(m)
	r.join(m)
}

// join makes m a member: welcomed, the others told with the next batch.
func (r *room) join(m *member) {
	r.joined++
	m.id, m.leaving = r.joined, "is offline"
	r.members = append(r.members, m)
	fmt.Fprintf(r.log, "Client %s connected\n", m.name)
	// The welcome is written at once, the others told with the batch
	// (notices.go): under a join storm, a join costs one write.
	welcome := fmt.Sprintf("* welcome, %s; %d in the room; /nick NAME, /who, /quit\n", m.name, r.count())
	if r.cluster != nil && r.cluster.state.split {
		welcome += "* the room is split: the other nodes are out of reach; until they are back, only the members on node " +
			r.cluster.cfg.Node + " hear you\n"
	}
	r.send(m, []byte(welcome))
	r.announce(m, true, "* ["+m.name+"] entered room")
	if r.cluster != nil {
		r.cluster.joined(m)
	}
	r.flush()
}

func (r *room) OnClose(c *loop.Conn, err error) {
	m, ok := c.Context().(*member)
	if !ok {
		return
	}
	r.leave(m, err)
}

// leave takes m out of the room (err: why its connection closed), and
// tells the others with the next batch.
func (r *room) leave(m *member, err error) {
	i := slices.Index(r.members, m)
	if i < 0 {
		return // never joined (a web member whose join was refused)
	}
	if errors.Is(err, loop.ErrTimeout) {
		m.leaving = fmt.Sprintf("was disconnected: took nothing for %v", r.writeTimeout)
	}
	// In place: no callback runs while another iterates over the members
	// (the loop holds OnClose until the current callback returns; a web
	// member's leave is posted to the loop).
	r.members = slices.Delete(r.members, i, i+1)
	fmt.Fprintf(r.log, "Client %s %s\n", m.name, m.leaving)
	if r.closing {
		return
	}
	if r.cluster != nil {
		r.cluster.left(m)
	}
	r.announce(m, false, "* ["+m.name+"] "+m.leaving)
	r.flush()
}

func (r *room) OnData(c *loop.Conn) {
	m := c.Context().(*member)
	r.read(m)
	r.flush()
	if !c.Closed() && r.backlog() {
		r.hold(m) // slow the sender, not the room: see hold
	}
}

// OnStop tells everyone the server is going away, before the loop closes
// the connections.
func (r *room) OnStop(*loop.Loop) {
	r.closing = true
	if r.cluster != nil {
		r.cluster.bye() // the others say this node's members are offline
	}
	for _, m := range r.members {
		r.tell(m, "* the server is shutting down")
	}
	r.flush()
	for _, m := range r.members {
		if m.web != nil { // the loop closes the others
			m.web.close(1001, "the server is shutting down")
		}
	}
}

// read handles m's buffered lines a turn at a time: lines until their
// output reaches turnMax (or one line, when a queue is past queueHigh
// already), written out before the next turn. Once a queue is past
// queueHigh, m is held and the rest of its input waits.
func (r *room) read(m *member) {
	c := m.c
	limit := turnMax
	if r.backlog() {
		limit = 1
	}
	for c.Inbound() > 0 && !c.Closed() && !m.quit {
		if m.skipping && !r.skipOversize(m) {
			return
		}
		n, err := codec.Each(splitLines, c.Peek(-1), func(line []byte) error {
			r.line(m, line)
			if c.Closed() || m.quit || r.turn >= limit {
				return codec.ErrStop
			}
			return nil
		})
		c.Discard(n)
		switch {
		case m.quit:
			c.Discard(-1)
			return
		case errors.Is(err, codec.ErrFrameTooLarge):
			r.tell(m, fmt.Sprintf("* line refused: longer than %d bytes", MaxLine))
			m.skipping = true
			continue
		case r.turn < limit:
			return // what is left is the start of a line
		}
		r.flush()
		if r.backlog() {
			return
		}
		limit = turnMax
	}
}

// skipOversize discards the rest of a refused line; it reports whether the
// line's end was found (what follows it is read as usual).
func (r *room) skipOversize(m *member) bool {
	buf := m.c.Peek(-1)
	i := slices.Index(buf, '\n')
	if i < 0 {
		m.c.Discard(-1)
		return false
	}
	m.c.Discard(i + 1)
	m.skipping = false
	return true
}

// line handles one line from m: a command, or a message for the others. A
// command is the line's first word, wherever the spaces are ("/quit now",
// " /who"); "//" starts a message with a "/".
func (r *room) line(m *member, line []byte) {
	text := bytes.TrimSpace(line)
	switch {
	case len(text) == 0:
		return
	case bytes.HasPrefix(text, []byte("//")):
		r.message(m, text[1:])
	case text[0] == '/':
		r.command(m, string(text))
	default:
		r.message(m, line)
	}
}

// message sends m's text to the others after m's name, its controls
// escaped (safetext.Escape): an ESC sequence would reach their terminals,
// a "\r" or a line separator could put a line of its own (a notice,
// another member's name) where the others see one, a bidi control could
// reorder what they see. So every line from a member starts with
// "[NAME] ", every notice with "* ", and nothing a member types can make
// one look like the other. (Written straight into the turn's output: a
// flood of short lines costs no allocation per line.)
func (r *room) message(m *member, text []byte) {
	p := r.pieceFor(nil, m)
	at := len(p.text)
	p.text = append(p.text, '[')
	p.text = append(p.text, m.name...)
	p.text = append(p.text, "] "...)
	p.text = append(p.text, safetext.Escape(text)...)
	p.text = append(p.text, '\n')
	r.turn += len(p.text) - at
}

// command runs one of the members' commands; what follows its name is its
// argument, trimmed (only /nick takes one; the others ignore it).
func (r *room) command(m *member, text string) {
	name, arg := text, ""
	if i := strings.IndexFunc(text, unicode.IsSpace); i >= 0 {
		name, arg = text[:i], strings.TrimSpace(text[i:])
	}
	switch name {
	case "/quit":
		m.leaving, m.quit = "left the room", true
		r.tell(m, "* bye")
		r.flush()
		m.close()
	case "/who":
		if r.cluster != nil {
			r.tell(m, r.cluster.who())
			break
		}
		names := make([]string, len(r.members))
		for i, x := range r.members {
			names[i] = "[" + x.name + "]"
		}
		r.tell(m, fmt.Sprintf("* %d in the room: %s", len(names), strings.Join(names, " ")))
	case "/nick":
		r.nick(m, arg)
	default:
		r.tell(m, "* unknown command; try /nick NAME, /who or /quit (start a message with // to send a /)")
	}
}

// nick renames m. Names are unique without regard to case: "Alice" is
// taken while "alice" is in the room (a member may change the case of
// their own).
func (r *room) nick(m *member, name string) {
	switch err := CheckName(name); {
	case errors.Is(err, errNameLength):
		r.tell(m, fmt.Sprintf("* usage: /nick NAME (1 to %d letters, digits, - _ .)", MaxName))
		return
	case err != nil:
		r.tell(m, "* "+err.Error())
		return
	}
	for _, x := range r.members {
		if x != m && strings.EqualFold(x.name, name) {
			r.tell(m, "* the name "+name+" is taken")
			return
		}
	}
	if r.cluster != nil && r.cluster.nameTaken(name) {
		r.tell(m, "* the name "+name+" is taken (on another node)")
		return
	}
	old := m.name
	m.name = name
	r.tell(m, "* you are now "+name)
	r.notice(m, "* ["+old+"] is now known as ["+name+"]")
	if r.cluster != nil {
		r.cluster.renamed(m)
	}
}

// count is how many are in the room, on every node.
func (r *room) count() int {
	if r.cluster != nil {
		return len(r.members) + r.cluster.count()
	}
	return len(r.members)
}
