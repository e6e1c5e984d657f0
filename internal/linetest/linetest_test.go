package linetest

import (
	"fmt"
	"io"
	"net"
	"runtime"
	"slices"
	"strings"
	"testing"
)

// fatalRecorder is a testing.TB whose Fatalf notes the message and ends
// the calling goroutine, as t.Fatalf does: a failure the test can check.
type fatalRecorder struct {
	testing.TB
	msg string
}

func (r *fatalRecorder) Helper() {}

func (r *fatalRecorder) Fatalf(format string, args ...any) {
	r.msg = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

// failure runs f in a goroutine of its own and returns what it failed
// with ("" if it returned).
func failure(t *testing.T, f func(t testing.TB)) string {
	r := &fatalRecorder{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		f(r)
	}()
	<-done
	return r.msg
}

// pipe returns both ends of a connection: what is written to peer, l
// reads.
func pipe(t *testing.T) (l *Lines, peer net.Conn) {
	c, peer := net.Pipe()
	t.Cleanup(func() { peer.Close() })
	return ReadLines(t, c), peer
}

func TestLines(t *testing.T) {
	l, peer := pipe(t)
	go func() {
		io.WriteString(peer, "one\ntwo\r\nth")
		io.WriteString(peer, "ree\nfour\nfive\nunterminated")
		peer.Close()
	}()
	if got := l.Next(t); got != "one" {
		t.Errorf("Next: %q, want %q", got, "one")
	}
	l.Expect(t, "two\r") // only the "\n" is stripped
	l.SkipTo(t, "four")
	l.Expect(t, "five")
	l.ExpectEOF(t) // the unterminated rest is no line
	if got, want := l.All(), []string{"one", "two\r", "three", "four", "five"}; !slices.Equal(got, want) {
		t.Errorf("All: %q, want %q", got, want)
	}
	if msg := failure(t, func(t testing.TB) { l.Next(t) }); !strings.Contains(msg, "stream ended") {
		t.Errorf("Next at the end failed with %q, want a note that the stream ended", msg)
	}
}

func TestLinesFailures(t *testing.T) {
	l, peer := pipe(t)
	go func() {
		io.WriteString(peer, "hello\nleft over\n")
		peer.Close()
	}()
	if msg := failure(t, func(t testing.TB) { l.Expect(t, "bye") }); !strings.Contains(msg, `got line "hello", want "bye"`) {
		t.Errorf("Expect of another line failed with %q", msg)
	}
	if msg := failure(t, func(t testing.TB) { l.ExpectEOF(t) }); !strings.Contains(msg, `lines ["left over"] before the end`) {
		t.Errorf("ExpectEOF with a line left failed with %q", msg)
	}
}

func TestOutput(t *testing.T) {
	var out Output // the zero Output is ready
	out.WaitFor(t, "x", 0)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 5 {
			fmt.Fprintf(&out, "line %d\n", i)
		}
	}()
	out.WaitFor(t, "line", 5)
	out.WaitUntil(t, "the last line", func(text string) bool { return strings.HasSuffix(text, "line 4\n") })
	<-done
	if got := out.String(); !strings.HasPrefix(got, "line 0\nline 1\n") || strings.Count(got, "\n") != 5 {
		t.Errorf("String: %q, want the five lines", got)
	}
}
