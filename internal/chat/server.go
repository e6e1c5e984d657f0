// Package chat is chat-server's room: members on TCP (or TLS) connections
// send lines, and every line goes to every other member after its
// sender's name; /nick, /who and /quit are the members' commands. With a
// ClusterConfig, several servers (nodes) are one room, joined through NATS.
//
// What the room promises, each rule kept in one place:
//
//   - Nobody can pass for someone else: every line from a member starts
//     with "[NAME] ", every notice of the server with "* ", and a member's
//     controls, line separators and bidi controls reach the others
//     escaped (message, with internal/safetext).
//   - Lines are at most MaxLine bytes; a longer one is refused with a
//     notice, never buffered (read).
//   - Nobody's pace stops the room: what one read of a member brings goes
//     to each of the others in one write; while a member's queue is past
//     256 KiB the senders are held, not read, until every queue is below
//     64 KiB, and only a member who takes nothing for Config.WriteTimeout
//     is dropped (flow.go).
//   - Names are unique without regard to case, in the whole room
//     (nick, and cluster_names.go across nodes).
//
// A Server is a loop.Server of one loop whose handler is the room:
//
//	srv, err := chat.NewServer(chat.Config{}, loop.Options{})
//	if err != nil {
//		return err
//	}
//	defer srv.Close() // after Stop: leaves NATS, with a cluster
//	if err := srv.Listen("tcp", "127.0.0.1:8002"); err != nil {
//		return err
//	}
//	if err := srv.Start(); err != nil {
//		return err
//	}
//	defer srv.Stop(ctx) // the members are told the server is shutting down
//
// Only cluster.go imports NATS's client, github.com/nats-io/nats.go.
package chat

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/iomux/iomux/codec"
	"github.com/iomux/iomux/internal/safetext"
	"github.com/iomux/iomux/loop"
)

// Limits and defaults of a room.
const (
	// MaxLine is the longest line a member may send, in bytes, its "\n"
	// (or "\r\n") not counted.
	MaxLine = 4096
	// MaxName is the longest name of a member, a node or a room.
	MaxName = 32
	// DefaultWriteTimeout is Config.WriteTimeout's default.
	DefaultWriteTimeout = 10 * time.Second

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

// Config is what a chat server is made from. The zero value is a room on
// one server, with the defaults.
type Config struct {
	// WriteTimeout drops a member who takes nothing of what is queued for
	// them for this long, and tells the others ("* [NAME] was
	// disconnected: took nothing for 10s"); until then the room waits for
	// them (senders are held while their queue is full). 0:
	// DefaultWriteTimeout; negative: never, as for loop.Options.
	WriteTimeout time.Duration
	// Log receives the server's notes, a line each ("Client
	// 127.0.0.1:55821 connected", and with a cluster the link's state).
	// It is written on the loop, so it must not block: chat-server's
	// drops what its reader does not take. nil: the notes are discarded.
	Log io.Writer
	// Cluster, when its URLs are set, makes the server one node of a room
	// spread over several.
	Cluster ClusterConfig
}

// Server is a chat room on a loop.Server of one loop, embedded: Listen (or
// ListenTLS), Start and Stop it as any loop.Server. Stop tells the members,
// and the other nodes, that the server is shutting down before it closes
// the connections. Close it once it has stopped.
type Server struct {
	*loop.Server
	cluster *cluster // nil without Config.Cluster.URLs
	closed  sync.Once
}

// NewServer makes a chat server from cfg, on a loop.Server made with opts
// (its backend, logger, Observe and so on are the caller's), except that
// it has one loop and cfg's WriteTimeout. The room runs on a single loop:
// membership, names and the order of messages are one piece of state that
// every line touches, and one loop owns it without locks and gives every
// member the same order of messages. Chat is light work (a broadcast is
// one non-blocking write per member), so one core serves a large room.
//
// With cfg.Cluster.URLs set, NewServer connects to NATS, or keeps trying
// in the background if NATS is out of reach (the room then starts split),
// and the node joins the room when its loop starts (after opts'
// OnLoopStart, if any). It fails on a room or node name that CheckName
// refuses, a negative NodeTimeout, or URLs nats.go cannot use.
func NewServer(cfg Config, opts loop.Options) (*Server, error) {
	if cfg.WriteTimeout == 0 {
		cfg.WriteTimeout = DefaultWriteTimeout
	}
	if cfg.Log == nil {
		cfg.Log = io.Discard
	}
	r := &room{log: cfg.Log, writeTimeout: cfg.WriteTimeout}
	s := &Server{}
	if cfg.Cluster.URLs != "" {
		c, err := newCluster(cfg.Cluster, cfg.Log)
		if err != nil {
			return nil, err
		}
		s.cluster = c
	}
	opts.Loops = 1
	opts.WriteTimeout = cfg.WriteTimeout
	if s.cluster != nil {
		started := opts.OnLoopStart
		opts.OnLoopStart = func(l *loop.Loop) {
			if started != nil {
				started(l)
			}
			s.cluster.start(r, l)
		}
	}
	s.Server = loop.NewServer(r, opts)
	return s, nil
}

// Close leaves NATS: it sends what is still queued for the other nodes
// (the goodbye that Stop queued among it), waiting at most a second, and
// closes the connection. Call it once the Server has stopped, or if it
// never started; without a cluster it does nothing. Later calls do
// nothing.
func (s *Server) Close() {
	if s.cluster != nil {
		s.closed.Do(s.cluster.close)
	}
}

// member is one connection in the room.
type member struct {
	c        *loop.Conn
	id       uint64 // unique on this node, for the other nodes
	name     string
	skipping bool   // discarding the rest of an oversize line
	quit     bool   // sent /quit: the rest of their input is ignored
	leaving  string // how the others are told this member left
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

	cluster *cluster // the other nodes of the room (cluster.go), once the loop started; nil without
	joined  uint64   // members who joined so far: the next one's id
}

// piece is output for one member (to), or for all but from (to nil).
type piece struct {
	to, from *member
	text     []byte
}

func (r *room) OnOpen(c *loop.Conn) {
	r.joined++
	m := &member{c: c, id: r.joined, name: c.RemoteAddr().String(), leaving: "is offline"}
	c.SetContext(m)
	r.members = append(r.members, m)
	fmt.Fprintf(r.log, "Client %s connected\n", m.name)
	r.tell(m, fmt.Sprintf("* welcome, %s; %d in the room; /nick NAME, /who, /quit", m.name, r.count()))
	r.notice(m, "* ["+m.name+"] entered room")
	if r.cluster != nil {
		if r.cluster.state.split {
			r.tell(m, "* the room is split: the other nodes are out of reach; until they are back, only the members on node "+
				r.cluster.cfg.Node+" hear you")
		}
		r.cluster.joined(m)
	}
	r.flush()
}

func (r *room) OnClose(c *loop.Conn, err error) {
	m, ok := c.Context().(*member)
	if !ok {
		return
	}
	if errors.Is(err, loop.ErrTimeout) {
		m.leaving = fmt.Sprintf("was disconnected: took nothing for %v", r.writeTimeout)
	}
	// In place: no callback runs while another iterates over the members
	// (the loop holds OnClose until the current callback returns).
	r.members = slices.DeleteFunc(r.members, func(x *member) bool { return x == m })
	fmt.Fprintf(r.log, "Client %s %s\n", m.name, m.leaving)
	if r.closing {
		return
	}
	if r.cluster != nil {
		r.cluster.left(m)
	}
	r.notice(m, "* ["+m.name+"] "+m.leaving)
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
	for c.Buffered() > 0 && !c.Closed() && !m.quit {
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
		m.c.Close()
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

var (
	errNameLength = fmt.Errorf("a name is 1 to %d characters long", MaxName)
	errNameChars  = errors.New("a name may hold letters, digits, - _ and . only")
)

// CheckName returns an error, worded for the person who chose the name,
// unless name may be a member's, a node's or a room's: 1 to MaxName
// letters, digits, '-', '_' and '.'.
func CheckName(name string) error {
	if name == "" || len(name) > MaxName {
		return errNameLength
	}
	for _, ch := range name {
		ok := ch == '-' || ch == '_' || ch == '.' ||
			'a' <= ch && ch <= 'z' || 'A' <= ch && ch <= 'Z' || '0' <= ch && ch <= '9'
		if !ok {
			return errNameChars
		}
	}
	return nil
}
