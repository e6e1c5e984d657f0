// Package chattest drives a chat room from tests: a Member joins over
// TCP, says lines, and takes what the room sends it in order. It speaks
// only the room's protocol, so the tests of the package (internal/chat)
// and those of the program (iomux chat-server) share it.
//
// Every wait is bounded by linetest.Timeout and fails the test when it
// runs out.
package chattest

import (
	"io"
	"net"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/iomux/iomux/internal/linetest"
)

// Member is one member of a chat room under test.
type Member struct {
	Conn  net.Conn        // closed at cleanup
	Name  string          // as the room names it: Conn's local address until Nick
	Lines *linetest.Lines // what the room sends it, the welcome taken
}

// Join connects to the room at addr and takes its welcome; cleanup
// closes the connection.
func Join(t testing.TB, addr string) *Member {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, linetest.Timeout)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return JoinOver(t, c)
}

// JoinOver joins over a connection the test made (TLS, or a small receive
// buffer, say) and takes the room's welcome, which must name the
// connection's local address; cleanup closes c.
func JoinOver(t testing.TB, c net.Conn) *Member {
	t.Helper()
	m := &Member{Conn: c, Name: c.LocalAddr().String(), Lines: linetest.ReadLines(t, c)}
	if got := m.Lines.Next(t); !strings.HasPrefix(got, "* welcome, "+m.Name+";") {
		t.Fatalf("first line %q, want the welcome", got)
	}
	return m
}

// Say sends text as it is: lines end where text has "\n".
func (m *Member) Say(t testing.TB, text string) {
	t.Helper()
	if _, err := io.WriteString(m.Conn, text); err != nil {
		t.Fatal(err)
	}
}

// Quit sends a /quit line (cmd, which may say more after it), expects
// the goodbye and the end of the stream, and that other is told m left.
func (m *Member) Quit(t testing.TB, cmd string, other *Member) {
	t.Helper()
	m.Say(t, cmd)
	m.Lines.Expect(t, "* bye")
	m.Lines.ExpectEOF(t)
	other.Lines.Expect(t, "* ["+m.Name+"] left the room")
}

// Nick renames m and waits for the room's answer, taking the lines that
// come before it.
func (m *Member) Nick(t testing.TB, name string) {
	t.Helper()
	m.Say(t, "/nick "+name+"\n")
	m.Lines.SkipTo(t, "* you are now "+name)
	m.Name = name
}

// Who asks /who until the answer starts with want and holds each of also
// (what other nodes said may not have come yet), and returns it; the
// lines before each answer are taken. It fails the test if no answer does
// within linetest.Timeout.
func (m *Member) Who(t testing.TB, want string, also ...string) string {
	t.Helper()
	deadline := time.Now().Add(linetest.Timeout)
	for {
		m.Say(t, "/who\n")
		var got string
		for !whoAnswer.MatchString(got) { // not "* node N is in the room with K members"
			got = m.Lines.Next(t)
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

// WaitLine takes lines until one holds text, and returns it.
func (m *Member) WaitLine(t testing.TB, text string) string {
	t.Helper()
	for {
		if line := m.Lines.Next(t); strings.Contains(line, text) {
			return line
		}
	}
}

// ExpectAll checks that each member's next line is want.
func ExpectAll(t testing.TB, want string, members ...*Member) {
	t.Helper()
	for _, m := range members {
		m.Lines.Expect(t, want)
	}
}
