package main

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"unicode"

	"github.com/iomux/iomux/codec"
	"github.com/iomux/iomux/loop"
)

func init() {
	register(&command{
		name:    "chat-server",
		summary: "a chat room: every line a member sends goes to every other member (the tutorials' chat server)",
		usage: `Usage: iomux chat-server [--addr 127.0.0.1:8002] [--tls-cert FILE --tls-key FILE] [--backend auto] [-v]

The Python select tutorials' chat server, made safe. Every line a member
sends goes to every other member, prefixed with the sender's name:
"[127.0.0.1:55821] hello".
The others are told when someone joins ("[127.0.0.1:55821] entered room"),
leaves ("[name] left the room") or goes away ("[name] is offline").

Commands (a line that starts with "/"):
  /nick NAME   be called NAME instead of host:port (letters, digits, - _ .)
  /who         list the members
  /quit        leave

Control bytes in a message reach the others as escapes (\x1b, \r), never
as terminal commands. Lines longer than 4096 bytes are refused with a
notice, not buffered. A member who stops reading gets at most 256 KiB
queued; past that they are disconnected and the others told: the
tutorial's broadcast blocked the whole room on one slow member, this one
never waits for anybody.

Example:
  $ iomux chat-server
  starting up on 127.0.0.1 port 8002
  $ iomux chat-client            # in two or more other terminals
  $ nc 127.0.0.1 8002            # or any line-based client
`,
		run: runChatServer,
	})
}

// Limits of the chat server.
const (
	chatServerMaxLine  = 4096      // longest line a member may send
	chatServerMaxQueue = 256 << 10 // output queued for a member before they are dropped
	chatServerMaxNick  = 32
)

var chatServerLines = codec.Lines(chatServerMaxLine)

// chatMember is one connection in the room.
type chatMember struct {
	c        *loop.Conn
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
type chatRoom struct {
	loop.BaseHandler
	members []*chatMember // in order of arrival; replaced, never edited, on leave
	closing bool          // the server is stopping: departures are not announced
	log     io.Writer     // the server's own notes (stdout)
}

func runChatServer(e *env, args []string) error {
	fs := newFlags(commands["chat-server"])
	var opt serverOptions
	opt.bind(fs, "127.0.0.1:8002", false)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := opt.check(fs); err != nil {
		return err
	}
	room := &chatRoom{log: e.stdout}
	opt.beforeStop = func(srv *loop.Server) {
		l := srv.Loops()[0]
		l.Post(room.shutdown) // runs before the loop closes the connections
	}
	return opt.serve(e, loop.NewServer(room, opt.loopOptions(e.stderr)))
}

func (r *chatRoom) OnOpen(c *loop.Conn) {
	m := &chatMember{c: c, name: c.RemoteAddr().String(), leaving: "is offline"}
	c.SetContext(m)
	r.members = append(r.members, m)
	fmt.Fprintf(r.log, "Client %s connected\n", m.name)
	r.tell(m, fmt.Sprintf("* welcome, %s; %d in the room; /nick NAME, /who, /quit", m.name, len(r.members)))
	r.broadcast(m, []byte("["+m.name+"] entered room\n"))
}

func (r *chatRoom) OnClose(c *loop.Conn, err error) {
	m, ok := c.Context().(*chatMember)
	if !ok {
		return
	}
	r.members = slices.DeleteFunc(slices.Clone(r.members), func(x *chatMember) bool { return x == m })
	fmt.Fprintf(r.log, "Client %s %s\n", m.name, m.leaving)
	if r.closing {
		return
	}
	r.broadcast(m, []byte("["+m.name+"] "+m.leaving+"\n"))
}

func (r *chatRoom) OnData(c *loop.Conn) {
	m := c.Context().(*chatMember)
	for c.Buffered() > 0 && !c.Closed() && !m.quit {
		if m.skipping && !r.skipOversize(m) {
			return
		}
		n, err := codec.Each(chatServerLines, c.Peek(-1), func(line []byte) error {
			r.line(m, line)
			if c.Closed() || m.quit {
				return codec.ErrStop
			}
			return nil
		})
		c.Discard(n)
		if m.quit {
			c.Discard(-1)
			return
		}
		if !errors.Is(err, codec.ErrFrameTooLarge) {
			return
		}
		r.tell(m, fmt.Sprintf("* line refused: longer than %d bytes", chatServerMaxLine))
		m.skipping = true
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
	for _, m := range r.members {
		r.tell(m, "* the server is shutting down")
	}
}

// line handles one line from m: a command, or a message for the others. A
// command is the line's first word, wherever the spaces are ("/quit now",
// " /who"); "//" starts a message with a "/".
func (r *chatRoom) line(m *chatMember, line []byte) {
	text := strings.TrimSpace(string(line))
	switch {
	case text == "":
		return
	case strings.HasPrefix(text, "//"):
		r.message(m, []byte(text[1:]))
	case strings.HasPrefix(text, "/"):
		r.command(m, text)
	default:
		r.message(m, line)
	}
}

// message sends m's text to the others, its control bytes escaped: an ESC
// sequence would reach their terminals, a "\r" could fake another
// member's name over their line.
func (r *chatRoom) message(m *chatMember, text []byte) {
	r.broadcast(m, []byte("["+m.name+"] "+string(escapeControls(text))+"\n"))
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
		m.c.Close()
	case "/who":
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

func (r *chatRoom) nick(m *chatMember, name string) {
	if err := chatServerCheckNick(name); err != nil {
		r.tell(m, "* "+err.Error())
		return
	}
	for _, x := range r.members {
		if x != m && x.name == name {
			r.tell(m, "* the name "+name+" is taken")
			return
		}
	}
	old := m.name
	m.name = name
	r.tell(m, "* you are now "+name)
	r.broadcast(m, []byte("["+old+"] is now known as ["+name+"]\n"))
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

// tell sends a notice to one member.
func (r *chatRoom) tell(m *chatMember, notice string) { r.send(m, []byte(notice+"\n")) }

// broadcast sends msg to every member but from. A member whose queue
// passes chatServerMaxQueue is dropped (CloseNow: what they did not read is
// lost to them anyway), which tells the others through OnClose.
func (r *chatRoom) broadcast(from *chatMember, msg []byte) {
	for _, m := range r.members { // r.members may be replaced meanwhile: this range keeps its copy
		if m != from {
			r.send(m, msg)
		}
	}
}

func (r *chatRoom) send(m *chatMember, msg []byte) {
	if m.c.Closed() {
		return
	}
	m.c.Write(msg) // a write error closes the connection: OnClose tells the others
	if !m.c.Closed() && m.c.Outbound() > chatServerMaxQueue {
		m.leaving = fmt.Sprintf("was disconnected: not reading (over %d KiB queued)", chatServerMaxQueue>>10)
		m.c.CloseNow()
	}
}
