package kv

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/iomux/iomux/internal/resp"
)

func TestMatch(t *testing.T) {
	for _, tc := range []struct {
		pattern, s string
		want       bool
	}{
		{"*", "", true}, {"*", "abc", true}, {"a*", "abc", true}, {"a*", "bac", false}, {"*c", "abc", true},
		{"a?c", "abc", true}, {"a?c", "ac", false}, {"a*b*c", "aXbYc", true}, {"a*b*c", "aXbY", false},
		{"h[ae]llo", "hallo", true}, {"h[ae]llo", "hillo", false}, {"h[^e]llo", "hallo", true}, {"h[^e]llo", "hello", false},
		{"h[a-c]llo", "hbllo", true}, {"h[c-a]llo", "hbllo", true}, {"h[a-c]llo", "hdllo", false},
		{`h\*llo`, "h*llo", true}, {`h\*llo`, "hello", false}, {`h[\]]llo`, "h]llo", true}, {"abc", "abc", true},
		{"abc", "abcd", false}, {"", "", true}, {"", "a", false}, {"[abc", "a", true}, {"**a", "ba", true},
		{"*a*a*a*a*a*a*a*b", strings.Repeat("a", 100), false},
	} {
		if got := Match([]byte(tc.pattern), []byte(tc.s)); got != tc.want {
			t.Errorf("Match(%q, %q) = %v", tc.pattern, tc.s, got)
		}
	}
}

// run runs a command on sess and returns its reply.
func run(sess *Session, args ...string) string {
	b := make([][]byte, len(args))
	for i, a := range args {
		b[i] = []byte(a)
	}
	return string(sess.Exec(nil, b))
}

func TestExpiry(t *testing.T) {
	st := NewStore()
	sess := st.NewSession()
	defer sess.Close()
	now := time.Now().UnixMilli()
	sess.SetNow(now)
	for i := range 100 {
		run(sess, "SET", fmt.Sprint("k", i), "v", "PX", "10")
	}
	run(sess, "SET", "kept", "v")
	if got := st.Keys(); got != 101 {
		t.Fatalf("%d keys", got)
	}
	sess.SetNow(now + 20) // lazily: a touched key is gone
	if got := run(sess, "GET", "k1"); got != "$-1\r\n" {
		t.Fatalf("GET of an expired key: %q", got)
	}
	time.Sleep(20 * time.Millisecond) // actively: the cycle removes the rest
	removed := st.ExpireCycle(0, 1, time.Second)
	if removed != 99 || st.Keys() != 1 {
		t.Fatalf("ExpireCycle removed %d, %d keys left", removed, st.Keys())
	}
}

// The list ring buffer, through growth, wrap-around and shrinking.
func TestList(t *testing.T) {
	var l list
	var model []string
	for i := range 1000 {
		v := fmt.Sprint(i)
		switch i % 5 {
		case 0, 1:
			l.pushBack([]byte(v))
			model = append(model, v)
		case 2:
			l.pushFront([]byte(v))
			model = append([]string{v}, model...)
		case 3:
			if got := string(l.popFront()); got != model[0] {
				t.Fatalf("popFront %q, want %q", got, model[0])
			}
			model = model[1:]
		}
	}
	for len(model) > 0 {
		if got := string(l.popBack()); got != model[len(model)-1] {
			t.Fatalf("popBack %q, want %q", got, model[len(model)-1])
		}
		model = model[:len(model)-1]
	}
	if l.len() != 0 || len(l.items) > 64 {
		t.Fatalf("len %d, ring %d", l.len(), len(l.items))
	}
}

// BenchmarkExec runs a pipelined batch of redis-benchmark's commands
// (SET, GET, INCR, LPUSH+LPOP, MSET) through the parser, the keyspace and
// the reply writer, as kv-server's OnData does: allocs/op is per batch of
// 16 commands, and is 0 in steady state.
func BenchmarkExec(b *testing.B) {
	cmds := [][]string{{"SET", "key:__rand_int__", "xxx"}, {"GET", "key:__rand_int__"}, {"INCR", "counter:__rand_int__"},
		{"MSET", "key:1", "xxx", "key:2", "xxx", "key:3", "xxx"}, {"PING"}, {"EXISTS", "key:1", "key:2"}, {"STRLEN", "key:1"},
		{"SET", "key:4", "xxx", "EX", "100"}}
	var batch []byte
	for range 2 {
		for _, c := range cmds {
			batch = resp.AppendArray(batch, len(c))
			for _, a := range c {
				batch = resp.AppendBulk(batch, a)
			}
		}
	}
	st := NewStore()
	sess := st.NewSession()
	var p resp.Parser
	var out []byte
	b.ReportAllocs()
	for b.Loop() {
		sess.SetNow(time.Now().UnixMilli())
		out = out[:0]
		for rest := batch; len(rest) > 0; {
			args, n, err := p.Parse(rest)
			if err != nil || n == 0 {
				b.Fatal(n, err)
			}
			out = sess.Exec(out, args)
			rest = rest[n:]
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*2*len(cmds)), "ns/command")
}
