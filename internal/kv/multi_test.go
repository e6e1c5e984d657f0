package kv

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// EXEC is atomic against other goroutines' commands (as against other
// loops'): a reader never sees one key of a transaction written and the
// other not, whether EXEC holds the keys' shards or every shard.
func TestExecIsAtomic(t *testing.T) {
	for _, extra := range [][]string{{"PING"}, {"DBSIZE"}} { // DBSIZE's keys are not known: every shard
		st := NewStore()
		w, r := st.NewSession(), st.NewSession()
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 2000 {
				run(w, "MULTI")
				run(w, "INCR", "a")
				run(w, extra...)
				run(w, "INCR", "b")
				if got := run(w, "EXEC"); got[0] != '*' {
					t.Errorf("EXEC: %q", got)
					return
				}
			}
		}()
		for range 2000 {
			r.SetNow(time.Now().UnixMilli())
			got := run(r, "MGET", "a", "b")
			lines := strings.Split(got, "\r\n") // *2, $n, a, $n, b, or *2, $-1, $-1 before the first EXEC
			if len(lines) == 6 && lines[2] != lines[4] || len(lines) != 6 && got != "*2\r\n$-1\r\n$-1\r\n" {
				t.Fatalf("%v in EXEC: MGET a b saw %q", extra, got)
			}
		}
		wg.Wait()
	}
}

// A MULTI of ten SETs then EXEC allocates nothing once the session has
// run one (its queue's arrays are kept), so transactions keep GET/SET's
// steady state.
func TestExecAllocatesNothing(t *testing.T) {
	st := NewStore()
	sess := st.NewSession()
	tx := [][][]byte{{[]byte("MULTI")}}
	for k := range 10 {
		tx = append(tx, [][]byte{[]byte("SET"), fmt.Appendf(nil, "key:%d", k), []byte("value")})
	}
	tx = append(tx, [][]byte{[]byte("EXEC")})
	out := make([]byte, 0, 4096)
	once := func() {
		out = out[:0]
		for _, args := range tx {
			out = sess.Exec(out, args)
		}
	}
	once()
	if want := "*10\r\n"; string(out[len(out)-5-50:len(out)-50]) != want {
		t.Fatalf("EXEC: %q", out)
	}
	if n := testing.AllocsPerRun(100, once); n != 0 {
		t.Fatalf("MULTI, 10 SETs, EXEC: %v allocations", n)
	}
}
