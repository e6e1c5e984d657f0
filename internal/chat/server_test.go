package chat

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/iomux/iomux/internal/chat/chattest"
	"github.com/iomux/iomux/internal/iomuxtest"
)

// startRoom starts a chat server made from cfg on backend and joins two
// members; a has seen b enter.
func startRoom(t *testing.T, backend string, cfg Config) (s *running, a, b *chattest.Member) {
	t.Helper()
	s = startOn(t, backend, cfg)
	a = chattest.Join(t, s.addr)
	b = chattest.Join(t, s.addr)
	a.Lines.Expect(t, "* ["+b.Name+"] entered room")
	return s, a, b
}

// testWriteTimeout is the Config.WriteTimeout of TestChatServer's room:
// short, so that the silent member is not waited for long; the readers'
// goroutines never leave their queues stalled that long.
const testWriteTimeout = 500 * time.Millisecond

func TestChatServer(t *testing.T) {
	iomuxtest.ForEachBackend(t, func(t *testing.T, backend string) {
		s, a, b := startRoom(t, backend, Config{WriteTimeout: testWriteTimeout})
		c := chattest.Join(t, s.addr)
		chattest.ExpectAll(t, "* ["+c.Name+"] entered room", a, b)

		// A message goes to the others, not back to its sender: A's next
		// line is the answer to /who.
		a.Say(t, "hello\n/who\n")
		chattest.ExpectAll(t, "["+a.Name+"] hello", b, c)
		a.Lines.Expect(t, fmt.Sprintf("* 3 in the room: [%s] [%s] [%s]", a.Name, b.Name, c.Name))

		b.Say(t, "/nick bob\r\nhi all\n")
		b.Lines.Expect(t, "* you are now bob")
		chattest.ExpectAll(t, "* ["+b.Name+"] is now known as [bob]", a, c)
		b.Name = "bob"
		chattest.ExpectAll(t, "[bob] hi all", a, c)
		c.Say(t, "/nick bob\n/nick no spaces\n/frobnicate\n//slash\n")
		c.Lines.Expect(t, "* the name bob is taken")
		c.Lines.Expect(t, "* a name may hold letters, digits, - _ and . only")
		c.Lines.Expect(t, "* unknown command; try /nick NAME, /who or /quit (start a message with // to send a /)")
		chattest.ExpectAll(t, "["+c.Name+"] /slash", a, b)

		// Lines over 4 KiB are refused, whole or in pieces; 4096 bytes pass.
		c.Say(t, strings.Repeat("x", 5000)+"\nok\n")
		c.Lines.Expect(t, "* line refused: longer than 4096 bytes")
		chattest.ExpectAll(t, "["+c.Name+"] ok", a, b)
		for range 3 {
			c.Say(t, strings.Repeat("z", 3000))
		}
		c.Say(t, "\nfine\n")
		c.Lines.Expect(t, "* line refused: longer than 4096 bytes")
		chattest.ExpectAll(t, "["+c.Name+"] fine", a, b)
		longest := strings.Repeat("y", 4096)
		c.Say(t, longest+"\n")
		chattest.ExpectAll(t, "["+c.Name+"] "+longest, a, b)

		slowMember(t, s.addr, a, b, c)

		c.Conn.Close()
		chattest.ExpectAll(t, "* ["+c.Name+"] is offline", a, b)
		b.Quit(t, "/quit\nnot sent\n", a)
		a.Say(t, "/who\n")
		a.Lines.Expect(t, fmt.Sprintf("* 1 in the room: [%s]", a.Name))
		s.out.WaitFor(t, "Client "+a.Name+" connected", 1)
	})
}

// slowMember adds a member that never reads while a floods the room: once
// the member's queue is full, a is held (its lines are not read) until the
// member, who takes nothing for Config.WriteTimeout (the room's is
// testWriteTimeout), is disconnected with a notice; b and c, who read, get
// every line and keep chatting.
func slowMember(t *testing.T, addr string, a, b, c *chattest.Member) {
	t.Helper()
	slow := dialSmallWindow(t, addr) // the server's queue for it fills sooner
	defer slow.Close()
	name := slow.LocalAddr().String()
	chattest.ExpectAll(t, "* ["+name+"] entered room", a, b, c)

	// a floods in lockstep with the readers, b and c: each line is read by
	// both before the next is sent, so only the silent member falls behind.
	notice := "* [" + name + "] was disconnected: took nothing for " + testWriteTimeout.String()
	flood := "[" + a.Name + "] " + strings.Repeat("f", 4000)
	line := []byte(strings.Repeat("f", 4000) + "\n")
	seen := map[*chattest.Member]bool{}
	sent := 0
	var waited time.Duration // the longest a line took to reach b and c
	for len(seen) < 2 {
		if sent == 20000 {
			t.Fatalf("the silent member was not dropped after %d lines of 4000 bytes", sent)
		}
		a.Conn.SetWriteDeadline(time.Now().Add(testWait))
		if _, err := a.Conn.Write(line); err != nil {
			t.Fatalf("flood: %v", err)
		}
		sent++
		start := time.Now()
		for _, m := range []*chattest.Member{b, c} {
			got := m.Lines.Next(t)
			if got == notice && !seen[m] {
				seen[m] = true
				got = m.Lines.Next(t)
			}
			if got != flood {
				t.Fatalf("%s got %.60q during the flood", m.Name, got)
			}
		}
		waited = max(waited, time.Since(start))
	}
	t.Logf("the silent member was dropped after %d lines of 4000 bytes; the room waited %v for it at most", sent, waited.Round(time.Millisecond))
	a.Lines.SkipTo(t, notice)

	a.Say(t, "still here\n")
	for _, m := range []*chattest.Member{b, c} {
		m.Lines.SkipTo(t, "["+a.Name+"] still here") // the rest of the flood first
	}
}

// A command is the line's first word: spaces around it, or words after
// it, do not make it unknown.
func TestChatServerCommandsIgnoreSpacesAndExtraWords(t *testing.T) {
	s, a, b := startRoom(t, "auto", Config{})
	a.Say(t, "/who extra words\n  /who\t\n")
	for range 2 {
		a.Lines.Expect(t, fmt.Sprintf("* 2 in the room: [%s] [%s]", a.Name, b.Name))
	}
	a.Say(t, " /nick \t alice  \n/frob now\n   //  x\n")
	a.Lines.Expect(t, "* you are now alice")
	b.Lines.Expect(t, "* ["+a.Name+"] is now known as [alice]")
	a.Lines.Expect(t, "* unknown command; try /nick NAME, /who or /quit (start a message with // to send a /)")
	b.Lines.Expect(t, "[alice] /  x")
	a.Name = "alice"
	a.Quit(t, "/quit now\n", b)

	c := chattest.Join(t, s.addr)
	b.Lines.Expect(t, "* ["+c.Name+"] entered room")
	c.Quit(t, "/quit \n", b)
}

// A message's control bytes reach the others escaped; its UTF-8 text as
// it is.
func TestChatServerEscapesControlBytes(t *testing.T) {
	_, a, b := startRoom(t, "auto", Config{})
	b.Say(t, "hi \x1b[2J\x1b]0;owned\a ünïcödé ✓\r[someone] else\n//\x1b[1m\n")
	a.Lines.Expect(t, "["+b.Name+`] hi \x1b[2J\x1b]0;owned\x07 ünïcödé ✓\r[someone] else`)
	a.Lines.Expect(t, "["+b.Name+`] /\x1b[1m`)
}

// A member cannot fake a notice: every line from a member starts with
// "[NAME] ", every notice with "* ", and what would start a line of its
// own on a screen (a line separator) or reorder it (a bidi control) is
// escaped. Names are unique without regard to case.
func TestChatServerNoticesCannotBeFaked(t *testing.T) {
	s, a, b := startRoom(t, "auto", Config{})
	b.Say(t, "left the room\n* ["+a.Name+"] is now known as [admin]\nok\u2028* [server] restarting\u202e.nimda\u2066x\u2069\n")
	a.Lines.Expect(t, "["+b.Name+"] left the room")
	a.Lines.Expect(t, "["+b.Name+"] * ["+a.Name+"] is now known as [admin]")
	a.Lines.Expect(t, "["+b.Name+`] ok\u2028* [server] restarting\u202e.nimda\u2066x\u2069`)

	a.Say(t, "/nick alice\n")
	a.Lines.Expect(t, "* you are now alice")
	b.Lines.Expect(t, "* ["+a.Name+"] is now known as [alice]")
	c := chattest.Join(t, s.addr)
	chattest.ExpectAll(t, "* ["+c.Name+"] entered room", a, b)
	c.Say(t, "/nick Alice\n/nick ALICE\n/nick alice2\n")
	c.Lines.Expect(t, "* the name Alice is taken")
	c.Lines.Expect(t, "* the name ALICE is taken")
	c.Lines.Expect(t, "* you are now alice2")
	chattest.ExpectAll(t, "* ["+c.Name+"] is now known as [alice2]", a, b)
	a.Say(t, "/nick Alice\n") // one's own name, in another case
	a.Lines.Expect(t, "* you are now Alice")
	chattest.ExpectAll(t, "* [alice] is now known as [Alice]", b, c)

	b.Quit(t, "/quit\n", a) // the notice, "* [b] left the room", is not b's line above
}
