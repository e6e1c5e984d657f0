package main

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/iomux/iomux/internal/iomuxtest"
)

// duoStep is one step of the two-client differential test: client who
// (0 or 1) sends args, and reads replies replies (0: it blocks, and a
// later read step takes its reply). {id0} in an argument is client 0's
// CLIENT ID on that server. With args nil it reads one reply (the
// blocked command's); with blocked > 0 it waits until INFO says that
// many clients are blocked; then it sleeps sleep.
type duoStep struct {
	who     int
	args    []string
	replies int
	blocked int
	sleep   time.Duration
}

func a(args ...string) duoStep { return duoStep{who: 0, args: args, replies: 1} }
func b(args ...string) duoStep { return duoStep{who: 1, args: args, replies: 1} }

// aBlocks sends a command of client 0 that blocks, and waits until it is.
func aBlocks(args ...string) duoStep { return duoStep{who: 0, args: args, blocked: 1} }

// aRead reads the reply of client 0's blocked command.
func aRead() duoStep { return duoStep{who: 0, replies: 1} }

// kvDuoSteps are blocking commands, transactions and pub/sub between two
// clients, in one interleaving.
func kvDuoSteps() []duoStep {
	return []duoStep{
		// blocking: woken by the other client's write, in order, by timeout, by CLIENT UNBLOCK
		b("DEL", "bl1", "bl2", "src", "dst", "z1", "zz", "m1", "m2"),
		aBlocks("BLPOP", "bl1", "bl2", "0"), b("RPUSH", "bl2", "x", "y"), aRead(), b("LRANGE", "bl2", "0", "-1"),
		aBlocks("BRPOP", "bl1", "0"), b("LPUSH", "bl1", "p", "q"), aRead(), b("LRANGE", "bl1", "0", "-1"),
		aBlocks("BRPOPLPUSH", "src", "dst", "0"), b("LPUSH", "src", "v"), aRead(), b("LRANGE", "dst", "0", "-1"),
		aBlocks("BLMOVE", "src", "dst", "LEFT", "RIGHT", "0"), b("RPUSH", "src", "w"), aRead(), b("LRANGE", "dst", "0", "-1"),
		aBlocks("BZPOPMIN", "z1", "0"), b("ZADD", "z1", "1", "a", "2", "b"), aRead(), b("ZRANGE", "z1", "0", "-1", "WITHSCORES"),
		b("DEL", "z1"), aBlocks("BZPOPMAX", "z1", "zz", "0"), b("ZADD", "zz", "3", "c"), aRead(),
		aBlocks("BLMPOP", "0", "2", "m1", "m2", "RIGHT", "COUNT", "2"), b("RPUSH", "m2", "a", "b", "c"), aRead(),
		aBlocks("BZMPOP", "0", "1", "zz", "MAX", "COUNT", "5"), b("ZADD", "zz", "1", "a", "2", "b"), aRead(),
		a("BLPOP", "nolist", "0.05"), a("BLMOVE", "nolist", "dst", "LEFT", "LEFT", "0.05"), a("BZMPOP", "0.05", "1", "z9", "MIN"),
		aBlocks("BLPOP", "q", "0"), b("CLIENT", "UNBLOCK", "{id0}"), aRead(), b("CLIENT", "UNBLOCK", "{id0}"),
		aBlocks("BLPOP", "q", "0"), b("CLIENT", "UNBLOCK", "{id0}", "ERROR"), aRead(),
		aBlocks("BRPOPLPUSH", "q", "astr", "0"), b("SET", "astr", "s"), b("LPUSH", "q", "e"), aRead(), b("LRANGE", "q", "0", "-1"),
		a("BLPOP", "astr", "0"), a("BLPOP", "q", "-1"), a("BLPOP", "q", "x"), a("BLMPOP", "0", "0", "q", "LEFT"),
		a("MULTI"), a("BLPOP", "nolist", "0"), a("BZPOPMIN", "nozset", "0"), a("EXEC"),
		b("INFO", "nosuchsection"),
		// transactions
		a("MULTI"), a("SET", "t", "1"), a("INCR", "t"), a("LPUSH", "t", "x"), a("GET", "t"), a("EXEC"),
		a("MULTI"), a("SET", "t", "2"), a("NOSUCHCOMMAND"), a("GET"), a("EXEC"), a("GET", "t"),
		a("EXEC"), a("DISCARD"), a("MULTI"), a("MULTI"), a("WATCH", "t"), a("DISCARD"),
		a("WATCH", "w"), b("SET", "w", "1"), a("MULTI"), a("INCR", "w"), a("EXEC"), a("GET", "w"),
		a("WATCH", "w"), a("MULTI"), a("INCR", "w"), a("EXEC"), a("GET", "w"),
		a("WATCH", "w"), a("UNWATCH"), b("SET", "w", "5"), a("MULTI"), a("INCR", "w"), a("EXEC"),
		a("WATCH", "w", "nokey"), b("DEL", "nokey"), a("MULTI"), a("PING"), a("EXEC"),
		a("WATCH", "w"), b("FLUSHDB"), a("MULTI"), a("PING"), a("EXEC"),
		a("WATCH", "w"), b("FLUSHALL"), a("MULTI"), a("PING"), a("EXEC"),
		a("SET", "ex", "v", "PX", "50"), a("WATCH", "ex"), {who: 0, sleep: 120 * time.Millisecond},
		a("MULTI"), a("PING"), a("EXEC"),
		a("WATCH", "w"), b("SET", "w", "1"), a("MULTI"), a("DISCARD"), a("MULTI"), a("INCR", "w"), a("EXEC"),
		// pub/sub
		{who: 0, args: []string{"SUBSCRIBE", "c1", "c2"}, replies: 2}, a("PSUBSCRIBE", "c*"),
		b("PUBLISH", "c1", "hi"), {who: 0, replies: 2}, b("PUBLISH", "nobody", "x"), b("PUBLISH", "c3", "pat"), aRead(),
		b("PUBSUB", "NUMSUB", "c1", "c3"), b("PUBSUB", "NUMPAT"), b("PUBSUB", "CHANNELS", "c1*"),
		a("GET", "x"), a("PING"), a("PING", "p"),
		{who: 0, args: []string{"UNSUBSCRIBE", "c1", "c2"}, replies: 2}, a("PUNSUBSCRIBE", "c*"), a("UNSUBSCRIBE"),
		a("PUNSUBSCRIBE"), a("PING"), b("PUBLISH", "c1", "gone"), a("UNSUBSCRIBE", "never"),
	}
}

// The same blocking, transaction and pub/sub steps between two clients of
// redis-server and two of kv-server (--loops 2: the clients are on
// different loops): the same replies.
func TestKVServerMatchesRedisTwoClients(t *testing.T) {
	redisSock := startRedis(t)
	iomuxtest.CheckLeaks(t)
	kvs := srvStart(t, runKVServer, "--loops", "2")
	run := func(network, addr string) []string {
		c := [2]*respConn{dialRESP(t, network, addr), dialRESP(t, network, addr)}
		defer c[0].conn.Close()
		defer c[1].conn.Close()
		id0 := strings.TrimPrefix(c[0].do("CLIENT", "ID"), ":")
		var replies []string
		for _, s := range kvDuoSteps() {
			if s.args != nil {
				args := make([]string, len(s.args))
				for i, arg := range s.args {
					args[i] = strings.ReplaceAll(arg, "{id0}", id0)
				}
				c[s.who].send(encodeCommand(args...))
			}
			for range s.replies {
				replies = append(replies, fmt.Sprintf("%v: %s", s.args, canonical(c[s.who].reply(), 0)))
			}
			if s.blocked > 0 {
				waitBlocked(t, c[1-s.who], s.blocked)
			}
			time.Sleep(s.sleep)
		}
		return replies
	}
	want := run("unix", redisSock)
	got := run("tcp", kvs.addr)
	t.Logf("%d replies compared", len(want))
	if len(got) != len(want) {
		t.Fatalf("kv-server %d replies, redis-server %d", len(got), len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("reply %d: kv-server %.200s, redis-server %.200s", i, got[i], want[i])
		}
	}
}

// waitBlocked waits until INFO, asked on c, says n clients are blocked.
func waitBlocked(t *testing.T, c *respConn, n int) {
	t.Helper()
	want := fmt.Sprintf("blocked_clients:%d", n)
	for deadline := time.Now().Add(srvWait); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		if strings.Contains(c.do("INFO", "clients"), want) {
			return
		}
	}
	t.Fatalf("INFO never said %s: %s", want, c.do("INFO", "clients"))
}
