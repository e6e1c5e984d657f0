package main

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

func init() {
	register(&command{
		name:    "chat-server",
		summary: "a chat room: every line a member sends goes to every other member (the tutorials' chat server)",
		usage: `Usage: iomux chat-server [--addr 127.0.0.1:8002] [--write-timeout 10s] [--tls-cert FILE --tls-key FILE] [--backend auto] [-v]
                        [--nats nats://HOST:4222[,...] [--room chat] [--node NAME] [--node-timeout 3s]]

The Python select tutorials' chat server, made safe. Every line a member
sends goes to every other member, prefixed with the sender's name:
"[127.0.0.1:55821] hello". The server's own notices start with "* ":
"* [127.0.0.1:55821] entered room", "* [name] left the room", "* [name] is
offline", "* [old] is now known as [new]", and the answers to commands.

What a member types cannot pass for a notice or for another member: every
line from a member starts with "[NAME] ", NAME being who sent it, and their
text follows on that line. Control bytes reach the others as escapes
(\x1b, \r), never as terminal commands, and so do the characters that
would start a line of their own on some screens (U+2028, U+2029) or
reorder what is shown (the bidi controls, U+202A to U+202E, U+2066 to
U+2069, U+200E, U+200F, U+061C).

Commands (a line that starts with "/"):
  /nick NAME   be called NAME instead of host:port (letters, digits, - _ .);
               names are unique without regard to case
  /who         list the members
  /quit        leave

Lines longer than 4096 bytes are refused with a notice, not buffered.

Nobody's pace stops the room. The lines that one read from a member
brings (up to 256 KiB of what they make) go out to each of the others in
one write, so a flood of short lines costs each member a write per read,
not one per line, and the others are not kept waiting.

When a member's queue passes 256 KiB (they read slower than the room
talks), whoever sends is held, their lines left unread, until every queue
is below 64 KiB: the room goes at the pace of its slowest reader, and a
slow reader is never dropped for it. Only a member who takes nothing of
what is queued for them for --write-timeout (default 10s) is
disconnected, and the others told: "* [name] was disconnected: took
nothing for 10s"; until then the room waits for them. (The tutorial's
broadcast blocked the whole room on one slow member.)

One room on several machines (--nats): every chat-server given the same
NATS server(s) and --room is a node of one room. A line said on any node
reaches every member of every node once, in the order it was said; joins,
nick changes, leaves and offline notices cross too; /who lists every
member by node ("* 60 in the room, 3 nodes: n0: [a] [b]; n1: [c] ...").
Names are unique in the whole room without regard to case: /nick refuses
a name taken on any node. Two nodes can grant one name at once (within
the moment a message takes between them, or while the room is split);
when they learn it, the member on the node whose --node sorts first keeps
it and the other becomes NAME@NODE, and is told. --node (default
HOST-PID) must be unique in the room. A node not heard from for
--node-timeout (default 3s; nodes beat three times per timeout) is lost:
its members are announced offline; it rejoins when it is back. When NATS
is out of reach, each node serves its own members and tells them the room
is split; when it is back, the room merges and says so. What a node says
while split (up to 1 MiB) reaches the others after the merge; past that,
and what the others said meanwhile, is lost, and the members are told how
many lines. The loop never waits on NATS: a publisher goroutine sends,
and what arrives reaches the loop as posted work. When output waits for
NATS past 1 MiB, or a member on another node reads slower than the room
talks, this node's senders are held as for a full queue here. What waits
for the loop from NATS is bounded at 16 MiB (past it, messages are
dropped and the members told); one message carries at most 60 KiB of
lines, and a heartbeat some 40 bytes a member: the NATS server's
max_payload (1 MiB by default) must be above both.

Notes go to stdout ("Client 127.0.0.1:55821 connected"); they never hold
the room up: if stdout is not read, notes past 256 KiB are dropped and
counted, with a warning on stderr at most once a second.

Example:
  $ iomux chat-server
  starting up on 127.0.0.1 port 8002
  $ iomux chat-client            # in two or more other terminals
  $ nc 127.0.0.1 8002            # or any line-based client

  $ nats-server -a 127.0.0.1 &   # a room on two nodes
  $ iomux chat-server --nats nats://127.0.0.1:4222 --node n1 --addr :8002
  $ iomux chat-server --nats nats://127.0.0.1:4222 --node n2 --addr :8003
`,
		run: runChatServer,
	})
}

// Limits and defaults of the chat server.
const (
	chatServerMaxLine = 4096 // longest line a member may send
	chatServerMaxNick = 32
	// chatServerBatch bounds the output of one turn (what one read of a
	// member brought): each member gets the turn's lines in one write.
	chatServerBatch = 256 << 10
	// chatServerHigh is the queue for a member past which senders are
	// held (not read) until every queue is below chatServerLow.
	chatServerHigh = 256 << 10
	chatServerLow  = 64 << 10
	// chatServerDrainCheck is how often the queues are looked at while
	// senders are held.
	chatServerDrainCheck = 10 * time.Millisecond
	// chatServerWriteTimeout is --write-timeout's default: a member who
	// takes nothing of what is queued for them for this long is dropped.
	chatServerWriteTimeout = 10 * time.Second
)

var chatServerLines = codec.Lines(chatServerMaxLine)

// chatMember is one connection in the room.
type chatMember struct {
	c        *loop.Conn
	id       uint64 // unique on this node, for the other nodes (--nats)
	name     string
	skipping bool   // discarding the rest of an oversize line
	quit     bool   // sent /quit: the rest of their input is ignored
	leaving  string // how the others are told this member left
}

// chatRoom is the chat server's handler. The room runs on a single loop
// (the server has no --loops): membership, names and the order of
// messages are one piece of state that every line touches, and one loop
// owns it without locks and gives every member the same order of
// messages. Chat is light work (a broadcast is one non-blocking write per
// member, never a wait), so one core serves a large room; spreading it
// over loops would buy nothing but cross-loop posts and per-member copies.
//
// What a turn (an event: a member's read, a join, a leave) sends is
// gathered in pending and written at its end, one write per member: a
// member who sends a read's worth of short lines costs each of the others
// one write, not one per line, so the room's other events are not kept
// waiting behind them.
type chatRoom struct {
	loop.BaseHandler
	members      []*chatMember // in order of arrival; replaced, never edited, on leave
	closing      bool          // the server is stopping: departures are not announced
	log          io.Writer     // the server's own notes (stdout)
	writeTimeout time.Duration // --write-timeout

	pending []chatPiece   // the turn's output, not yet written
	turn    int           // bytes added to pending this turn (a broadcast counts once)
	held    []*chatMember // senders not read until the queues drain
	drain   *loop.Timer   // while senders are held: looks at the queues

	cluster *chatCluster // --nats: the other nodes of the room (chatcluster.go); nil without
	joined  uint64       // members who joined so far: the next one's id
}

// chatPiece is output for one member (to), or for all but from (to nil).
type chatPiece struct {
	to, from *chatMember
	text     []byte
}

func runChatServer(e *env, args []string) error {
	fs := newFlags(commands["chat-server"])
	var opt serverOptions
	opt.bind(fs, "127.0.0.1:8002", false)
	writeTimeout := fs.Duration("write-timeout", chatServerWriteTimeout,
		"drop a member who takes nothing of what is queued for them for this long")
	var cfg chatClusterConfig
	fs.StringVar(&cfg.urls, "nats", "", "join the room to the other nodes through the NATS server(s) at `url[,url...]` (nats://host:4222)")
	fs.StringVar(&cfg.room, "room", "chat", "with --nats: the room's `name`; nodes with the same one form one room")
	fs.StringVar(&cfg.node, "node", "", "with --nats: this node's `name`, unique in the room (default HOST-PID)")
	fs.DurationVar(&cfg.timeout, "node-timeout", chatClusterNodeTimeout,
		"with --nats: a node not heard from for this long is lost, its members announced offline")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := opt.check(fs); err != nil {
		return err
	}
	if *writeTimeout <= 0 {
		return fmt.Errorf("%w: --write-timeout must be positive", errUsage)
	}
	if cfg.timeout <= 0 {
		return fmt.Errorf("%w: --node-timeout must be positive", errUsage)
	}
	room := &chatRoom{log: opt.openOutputs(e), writeTimeout: *writeTimeout}
	opt.beforeStop = func(srv *loop.Server) {
		l := srv.Loops()[0]
		l.Post(room.shutdown) // runs before the loop closes the connections
	}
	if cfg.urls != "" {
		if cfg.node == "" {
			cfg.node = chatClusterDefaultNode()
		}
		cluster, err := newChatCluster(cfg, room.log)
		if err != nil {
			return err
		}
		defer cluster.close()
		opt.afterStart = func(srv *loop.Server) {
			l := srv.Loops()[0]
			l.Post(func() { cluster.start(room, l) })
		}
	}
	opts := opt.loopOptions()
	opts.WriteTimeout = *writeTimeout
	return opt.serve(e, loop.NewServer(room, opts))
}

func (r *chatRoom) OnOpen(c *loop.Conn) {
	r.joined++
	m := &chatMember{c: c, id: r.joined, name: c.RemoteAddr().String(), leaving: "is offline"}
	c.SetContext(m)
	r.members = append(r.members, m)
	fmt.Fprintf(r.log, "Client %s connected\n", m.name)
	r.tell(m, fmt.Sprintf("* welcome, %s; %d in the room; /nick NAME, /who, /quit", m.name, r.count()))
	r.notice(m, "* ["+m.name+"] entered room")
	if r.cluster != nil {
		if r.cluster.state.split {
			r.tell(m, "* the room is split: the other nodes are out of reach; until they are back, only the members on node "+
				r.cluster.cfg.node+" hear you")
		}
		r.cluster.joined(m)
	}
	r.flush()
}

func (r *chatRoom) OnClose(c *loop.Conn, err error) {
	m, ok := c.Context().(*chatMember)
	if !ok {
		return
	}
	if errors.Is(err, loop.ErrTimeout) {
		m.leaving = fmt.Sprintf("was disconnected: took nothing for %v", r.writeTimeout)
	}
	// In place: no callback runs while another iterates over the members
	// (the loop holds OnClose until the current callback returns).
	r.members = slices.DeleteFunc(r.members, func(x *chatMember) bool { return x == m })
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

func (r *chatRoom) OnData(c *loop.Conn) {
	m := c.Context().(*chatMember)
	r.read(m)
	r.flush()
	if !c.Closed() && r.backlog() {
		r.hold(m) // slow the sender, not the room: see hold
	}
}

// read handles m's buffered lines a turn at a time: lines until their
// output reaches chatServerBatch (or one line, when a queue is past
// chatServerHigh already), written out before the next turn. Once a
// queue is past chatServerHigh, m is held and the rest of its input
// waits.
func (r *chatRoom) read(m *chatMember) {
	c := m.c
	limit := chatServerBatch
	if r.backlog() {
		limit = 1
	}
	for c.Buffered() > 0 && !c.Closed() && !m.quit {
		if m.skipping && !r.skipOversize(m) {
			return
		}
		n, err := codec.Each(chatServerLines, c.Peek(-1), func(line []byte) error {
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
			r.tell(m, fmt.Sprintf("* line refused: longer than %d bytes", chatServerMaxLine))
			m.skipping = true
			continue
		case r.turn < limit:
			return // what is left is the start of a line
		}
		r.flush()
		if r.backlog() {
			return
		}
		limit = chatServerBatch
	}
}

// skipOversize discards the rest of a refused line; it reports whether the
// line's end was found (what follows it is read as usual).
func (r *chatRoom) skipOversize(m *chatMember) bool {
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

// shutdown tells everyone the server is going away.
func (r *chatRoom) shutdown() {
	r.closing = true
	if r.cluster != nil {
		r.cluster.bye() // the others say this node's members are offline
	}
	for _, m := range r.members {
		r.tell(m, "* the server is shutting down")
	}
	r.flush()
}

// line handles one line from m: a command, or a message for the others. A
// command is the line's first word, wherever the spaces are ("/quit now",
// " /who"); "//" starts a message with a "/".
func (r *chatRoom) line(m *chatMember, line []byte) {
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
func (r *chatRoom) message(m *chatMember, text []byte) {
	p := r.piece(nil, m)
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
func (r *chatRoom) command(m *chatMember, text string) {
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
func (r *chatRoom) nick(m *chatMember, name string) {
	if err := chatServerCheckNick(name); err != nil {
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
func (r *chatRoom) count() int {
	if r.cluster != nil {
		return len(r.members) + r.cluster.count()
	}
	return len(r.members)
}

func chatServerCheckNick(name string) error {
	if name == "" || len(name) > chatServerMaxNick {
		return fmt.Errorf("usage: /nick NAME (1 to %d letters, digits, - _ .)", chatServerMaxNick)
	}
	for _, ch := range name {
		ok := ch == '-' || ch == '_' || ch == '.' ||
			'a' <= ch && ch <= 'z' || 'A' <= ch && ch <= 'Z' || '0' <= ch && ch <= '9'
		if !ok {
			return fmt.Errorf("a name may hold letters, digits, - _ and . only")
		}
	}
	return nil
}
