package chat

import (
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"
)

// chatter is one member of a chat room under test.
type chatter struct {
	conn  net.Conn
	name  string // host:port, as the server names it
	lines *lines
}

func join(t *testing.T, addr string) *chatter {
	t.Helper()
	return joinOver(t, dial(t, addr))
}

// joinOver joins over a connection the test made (with a small receive
// buffer, say).
func joinOver(t *testing.T, c net.Conn) *chatter {
	t.Helper()
	m := &chatter{conn: c, name: c.LocalAddr().String(), lines: readLines(t, c)}
	if got := m.lines.next(t); !strings.HasPrefix(got, "* welcome, "+m.name+";") {
		t.Fatalf("first line %q, want the welcome", got)
	}
	return m
}

// startRoom starts a chat server made from cfg on backend and joins two
// members; a has seen b enter.
func startRoom(t *testing.T, backend string, cfg Config) (s *running, a, b *chatter) {
	t.Helper()
	s = startOn(t, backend, cfg)
	a = join(t, s.addr)
	b = join(t, s.addr)
	a.lines.expect(t, "* ["+b.name+"] entered room")
	return s, a, b
}

// quit sends a /quit line (cmd), expects the goodbye and the close, and
// that other is told m left.
func (m *chatter) quit(t *testing.T, cmd string, other *chatter) {
	t.Helper()
	m.say(t, cmd)
	m.lines.expect(t, "* bye")
	m.lines.expectEOF(t)
	other.lines.expect(t, "* ["+m.name+"] left the room")
}

func (m *chatter) say(t *testing.T, text string) {
	t.Helper()
	if _, err := io.WriteString(m.conn, text); err != nil {
		t.Fatal(err)
	}
}

// expectAll checks that each member's next line is want.
func expectAll(t *testing.T, want string, members ...*chatter) {
	t.Helper()
	for _, m := range members {
		m.lines.expect(t, want)
	}
}

// testWriteTimeout is the Config.WriteTimeout of TestChatServer's room:
// short, so that the silent member is not waited for long; the readers'
// goroutines never leave their queues stalled that long.
const testWriteTimeout = 500 * time.Millisecond

func TestChatServer(t *testing.T) {
	forEachBackend(t, func(t *testing.T, backend string) {
		s, a, b := startRoom(t, backend, Config{WriteTimeout: testWriteTimeout})
		c := join(t, s.addr)
		expectAll(t, "* ["+c.name+"] entered room", a, b)

		// A message goes to the others, not back to its sender: A's next
		// line is the answer to /who.
		a.say(t, "hello\n/who\n")
		expectAll(t, "["+a.name+"] hello", b, c)
		a.lines.expect(t, fmt.Sprintf("* 3 in the room: [%s] [%s] [%s]", a.name, b.name, c.name))

		b.say(t, "/nick bob\r\nhi all\n")
		b.lines.expect(t, "* you are now bob")
		expectAll(t, "* ["+b.name+"] is now known as [bob]", a, c)
		b.name = "bob"
		expectAll(t, "[bob] hi all", a, c)
		c.say(t, "/nick bob\n/nick no spaces\n/frobnicate\n//slash\n")
		c.lines.expect(t, "* the name bob is taken")
		c.lines.expect(t, "* a name may hold letters, digits, - _ and . only")
		c.lines.expect(t, "* unknown command; try /nick NAME, /who or /quit (start a message with // to send a /)")
		expectAll(t, "["+c.name+"] /slash", a, b)

		// Lines over 4 KiB are refused, whole or in pieces; 4096 bytes pass.
		c.say(t, strings.Repeat("x", 5000)+"\nok\n")
		c.lines.expect(t, "* line refused: longer than 4096 bytes")
		expectAll(t, "["+c.name+"] ok", a, b)
		for range 3 {
			c.say(t, strings.Repeat("z", 3000))
		}
		c.say(t, "\nfine\n")
		c.lines.expect(t, "* line refused: longer than 4096 bytes")
		expectAll(t, "["+c.name+"] fine", a, b)
		longest := strings.Repeat("y", 4096)
		c.say(t, longest+"\n")
		expectAll(t, "["+c.name+"] "+longest, a, b)

		slowMember(t, s.addr, a, b, c)

		c.conn.Close()
		expectAll(t, "* ["+c.name+"] is offline", a, b)
		b.quit(t, "/quit\nnot sent\n", a)
		a.say(t, "/who\n")
		a.lines.expect(t, fmt.Sprintf("* 1 in the room: [%s]", a.name))
		s.out.waitFor(t, "Client "+a.name+" connected", 1)
	})
}

// slowMember adds a member that never reads while a floods the room: once
// the member's queue is full, a is held (its lines are not read) until the
// member, who takes nothing for Config.WriteTimeout (the room's is
// testWriteTimeout), is disconnected with a notice; b and c, who read, get
// every line and keep chatting.
func slowMember(t *testing.T, addr string, a, b, c *chatter) {
	t.Helper()
	d := net.Dialer{Timeout: testWait, Control: func(_, _ string, rc syscall.RawConn) error {
		return rc.Control(func(fd uintptr) { // a small window: the server's queue fills sooner
			smallReceiveBuffer(fd)
		})
	}}
	slow, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	name := slow.LocalAddr().String()
	expectAll(t, "* ["+name+"] entered room", a, b, c)

	// a floods in lockstep with the readers, b and c: each line is read by
	// both before the next is sent, so only the silent member falls behind.
	notice := "* [" + name + "] was disconnected: took nothing for " + testWriteTimeout.String()
	flood := "[" + a.name + "] " + strings.Repeat("f", 4000)
	line := []byte(strings.Repeat("f", 4000) + "\n")
	seen := map[*chatter]bool{}
	sent := 0
	var waited time.Duration // the longest a line took to reach b and c
	for len(seen) < 2 {
		if sent == 20000 {
			t.Fatalf("the silent member was not dropped after %d lines of 4000 bytes", sent)
		}
		a.conn.SetWriteDeadline(time.Now().Add(testWait))
		if _, err := a.conn.Write(line); err != nil {
			t.Fatalf("flood: %v", err)
		}
		sent++
		start := time.Now()
		for _, m := range []*chatter{b, c} {
			got := m.lines.next(t)
			if got == notice && !seen[m] {
				seen[m] = true
				got = m.lines.next(t)
			}
			if got != flood {
				t.Fatalf("%s got %.60q during the flood", m.name, got)
			}
		}
		waited = max(waited, time.Since(start))
	}
	t.Logf("the silent member was dropped after %d lines of 4000 bytes; the room waited %v for it at most", sent, waited.Round(time.Millisecond))
	a.lines.skipTo(t, notice)

	a.say(t, "still here\n")
	for _, m := range []*chatter{b, c} {
		m.lines.skipTo(t, "["+a.name+"] still here") // the rest of the flood first
	}
}

// A command is the line's first word: spaces around it, or words after
// it, do not make it unknown.
func TestChatServerCommandsIgnoreSpacesAndExtraWords(t *testing.T) {
	s, a, b := startRoom(t, "auto", Config{})
	a.say(t, "/who extra words\n  /who\t\n")
	for range 2 {
		a.lines.expect(t, fmt.Sprintf("* 2 in the room: [%s] [%s]", a.name, b.name))
	}
	a.say(t, " /nick \t alice  \n/frob now\n   //  x\n")
	a.lines.expect(t, "* you are now alice")
	b.lines.expect(t, "* ["+a.name+"] is now known as [alice]")
	a.lines.expect(t, "* unknown command; try /nick NAME, /who or /quit (start a message with // to send a /)")
	b.lines.expect(t, "[alice] /  x")
	a.name = "alice"
	a.quit(t, "/quit now\n", b)

	c := join(t, s.addr)
	b.lines.expect(t, "* ["+c.name+"] entered room")
	c.quit(t, "/quit \n", b)
}

// A message's control bytes reach the others escaped; its UTF-8 text as
// it is.
func TestChatServerEscapesControlBytes(t *testing.T) {
	_, a, b := startRoom(t, "auto", Config{})
	b.say(t, "hi \x1b[2J\x1b]0;owned\a ünïcödé ✓\r[someone] else\n//\x1b[1m\n")
	a.lines.expect(t, "["+b.name+`] hi \x1b[2J\x1b]0;owned\x07 ünïcödé ✓\r[someone] else`)
	a.lines.expect(t, "["+b.name+`] /\x1b[1m`)
}

// A member cannot fake a notice: every line from a member starts with
// "[NAME] ", every notice with "* ", and what would start a line of its
// own on a screen (a line separator) or reorder it (a bidi control) is
// escaped. Names are unique without regard to case.
func TestChatServerNoticesCannotBeFaked(t *testing.T) {
	s, a, b := startRoom(t, "auto", Config{})
	b.say(t, "left the room\n* ["+a.name+"] is now known as [admin]\nok\u2028* [server] restarting\u202e.nimda\u2066x\u2069\n")
	a.lines.expect(t, "["+b.name+"] left the room")
	a.lines.expect(t, "["+b.name+"] * ["+a.name+"] is now known as [admin]")
	a.lines.expect(t, "["+b.name+`] ok\u2028* [server] restarting\u202e.nimda\u2066x\u2069`)

	a.say(t, "/nick alice\n")
	a.lines.expect(t, "* you are now alice")
	b.lines.expect(t, "* ["+a.name+"] is now known as [alice]")
	c := join(t, s.addr)
	expectAll(t, "* ["+c.name+"] entered room", a, b)
	c.say(t, "/nick Alice\n/nick ALICE\n/nick alice2\n")
	c.lines.expect(t, "* the name Alice is taken")
	c.lines.expect(t, "* the name ALICE is taken")
	c.lines.expect(t, "* you are now alice2")
	expectAll(t, "* ["+c.name+"] is now known as [alice2]", a, b)
	a.say(t, "/nick Alice\n") // one's own name, in another case
	a.lines.expect(t, "* you are now Alice")
	expectAll(t, "* [alice] is now known as [Alice]", b, c)

	b.quit(t, "/quit\n", a) // the notice, "* [b] left the room", is not b's line above
}
