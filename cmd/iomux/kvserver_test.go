package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/iomux/iomux/internal/iomuxtest"
)

// kvStep is one step of the differential test: a command (args), or raw
// bytes that draw replies replies; its reply compared with unordered
// groups sorted (see canonical); after it, wait sleep.
type kvStep struct {
	args      []string
	raw       []byte
	replies   int
	byteWise  bool // send raw one byte per write
	unordered int
	exact     bool // an error reply compared whole, not by its first word
	sleep     time.Duration
}

func cmd(args ...string) kvStep { return kvStep{args: args} }

func unordered(n int, args ...string) kvStep { return kvStep{args: args, unordered: n} }

func exact(args ...string) kvStep { return kvStep{args: args, exact: true} }

// kvDifferentialSteps are the commands of the edge cases: binary
// values, the empty key, a 1 MiB value, wrong types, negative LRANGE
// indexes, INCR overflow, expired keys, 1,000 pipelined commands in one
// write, a command split byte by byte, inline commands.
func kvDifferentialSteps() []kvStep {
	big := strings.Repeat("0123456789abcdef", 1<<16) // 1 MiB
	var pipeline []byte
	for i := range 1000 {
		pipeline = append(pipeline, encodeCommand("INCR", "pipelined")...)
		if i%100 == 0 {
			pipeline = append(pipeline, encodeCommand("GET", "pipelined")...)
		}
	}
	steps := []kvStep{
		cmd("PING"), cmd("PING", "hello there"), cmd("ECHO", "a\x00b"), cmd("SELECT", "0"),
		cmd("SELECT", "x"), cmd("NOSUCHCOMMAND", "a"), cmd("GET"), cmd("GET", "a", "b"), cmd("SET", "a"),
		// strings, binary-safe
		cmd("SET", "bin", "\x00\xff\r\n\x01 "), cmd("GET", "bin"), cmd("STRLEN", "bin"),
		cmd("SET", "", "empty key"), cmd("GET", ""), cmd("EXISTS", ""), cmd("SET", "emptyval", ""), cmd("GET", "emptyval"),
		cmd("SET", "big", big), cmd("GET", "big"), cmd("STRLEN", "big"), cmd("APPEND", "big", "!"), cmd("STRLEN", "big"),
		cmd("GET", "missing"), cmd("GETDEL", "bin"), cmd("GETDEL", "bin"), cmd("GET", "bin"),
		cmd("SET", "k", "v1", "NX"), cmd("SET", "k", "v2", "NX"), cmd("SET", "k", "v3", "XX"), cmd("GET", "k"),
		cmd("SET", "nok", "v", "XX"), cmd("SET", "k", "v4", "GET"), cmd("SET", "nok", "v", "GET"), cmd("DEL", "nok"),
		cmd("SET", "k", "v", "NX", "XX"), cmd("SET", "k", "v", "EX", "0"), cmd("SET", "k", "v", "EX", "-5"),
		cmd("SET", "k", "v", "EX", "abc"), cmd("SET", "k", "v", "EX"), cmd("SET", "k", "v", "EX", "10", "PX", "100"),
		cmd("SET", "k", "v", "BOGUS"), cmd("SET", "k", "v", "EX", "100"), cmd("TTL", "k"), cmd("SET", "k", "w", "KEEPTTL"),
		cmd("TTL", "k"), cmd("SET", "k", "x"), cmd("TTL", "k"), cmd("SET", "k", "v", "KEEPTTL", "EX", "5"),
		cmd("SETNX", "k", "y"), cmd("SETNX", "fresh", "y"), cmd("GETSET", "fresh", "z"), cmd("SETEX", "sx", "100", "v"),
		cmd("TTL", "sx"), cmd("SETEX", "sx", "0", "v"),
		cmd("MSET", "m1", "a", "m2", "b", "m3", "c"), cmd("MSET", "m1", "a", "m2"), cmd("MGET", "m1", "missing", "m3", "m2"),
		// integers
		cmd("INCR", "n"), cmd("INCRBY", "n", "41"), cmd("DECR", "n"), cmd("DECRBY", "n", "-10"), cmd("GET", "n"),
		cmd("INCRBY", "n", "abc"), cmd("INCRBY", "n", "1.5"), cmd("INCRBY", "n", " 1"),
		cmd("SET", "max", "9223372036854775807"), cmd("INCR", "max"), cmd("GET", "max"),
		cmd("SET", "min", "-9223372036854775808"), cmd("DECR", "min"), cmd("DECRBY", "n", "-9223372036854775808"),
		cmd("INCRBY", "n", "9223372036854775808"), cmd("SET", "f", "1.5"), cmd("INCR", "f"), cmd("SET", "sp", " 1"),
		cmd("INCR", "sp"), cmd("SET", "lead", "01"), cmd("INCR", "lead"), cmd("APPEND", "n", "0"), cmd("INCR", "n"),
		cmd("APPEND", "newapp", "abc"), cmd("STRLEN", "missing"),
		// lists, negative indexes
		cmd("RPUSH", "l", "a", "b", "c", "d", "e"), cmd("LPUSH", "l", "z"), cmd("LRANGE", "l", "0", "-1"),
		cmd("LRANGE", "l", "-3", "-1"), cmd("LRANGE", "l", "-100", "100"), cmd("LRANGE", "l", "5", "1"),
		cmd("LRANGE", "l", "2", "2"), cmd("LRANGE", "l", "-1", "-3"), cmd("LRANGE", "l", "x", "1"), cmd("LLEN", "l"),
		cmd("LINDEX", "l", "-1"), cmd("LINDEX", "l", "99"), cmd("LPOP", "l"), cmd("RPOP", "l"), cmd("LPOP", "l", "2"),
		cmd("RPOP", "l", "0"), cmd("LPOP", "l", "-1"), cmd("LPOP", "nolist"), cmd("LPOP", "nolist", "2"),
		cmd("RPOP", "l", "10"), cmd("EXISTS", "l"), cmd("LLEN", "l"), cmd("LPUSHX", "l", "a"), cmd("RPUSHX", "l", "a"),
		cmd("LRANGE", "nolist", "0", "-1"),
		// wrong types
		cmd("LPUSH", "k", "a"), cmd("GET", "l2"), cmd("RPUSH", "l2", "a"), cmd("GET", "l2"), cmd("INCR", "l2"),
		cmd("APPEND", "l2", "x"), cmd("STRLEN", "l2"), cmd("SADD", "l2", "a"), cmd("HSET", "l2", "f", "v"),
		cmd("ZADD", "l2", "1", "a"), cmd("LRANGE", "k", "0", "1"), cmd("SET", "l2", "now a string"), cmd("TYPE", "l2"),
		cmd("GETDEL", "l3"), cmd("RPUSH", "l3", "x"), cmd("GETDEL", "l3"), cmd("SET", "l3", "v", "GET"), cmd("MGET", "l3", "k"),
		// sets
		cmd("SADD", "s", "a", "b", "c", "a"), cmd("SADD", "s", "a"), cmd("SCARD", "s"), cmd("SISMEMBER", "s", "b"),
		cmd("SISMEMBER", "s", "x"), unordered(1, "SMEMBERS", "s"), cmd("SREM", "s", "a", "x"), unordered(1, "SMEMBERS", "s"),
		cmd("SPOP", "noset"), cmd("SPOP", "noset", "2"), cmd("SREM", "s", "b", "c"), cmd("EXISTS", "s"),
		cmd("SADD", "s1", "only"), cmd("SPOP", "s1"), cmd("SPOP", "s1"), cmd("SCARD", "s1"), cmd("SMEMBERS", "noset"),
		// hashes
		cmd("HSET", "h", "f1", "v1", "f2", "v2"), cmd("HSET", "h", "f1", "v1b", "f3", "v3"), cmd("HSET", "h", "f1"),
		cmd("HGET", "h", "f1"), cmd("HGET", "h", "nof"), cmd("HGET", "noh", "f"), cmd("HLEN", "h"),
		unordered(2, "HGETALL", "h"), cmd("HDEL", "h", "f1", "nof"), cmd("HLEN", "h"), cmd("HEXISTS", "h", "f2"),
		cmd("HMGET", "h", "f2", "nof"), unordered(1, "HKEYS", "h"), cmd("HGETALL", "noh"), cmd("HDEL", "h", "f2", "f3"),
		cmd("EXISTS", "h"), cmd("HMSET", "h", "a", "1"), cmd("HSETNX", "h", "a", "2"), cmd("HGET", "h", "a"),
		// sorted sets
		cmd("ZADD", "z", "1", "a", "2", "b", "1.5", "c", "-inf", "lo", "+inf", "hi"), cmd("ZADD", "z", "3", "a"),
		cmd("ZADD", "z", "x", "a"), cmd("ZADD", "z", "1"), cmd("ZADD", "z", "NX", "9", "a", "9", "new"),
		cmd("ZADD", "z", "XX", "CH", "0.5", "b", "7", "nope"), cmd("ZCARD", "z"), cmd("ZSCORE", "z", "c"),
		cmd("ZRANGE", "z", "0", "-1", "WITHSCORES"), cmd("ZPOPMIN", "z"), cmd("ZPOPMIN", "z", "2"), cmd("ZPOPMAX", "z"),
		cmd("ZPOPMIN", "noz"), cmd("ZREM", "z", "a", "zz"), cmd("ZRANGE", "z", "0", "-1"), cmd("ZADD", "z", "0.1", "p"),
		cmd("ZSCORE", "z", "p"),
		// keys, types, globs
		cmd("TYPE", "k"), cmd("TYPE", "l2"), cmd("TYPE", "z"), cmd("TYPE", "h"), cmd("TYPE", "nothing"),
		cmd("SADD", "tset", "a"), cmd("RPUSH", "tlist", "a"), cmd("TYPE", "tset"), cmd("TYPE", "tlist"),
		cmd("MSET", "hello", "1", "hallo", "2", "hxllo", "3", "hllo", "4", "heeeello", "5", "h*llo", "6", "h[llo", "7"),
		unordered(1, "KEYS", "h?llo"), unordered(1, "KEYS", "h*llo"), unordered(1, "KEYS", "h[ae]llo"),
		unordered(1, "KEYS", "h[^e]llo"), unordered(1, "KEYS", "h[a-b]llo"), unordered(1, "KEYS", `h\*llo`),
		unordered(1, "KEYS", "h[\\[]llo"), unordered(1, "KEYS", "nomatch*"), unordered(1, "KEYS", "m[0-9]"),
		cmd("DEL", "hello", "hallo", "missing", "hello"), cmd("EXISTS", "hxllo", "hxllo", "missing"), cmd("UNLINK", "hxllo"),
		// expiry
		cmd("SET", "e1", "v", "PX", "100"), cmd("SET", "e2", "v"), cmd("PEXPIRE", "e2", "100"), cmd("RPUSH", "e3", "a"),
		cmd("EXPIRE", "e3", "100"), cmd("TTL", "e3"), cmd("PERSIST", "e3"), cmd("TTL", "e3"), cmd("PERSIST", "e3"),
		cmd("PTTL", "e3"), cmd("PTTL", "missing"), cmd("TTL", "missing"), cmd("EXPIRE", "missing", "10"),
		cmd("EXPIRE", "e3", "abc"), cmd("EXPIRE", "e3", "10", "XX"), cmd("EXPIRE", "e3", "10", "NX"), cmd("EXPIRE", "e3", "20", "NX"),
		cmd("EXPIRE", "e3", "5", "GT"), cmd("EXPIRE", "e3", "50", "GT"), cmd("TTL", "e3"), cmd("EXPIRE", "e3", "10", "LT"),
		cmd("TTL", "e3"), cmd("EXPIRE", "e3", "10", "NX", "XX"), cmd("EXPIRE", "e3", "10", "BOGUS"),
		cmd("SET", "e4", "v"), cmd("EXPIRE", "e4", "0"), cmd("EXISTS", "e4"), cmd("SET", "e5", "v"), cmd("EXPIRE", "e5", "-1"),
		cmd("GET", "e5"), cmd("SET", "e6", "v"), cmd("EXPIREAT", "e6", "1"), cmd("EXISTS", "e6"),
		cmd("EXPIRE", "e3", "9223372036854775807"), cmd("PEXPIRE", "e3", "9223372036854775807"),
		{args: []string{"GET", "e1"}, sleep: 200 * time.Millisecond},
		cmd("GET", "e1"), cmd("TTL", "e1"), cmd("EXISTS", "e2"), cmd("GET", "e2"), cmd("TYPE", "e1"), cmd("LPUSH", "e1", "x"),
		cmd("TYPE", "e1"), cmd("INCR", "e2"),
		// pipelining, byte by byte, inline
		{raw: pipeline, replies: 1010},
		{raw: encodeCommand("SET", "split", "a\r\nvalue"), replies: 1, byteWise: true},
		{raw: []byte("GET split\r\n"), replies: 1, byteWise: true},
		{raw: []byte("SET inl \"hello world\"\r\nGET inl\r\nPING\nECHO 'it\\'s'\r\n\r\nEXISTS inl nope\r\n"), replies: 5},
		{raw: []byte(`SET esc "a\x00\n\tb"` + "\r\nSTRLEN esc\r\n"), replies: 2},
		// server
		cmd("CLIENT", "SETNAME", "tester"), cmd("CLIENT", "GETNAME"), cmd("CLIENT", "BOGUS"), cmd("CONFIG", "GET", "appendonly"),
		cmd("CONFIG", "BOGUS"),
		cmd("DBSIZE"), cmd("FLUSHDB"), cmd("DBSIZE"), cmd("SET", "a", "1"), cmd("FLUSHALL"), cmd("KEYS", "*"),
		cmd("FLUSHALL", "bogus"),
		// the arity of the pops, CLIENT's errors, what Redis's test harness sends before its tests
		cmd("RPUSH", "l", "a", "b"), exact("LPOP", "l", "1", "1"), exact("RPOP", "l", "2", "2"), exact("LPOP", "l", "1", "1", "1"),
		cmd("SADD", "s", "a"), exact("SPOP", "s", "1", "1"), cmd("ZADD", "z", "1", "a"), exact("ZPOPMIN", "z", "1", "1"),
		exact("CLIENT", "KILL"), exact("CLIENT", "KILL", "ID", "10", "wrong_arg"), exact("CLIENT", "KILL", "ID", "str"),
		exact("CLIENT", "KILL", "ID", "0"), exact("CLIENT", "KILL", "ID", "-1"), exact("CLIENT", "KILL", "TYPE", "wrong_type"),
		exact("CLIENT", "KILL", "USER", "wrong_user"), exact("CLIENT", "KILL", "SKIPME", "yes_or_no"),
		exact("CLIENT", "KILL", "1.2.3.4:5"), exact("CLIENT", "KILL", "ID", "999999"), exact("CLIENT", "SETNAME", "foo bar"),
		exact("CLIENT", "LIST", "ID", "abc"), exact("CLIENT", "LIST", "TYPE", "bogus"), exact("CLIENT", "LIST", "ID", "999999"),
		exact("CLIENT", "GETNAME", "x"), exact("CLIENT", "INFO", "x"),
		exact("FUNCTION", "FLUSH"), exact("FUNCTION", "FLUSH", "ASYNC"), exact("CONFIG", "SET", "save", ""),
		exact("CONFIG", "GET", "save"), exact("CONFIG", "SET", "list-max-ziplist-size", "5"),
		exact("CONFIG", "GET", "list-max-ziplist-size"), exact("CONFIG", "GET", "list-max-listpack-size"),
		exact("CONFIG", "SET", "zset-max-ziplist-entries", "abc"), exact("CONFIG", "SET", "nosuchoption", "1"),
		exact("CONFIG", "SET", "hash-max-listpack-entries", "20", "hash-max-ziplist-entries", "21"),
		exact("CONFIG", "SET", "hash-max-listpack-entries", "20", "zset-max-listpack-value", "x"),
		exact("CONFIG", "GET", "hash-max-listpack-entries"), exact("CONFIG", "SET", "list-max-listpack-size", "-2"),
		// sorted sets: ranges, options, algebra
		cmd("DEL", "z", "z2", "zd"), cmd("ZADD", "z", "1", "a", "2", "b", "3", "c", "4", "d", "5", "e"),
		cmd("ZADD", "z2", "10", "c", "20", "d", "30", "x"), cmd("ZRANGE", "z", "(1", "4", "BYSCORE", "WITHSCORES"),
		cmd("ZRANGE", "z", "4", "(1", "BYSCORE", "REV", "LIMIT", "1", "2"), cmd("ZRANGE", "z", "0", "1", "REV"),
		cmd("ZRANGE", "z", "[b", "(d", "BYLEX"), cmd("ZRANGE", "z", "+", "-", "BYLEX", "REV", "LIMIT", "0", "2"),
		exact("ZRANGE", "z", "0", "1", "LIMIT", "0", "1"), exact("ZRANGE", "z", "a", "b", "BYLEX", "WITHSCORES"),
		cmd("ZRANGEBYSCORE", "z", "-inf", "+inf", "LIMIT", "2", "-1"), cmd("ZREVRANGEBYSCORE", "z", "+inf", "(3", "WITHSCORES"),
		cmd("ZRANGEBYLEX", "z", "-", "[c"), cmd("ZREVRANGEBYLEX", "z", "[c", "-"), cmd("ZREVRANGE", "z", "0", "-2", "WITHSCORES"),
		exact("ZRANGEBYSCORE", "z", "x", "1"), exact("ZRANGEBYLEX", "z", "a", "[b"), cmd("ZCOUNT", "z", "(1", "3"),
		cmd("ZLEXCOUNT", "z", "[b", "+"), cmd("ZRANK", "z", "c"), cmd("ZREVRANK", "z", "c"), cmd("ZRANK", "z", "nope"),
		cmd("ZINCRBY", "z", "2.5", "a"), cmd("ZADD", "z", "GT", "CH", "1", "a", "9", "b"), cmd("ZADD", "z", "LT", "INCR", "-1", "c"),
		exact("ZADD", "z", "GT", "NX", "1", "a"), exact("ZADD", "z", "INCR", "1", "a", "2", "b"), cmd("ZADD", "z", "NX", "INCR", "1", "a"),
		exact("ZINCRBY", "z", "-inf", "a"), exact("ZINCRBY", "z", "+inf", "a"), cmd("ZMSCORE", "z", "a", "nope", "c"),
		cmd("ZUNION", "2", "z", "z2", "WITHSCORES"), cmd("ZINTER", "2", "z", "z2", "WEIGHTS", "2", "3", "AGGREGATE", "MAX", "WITHSCORES"),
		cmd("ZDIFF", "2", "z", "z2"), cmd("ZUNIONSTORE", "zd", "2", "z", "z2", "AGGREGATE", "MIN"), cmd("ZRANGE", "zd", "0", "-1", "WITHSCORES"),
		cmd("ZINTERSTORE", "zd", "2", "z", "nozset"), cmd("EXISTS", "zd"), cmd("ZINTERCARD", "2", "z", "z2", "LIMIT", "1"),
		exact("ZUNION", "0", "z"), exact("ZINTERCARD", "0", "z"), exact("ZUNIONSTORE", "zd", "2", "z", "z2", "WITHSCORES"),
		exact("ZINTER", "2", "z", "z2", "WEIGHTS", "1", "x"), cmd("ZRANGESTORE", "zd", "z", "1", "2"), cmd("ZRANGE", "zd", "0", "-1"),
		cmd("ZREMRANGEBYSCORE", "z", "-inf", "(2"), cmd("ZREMRANGEBYRANK", "z", "0", "0"), cmd("ZREMRANGEBYLEX", "z2", "[a", "[d"),
		cmd("ZMPOP", "2", "nozset", "z", "MAX", "COUNT", "2"), exact("ZMPOP", "0", "z", "MIN"), exact("ZMPOP", "1", "z", "MIN", "COUNT", "0"),
		cmd("ZRANDMEMBER", "nozset"), cmd("ZRANDMEMBER", "z2", "0"), exact("ZRANDMEMBER", "z2", "-9223372036854775808"),
		unordered(2, "ZRANDMEMBER", "z2", "5", "WITHSCORES"), cmd("ZSCAN", "z2", "0"),
		// lists
		cmd("DEL", "l", "l2"), cmd("RPUSH", "l", "a", "b", "c", "b", "a"), cmd("LPOS", "l", "b"), cmd("LPOS", "l", "b", "RANK", "-1"),
		cmd("LPOS", "l", "b", "COUNT", "0"), cmd("LPOS", "l", "a", "COUNT", "1", "MAXLEN", "2"), exact("LPOS", "l", "b", "RANK", "0"),
		cmd("LINSERT", "l", "BEFORE", "c", "x"), cmd("LINSERT", "l", "AFTER", "nope", "y"), cmd("LSET", "l", "-1", "z"),
		exact("LSET", "l", "99", "z"), exact("LSET", "nolist", "0", "z"), cmd("LREM", "l", "-1", "b"), cmd("LRANGE", "l", "0", "-1"),
		cmd("LTRIM", "l", "1", "-2"), cmd("LRANGE", "l", "0", "-1"), cmd("LMOVE", "l", "l2", "LEFT", "RIGHT"), cmd("RPOPLPUSH", "l", "l2"),
		cmd("LMOVE", "l2", "l2", "RIGHT", "LEFT"), cmd("LRANGE", "l2", "0", "-1"), cmd("LMPOP", "2", "nolist", "l2", "RIGHT", "COUNT", "5"),
		cmd("LMOVE", "nolist", "l2", "LEFT", "LEFT"), cmd("LMOVE", "astring", "l2", "LEFT", "LEFT"), exact("LMPOP", "1", "l", "UP"),
		// sets
		cmd("DEL", "s1", "s2", "sd"), cmd("SADD", "s1", "a", "b", "c"), cmd("SADD", "s2", "b", "c", "d"),
		unordered(1, "SINTER", "s1", "s2"), unordered(1, "SUNION", "s1", "s2", "noset"), unordered(1, "SDIFF", "s1", "s2"),
		cmd("SINTERSTORE", "sd", "s1", "s2"), cmd("SDIFFSTORE", "sd", "s1", "s1"), cmd("EXISTS", "sd"), cmd("SUNIONSTORE", "sd", "s1", "s2"),
		cmd("SINTERCARD", "2", "s1", "s2"), exact("SINTERCARD", "3", "s1", "s2"), exact("SINTERCARD", "1", "s1", "LIMIT", "-1"),
		cmd("SMOVE", "s1", "s2", "a"), cmd("SMOVE", "s1", "s2", "nope"), cmd("SMISMEMBER", "s2", "a", "z"), cmd("SRANDMEMBER", "noset"),
		cmd("SRANDMEMBER", "s1", "0"), unordered(1, "SRANDMEMBER", "s2", "10"), unordered(1, "SSCAN", "s1", "0", "MATCH", "b*"),
		// strings
		cmd("SET", "f", "10.5"), cmd("INCRBYFLOAT", "f", "0.1"), cmd("INCRBYFLOAT", "f", "-5"), cmd("INCRBYFLOAT", "f", "1e3"),
		exact("INCRBYFLOAT", "f", "x"), cmd("SET", "gr", "Hello World"), cmd("GETRANGE", "gr", "-5", "-1"), cmd("GETRANGE", "gr", "5", "1"),
		cmd("GETRANGE", "gr", "0", "100"), cmd("SETRANGE", "gr", "6", "Redis"), cmd("SETRANGE", "sr", "3", "x"), cmd("GET", "sr"),
		exact("SETRANGE", "sr", "-1", "x"), exact("SETRANGE", "sr", "9223372036854775807", "x"), exact("HINCRBYFLOAT", "hf", "f", "+inf"), cmd("SETRANGE", "nokey", "0", ""), cmd("EXISTS", "nokey"), cmd("GETEX", "gr", "EX", "100"),
		cmd("TTL", "gr"), cmd("GETEX", "gr", "PERSIST"), cmd("TTL", "gr"), exact("GETEX", "gr", "EX", "0"),
		cmd("MSETNX", "n1", "a", "n2", "b"), cmd("MSETNX", "n2", "c", "n3", "d"), cmd("MGET", "n1", "n2", "n3"),
		// keys and hashes
		cmd("SET", "rk", "v", "EX", "100"), cmd("RENAME", "rk", "rk2"), cmd("TTL", "rk2"), exact("RENAME", "rk", "x"),
		cmd("RENAMENX", "rk2", "n1"), cmd("COPY", "rk2", "rk3"), cmd("COPY", "rk2", "rk3"), cmd("COPY", "rk2", "rk3", "REPLACE"),
		cmd("TTL", "rk3"), cmd("EXPIRETIME", "nokey"), cmd("PEXPIRETIME", "n1"), cmd("MEMORY", "USAGE", "nokey"),
		cmd("HSET", "hh", "n", "5", "f", "1.5", "s", "str"), cmd("HINCRBY", "hh", "n", "-7"), cmd("HINCRBYFLOAT", "hh", "f", "0.25"),
		exact("HINCRBY", "hh", "s", "1"), exact("HINCRBYFLOAT", "hh", "s", "1"), cmd("HSTRLEN", "hh", "s"), cmd("HSTRLEN", "hh", "nof"),
		cmd("HSCAN", "hh", "0", "MATCH", "n*"), cmd("HRANDFIELD", "nohash"), cmd("HRANDFIELD", "hh", "0"), unordered(2, "HRANDFIELD", "hh", "9", "WITHVALUES"),
	}
	// Every command that reads an existing key (kv's Session.existing), on
	// a missing key and on a key of another kind.
	steps = append(steps, cmd("SET", "astring", "v"), cmd("RPUSH", "alist", "x"))
	for _, c := range [][]string{
		{"GET"}, {"STRLEN"}, {"HGET", "f"}, {"HDEL", "f"}, {"HGETALL"}, {"HKEYS"}, {"HVALS"},
		{"HLEN"}, {"HEXISTS", "f"}, {"SREM", "m"}, {"SCARD"}, {"SISMEMBER", "m"}, {"SMEMBERS"},
		{"LRANGE", "0", "-1"}, {"LLEN"}, {"LINDEX", "0"}, {"ZPOPMIN"}, {"ZPOPMAX", "2"}, {"ZRANGE", "0", "-1"},
		{"ZRANGE", "0", "-1", "WITHSCORES"}, {"ZCARD"}, {"ZSCORE", "m"}, {"ZREM", "m"},
		{"GETDEL"}, // last: it takes astring
	} {
		for _, key := range []string{"nosuchkey", "astring", "alist"} {
			steps = append(steps, cmd(append([]string{c[0], key}, c[1:]...)...))
		}
	}
	return steps
}

// run sends the step on c and returns its canonical replies.
func (s kvStep) run(c *respConn) []string {
	c.t.Helper()
	p, n := s.raw, s.replies
	if s.args != nil {
		p, n = encodeCommand(s.args...), 1
	}
	if s.byteWise {
		for i := range p {
			c.send(p[i : i+1])
			time.Sleep(time.Millisecond)
		}
	} else {
		c.send(p)
	}
	out := make([]string, n)
	for i := range out {
		r := c.reply()
		if s.exact && strings.HasPrefix(r, "-") {
			out[i] = r
			continue
		}
		out[i] = canonical(r, s.unordered)
	}
	return out
}

func (s kvStep) String() string {
	if s.args != nil {
		return fmt.Sprintf("%.80q", s.args)
	}
	return fmt.Sprintf("%.80q", s.raw)
}

// The same commands, edge cases included, to redis-server and to
// kv-server: the same replies (errors by their first word).
func TestKVServerMatchesRedis(t *testing.T) {
	redisSock := startRedis(t)
	iomuxtest.CheckLeaks(t)
	kvs := srvStart(t, runKVServer, "--loops", "2")
	redis := dialRESP(t, "unix", redisSock)
	ours := dialRESP(t, "tcp", kvs.addr)
	for _, step := range kvDifferentialSteps() {
		want := step.run(redis)
		got := step.run(ours)
		for i := range want {
			if got[i] != want[i] {
				t.Errorf("%v: reply %d: kv-server %.200s, redis-server %.200s", step, i, got[i], want[i])
			}
		}
		time.Sleep(step.sleep)
	}
	// SCAN over the whole keyspace finds the same keys, though cursors differ.
	for _, c := range []*respConn{redis, ours} {
		c.do("FLUSHALL")
		for i := range 300 {
			c.do("SET", fmt.Sprintf("scan:%d", i), "v")
		}
		c.do("RPUSH", "scan:list", "a")
	}
	for _, opts := range [][]string{nil, {"MATCH", "scan:1*"}, {"COUNT", "7", "MATCH", "*2"}, {"TYPE", "list"}, {"TYPE", "string", "COUNT", "1000"}} {
		if got, want := scanAll(t, ours, opts), scanAll(t, redis, opts); !slices.Equal(got, want) {
			t.Errorf("SCAN %q: kv-server %d keys, redis-server %d: %.300q\n%.300q", opts, len(got), len(want), got, want)
		}
	}
	for _, args := range [][]string{{"SCAN", "x"}, {"SCAN", "0", "COUNT", "0"}, {"SCAN", "0", "MATCH"}, {"SCAN", "0", "BOGUS", "1"}} {
		if got, want := canonical(ours.do(args...), 0), canonical(redis.do(args...), 0); got != want {
			t.Errorf("%q: kv-server %s, redis-server %s", args, got, want)
		}
	}
	// A protocol error: the error, then the connection closes; QUIT: +OK, then it closes.
	for _, raw := range []string{"*1\r\n$x\r\n", "*1\r\n+PING\r\n", "*abc\r\n", "SET k \"unbalanced\r\n", "QUIT\r\n"} {
		c1, c2 := dialRESP(t, "unix", redisSock), dialRESP(t, "tcp", kvs.addr)
		s := kvStep{raw: []byte(raw), replies: 2}
		if want, got := s.run(c1), s.run(c2); !slices.Equal(got, want) {
			t.Errorf("%q: kv-server %q, redis-server %q", raw, got, want)
		}
		c2.conn.Close()
	}
	redis.conn.Close()
	ours.conn.Close()
}

// scanAll runs a SCAN iteration to its end and returns the keys, sorted.
func scanAll(t *testing.T, c *respConn, opts []string) []string {
	var keys []string
	cursor := "0"
	for range 10000 {
		reply := c.do(append([]string{"SCAN", cursor}, opts...)...)
		parts := splitArray(reply)
		if len(parts) != 2 {
			t.Fatalf("SCAN reply %q", reply)
		}
		cursor, _ = strconv.Unquote(parts[0])
		if parts[1] != "[]" {
			keys = append(keys, splitArray(parts[1])...)
		}
		if cursor == "0" {
			slices.Sort(keys)
			return slices.Compact(keys)
		}
	}
	t.Fatal("SCAN did not end")
	return nil
}

// kvBenchmarkTests are the tests of redis-benchmark's default suite, as
// its --csv names them.
var kvBenchmarkTests = []string{"PING_INLINE", "PING_MBULK", "SET", "GET", "INCR", "LPUSH", "RPUSH", "LPOP", "RPOP",
	"SADD", "HSET", "SPOP", "ZADD", "ZPOPMIN", "LPUSH (needed to benchmark LRANGE)", "LRANGE_100 (first 100 elements)",
	"LRANGE_300 (first 300 elements)", "LRANGE_500 (first 500 elements)", "LRANGE_600 (first 600 elements)", "MSET (10 keys)"}

// redis-benchmark's default suite runs unchanged against kv-server, with
// and without pipelining, with no error.
func TestKVServerRedisBenchmark(t *testing.T) {
	bin := needTool(t, "redis-benchmark", "redis-tools")
	iomuxtest.CheckLeaks(t)
	s := srvStart(t, runKVServer, "--loops", "2")
	host, port, _ := net.SplitHostPort(s.addr)
	for _, pipeline := range []string{"1", "16"} {
		t.Run("P="+pipeline, func(t *testing.T) {
			out, err := exec.Command(bin, "-h", host, "-p", port, "-n", "2000", "-c", "20", "-P", pipeline, "--csv").CombinedOutput()
			if err != nil {
				t.Fatalf("redis-benchmark: %v\n%s", err, out)
			}
			text := string(out)
			if strings.Contains(text, "rror") || strings.Contains(text, "ERR") || strings.Contains(text, "WARN") {
				t.Errorf("redis-benchmark reported errors:\n%s", text)
			}
			for _, name := range kvBenchmarkTests {
				if !strings.Contains(text, "\n\""+name+"\",") {
					t.Errorf("redis-benchmark's %s did not complete:\n%s", name, text)
				}
			}
		})
	}
}

// redis-cli, as a person uses it: one command per invocation, and
// commands typed on its standard input; what it prints for kv-server is
// what it prints for redis-server.
func TestKVServerRedisCLI(t *testing.T) {
	bin := needTool(t, "redis-cli", "redis-tools")
	redisSock := startRedis(t)
	iomuxtest.CheckLeaks(t)
	s := srvStart(t, runKVServer, "--loops", "1")
	host, port, _ := net.SplitHostPort(s.addr)
	cli := func(server []string, stdin string, args ...string) string {
		c := exec.Command(bin, append(server, args...)...)
		c.Stdin = strings.NewReader(stdin)
		out, err := c.CombinedOutput()
		if err != nil {
			t.Fatalf("redis-cli %q: %v\n%s", args, err, out)
		}
		return string(out)
	}
	ours, redis := []string{"-h", host, "-p", port}, []string{"-s", redisSock}
	for _, args := range [][]string{
		{"PING"}, {"SET", "greeting", "hello world"}, {"GET", "greeting"}, {"INCRBY", "n", "5"},
		{"RPUSH", "l", "a", "b"}, {"LRANGE", "l", "0", "-1"}, {"GET", "nokey"}, {"LPUSH", "greeting", "x"},
		{"DBSIZE"}, {"--scan", "--pattern", "gr*"}, {"HSET", "h", "f", "v"}, {"HGETALL", "h"}, {"TTL", "h"},
		{"SET", "k", "v", "EX", "0"}, {"--no-raw", "LRANGE", "l", "0", "-1"}, {"--no-raw", "GET", "nokey"},
		{"--no-raw", "INCR", "greeting"}, {"CONFIG", "GET", "save"}, {"QUIT"},
	} {
		if got, want := cli(ours, "", args...), cli(redis, "", args...); got != want {
			t.Errorf("redis-cli %q: kv-server %q, redis-server %q", args, got, want)
		}
	}
	typed := "SET a 1\nINCR a\nGET a\nTYPE a\nFOO\nset q \"two words\"\nget q\n"
	if got, want := cli(ours, typed), cli(redis, typed); got != want {
		t.Errorf("redis-cli with commands on stdin: kv-server %q, redis-server %q", got, want)
	}
	if got := cli(ours, "", "INFO", "keyspace"); got != "# Keyspace\r\ndb0:keys=6,expires=0,avg_ttl=0\r\n" {
		t.Errorf("INFO keyspace: %q", got)
	}
}

// BenchmarkKVServerPipelined is a client pipelining 16 SET/GET/INCR
// commands per write over loopback TCP to kv-server --loops 1: one op is
// one batch (one write and one read each side); allocs/op counts the
// whole process, server and this allocation-free client, so it is the
// server's allocations per batch (0 in steady state).
func BenchmarkKVServerPipelined(b *testing.B) {
	s := srvStartBench(b, "--loops", "1")
	conn, err := net.Dial("tcp", s)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	var batch []byte
	var replyLen int
	for i := range 16 {
		switch i % 3 {
		case 0:
			batch = append(batch, encodeCommand("SET", "key:__rand_int__", "xxx")...)
			replyLen += len("+OK\r\n")
		case 1:
			batch = append(batch, encodeCommand("GET", "key:__rand_int__")...)
			replyLen += len("$3\r\nxxx\r\n")
		case 2:
			batch = append(batch, encodeCommand("EXISTS", "key:__rand_int__")...)
			replyLen += len(":1\r\n")
		}
	}
	buf := make([]byte, replyLen)
	roundTrip := func() {
		if _, err := conn.Write(batch); err != nil {
			b.Fatal(err)
		}
		if _, err := io.ReadFull(conn, buf); err != nil {
			b.Fatal(err)
		}
	}
	roundTrip()
	b.ReportAllocs()
	for b.Loop() {
		roundTrip()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*16), "ns/command")
}

// srvStartBench runs kv-server in this process for a benchmark and
// returns its address; it stops when the benchmark ends.
func srvStartBench(b *testing.B, args ...string) string {
	ctx, cancel := context.WithCancel(context.Background())
	addrs := make(chan net.Addr, 1)
	done := make(chan error, 1)
	e := &env{stdout: io.Discard, stderr: io.Discard, ctx: ctx, ready: func(a net.Addr) { addrs <- a }}
	go func() { done <- runKVServer(e, append([]string{"--addr", "127.0.0.1:0"}, args...)) }()
	b.Cleanup(func() {
		cancel()
		<-done
	})
	select {
	case a := <-addrs:
		return a.String()
	case err := <-done:
		b.Fatal(err)
	}
	return ""
}

// clientLine is a line of CLIENT LIST, as Redis 7.0 prints it, with the
// fields Redis's own tests check.
var clientLine = regexp.MustCompile(`^id=\d+ addr=\S+:\d+ laddr=\S+:\d+ fd=\d+ name=\S* age=\d+ idle=\d+ flags=[NU] db=0 ` +
	`sub=0 psub=0 ssub=0 multi=-1 qbuf=\d+ qbuf-free=\d+ argv-mem=\d+ multi-mem=0 rbs=\d+ rbp=\d+ obl=0 oll=0 omem=0 ` +
	`tot-mem=\d+ events=r cmd=\S+ user=default redir=-1 resp=2$`)

// CLIENT LIST, INFO, SETNAME, KILL across connections and loops: the same
// fields as redis-server's, every client listed, KILL closing the right ones.
func TestKVServerClients(t *testing.T) {
	redisSock := startRedis(t)
	iomuxtest.CheckLeaks(t)
	kvs := srvStart(t, runKVServer, "--loops", "2")
	for _, side := range []struct {
		name    string
		network string
		addr    string
	}{{"redis-server", "unix", redisSock}, {"kv-server", "tcp", kvs.addr}} {
		t.Run(side.name, func(t *testing.T) {
			conns := []*respConn{dialRESP(t, side.network, side.addr), dialRESP(t, side.network, side.addr), dialRESP(t, side.network, side.addr)}
			me, other := conns[0], conns[1]
			if r := other.do("CLIENT", "SETNAME", "other"); r != "+OK" {
				t.Fatalf("SETNAME: %s", r)
			}
			otherID := strings.TrimPrefix(other.do("CLIENT", "ID"), ":")
			conns[2].do("PING")
			info, _ := strconv.Unquote(me.do("CLIENT", "INFO"))
			if line := strings.TrimSuffix(info, "\n"); !clientLine.MatchString(line) || !strings.Contains(line, " cmd=client|info ") {
				t.Errorf("CLIENT INFO: %q", info)
			}
			list, _ := strconv.Unquote(me.do("CLIENT", "LIST"))
			lines := strings.Split(strings.TrimSuffix(list, "\n"), "\n")
			if len(lines) != 3 {
				t.Fatalf("CLIENT LIST: %d lines: %q", len(lines), list)
			}
			for _, l := range lines {
				if !clientLine.MatchString(l) {
					t.Errorf("CLIENT LIST line %q", l)
				}
			}
			one, _ := strconv.Unquote(me.do("CLIENT", "LIST", "ID", otherID))
			if !strings.HasPrefix(one, "id="+otherID+" ") || !strings.Contains(one, " name=other ") || strings.Count(one, "\n") != 1 {
				t.Errorf("CLIENT LIST ID %s: %q", otherID, one)
			}
			if r := me.do("CLIENT", "KILL", "ID", otherID); r != ":1" {
				t.Errorf("CLIENT KILL ID: %s", r)
			}
			if r := other.reply(); r != "EOF" {
				t.Errorf("the killed client read %q", r)
			}
			if r := me.do("CLIENT", "KILL", "SKIPME", "no"); r != ":2" {
				t.Errorf("CLIENT KILL SKIPME no: %s", r)
			}
			if r := me.reply(); r != "EOF" {
				t.Errorf("the client that killed itself read %q", r)
			}
		})
	}
}
