package kv

import (
	"math"
	"strconv"

	"github.com/iomux/iomux/internal/resp"
)

// The keyspace commands: DEL, UNLINK, EXISTS, EXPIRE and kin, TTL, PTTL,
// PERSIST, TYPE, KEYS, SCAN, DBSIZE, FLUSHDB, FLUSHALL.

func init() {
	register(
		&command{name: "del", arity: -2, run: cmdDel, flags: "write", first: 1, last: -1, step: 1},
		&command{name: "unlink", arity: -2, run: cmdDel, flags: "write fast", first: 1, last: -1, step: 1},
		&command{name: "exists", arity: -2, run: cmdExists, flags: "readonly fast", first: 1, last: -1, step: 1},
		&command{name: "expire", arity: -3, run: cmdExpire, flags: "write fast", first: 1, last: 1, step: 1},
		&command{name: "pexpire", arity: -3, run: cmdExpire, flags: "write fast", first: 1, last: 1, step: 1},
		&command{name: "expireat", arity: -3, run: cmdExpire, flags: "write fast", first: 1, last: 1, step: 1},
		&command{name: "pexpireat", arity: -3, run: cmdExpire, flags: "write fast", first: 1, last: 1, step: 1},
		&command{name: "ttl", arity: 2, run: cmdTTL, flags: "readonly fast", first: 1, last: 1, step: 1},
		&command{name: "pttl", arity: 2, run: cmdTTL, flags: "readonly fast", first: 1, last: 1, step: 1},
		&command{name: "persist", arity: 2, run: cmdPersist, flags: "write fast", first: 1, last: 1, step: 1},
		&command{name: "type", arity: 2, run: cmdType, flags: "readonly fast", first: 1, last: 1, step: 1},
		&command{name: "keys", arity: 2, run: cmdKeys, flags: "readonly"},
		&command{name: "scan", arity: -2, run: cmdScan, flags: "readonly"},
		&command{name: "dbsize", arity: 1, run: cmdDBSize, flags: "readonly fast"},
		&command{name: "flushdb", arity: -1, run: cmdFlush, flags: "write"},
		&command{name: "flushall", arity: -1, run: cmdFlush, flags: "write"},
	)
}

func cmdDel(sess *Session, out []byte, args [][]byte) []byte {
	st := sess.store
	locked := sess.lockKeys(args[1:], 1)
	defer sess.unlockKeys(locked)
	n := 0
	for _, k := range args[1:] {
		sh := &st.shards[st.shardIndex(k)]
		if sh.get(k, sess.now) != nil && sh.remove(k) {
			n++
		}
	}
	return resp.AppendInt(out, int64(n))
}

func cmdExists(sess *Session, out []byte, args [][]byte) []byte {
	st := sess.store
	locked := sess.lockKeys(args[1:], 1)
	defer sess.unlockKeys(locked)
	n := 0
	for _, k := range args[1:] {
		if st.shards[st.shardIndex(k)].get(k, sess.now) != nil {
			n++
		}
	}
	return resp.AppendInt(out, int64(n))
}

// cmdExpire is EXPIRE, PEXPIRE, EXPIREAT and PEXPIREAT key n [NX|XX|GT|LT].
func cmdExpire(sess *Session, out []byte, args [][]byte) []byte {
	name := sess.lookup(args[0]).name
	n, ok := resp.ParseInt(args[2])
	if !ok {
		return appendErr(out, errNotInteger)
	}
	var nx, xx, gt, lt bool
	for _, a := range args[3:] {
		switch {
		case equalFold(a, "nx"):
			nx = true
		case equalFold(a, "xx"):
			xx = true
		case equalFold(a, "gt"):
			gt = true
		case equalFold(a, "lt"):
			lt = true
		default:
			return appendErr(out, "ERR Unsupported option "+string(a))
		}
	}
	if nx && (xx || gt || lt) {
		return appendErr(out, "ERR NX and XX, GT or LT options at the same time are not compatible")
	}
	if gt && lt {
		return appendErr(out, "ERR GT and LT options at the same time are not compatible")
	}
	at := n
	if name == "expire" || name == "expireat" {
		if n > math.MaxInt64/1000 || n < math.MinInt64/1000 {
			return appendInvalidExpire(out, name)
		}
		at = n * 1000
	}
	if name == "expire" || name == "pexpire" {
		if at > 0 && at > math.MaxInt64-sess.now || at < 0 && at < math.MinInt64+sess.now {
			return appendInvalidExpire(out, name)
		}
		at += sess.now
	}
	sh := sess.lockShard(args[1])
	defer sess.unlockShard(sh)
	o := sh.get(args[1], sess.now)
	if o == nil {
		return resp.AppendInt(out, 0)
	}
	current := o.expireAt // 0: none, which GT treats as infinite, LT as above any
	switch {
	case nx && current != 0, xx && current == 0,
		gt && (current == 0 || at <= current), lt && current != 0 && at >= current:
		return resp.AppendInt(out, 0)
	}
	if at <= sess.now {
		sh.remove(args[1])
		return resp.AppendInt(out, 1)
	}
	sh.setExpiry(args[1], o, at)
	return resp.AppendInt(out, 1)
}

// cmdTTL is TTL and PTTL: -2 for no key, -1 for no expiry.
func cmdTTL(sess *Session, out []byte, args [][]byte) []byte {
	sh := sess.lockShard(args[1])
	defer sess.unlockShard(sh)
	o := sh.get(args[1], sess.now)
	switch {
	case o == nil:
		return resp.AppendInt(out, -2)
	case o.expireAt == 0:
		return resp.AppendInt(out, -1)
	}
	ms := o.expireAt - sess.now
	if equalFold(args[0], "ttl") {
		return resp.AppendInt(out, (ms+500)/1000)
	}
	return resp.AppendInt(out, ms)
}

func cmdPersist(sess *Session, out []byte, args [][]byte) []byte {
	sh := sess.lockShard(args[1])
	defer sess.unlockShard(sh)
	o := sh.get(args[1], sess.now)
	if o == nil || o.expireAt == 0 {
		return resp.AppendInt(out, 0)
	}
	sh.setExpiry(args[1], o, 0)
	return resp.AppendInt(out, 1)
}

func cmdType(sess *Session, out []byte, args [][]byte) []byte {
	sh := sess.lockShard(args[1])
	defer sess.unlockShard(sh)
	o := sh.get(args[1], sess.now)
	if o == nil {
		return resp.AppendSimple(out, "none")
	}
	return resp.AppendSimple(out, o.kind.String())
}

// cmdKeys replies every live key matching the pattern, in no order. It
// holds one shard's lock at a time, as SCAN does: it is not a snapshot.
func cmdKeys(sess *Session, out []byte, args [][]byte) []byte {
	var keys [][]byte
	for i := range sess.store.shards {
		keys = sess.scanShard(i, keys, args[1], -1, sess.now)
	}
	out = resp.AppendArray(out, len(keys))
	for _, k := range keys {
		out = resp.AppendBulk(out, k)
	}
	return out
}

// scanShard appends to keys the live keys of shard i that match pattern
// (nil: all) and are of kind want (-1: any).
func (sess *Session) scanShard(i int, keys [][]byte, pattern []byte, want int, now int64) [][]byte {
	sh := sess.lockIdx(i)
	defer sess.unlockShard(sh)
	all := len(pattern) == 1 && pattern[0] == '*'
	for k, o := range sh.keys {
		if o.expireAt != 0 && o.expireAt <= now {
			continue
		}
		if want >= 0 && int(o.kind) != want {
			continue
		}
		if pattern != nil && !all && !Match(pattern, []byte(k)) {
			continue
		}
		keys = append(keys, []byte(k))
	}
	return keys
}

// cmdScan is SCAN cursor [MATCH pattern] [COUNT n] [TYPE t]. The cursor
// is the next shard to visit (0: done): each call returns whole shards
// until it has about COUNT keys, so every key present for the whole scan
// is returned once, as Redis guarantees.
func cmdScan(sess *Session, out []byte, args [][]byte) []byte {
	cursor, ok := resp.ParseInt(args[1])
	if !ok || cursor < 0 {
		return appendErr(out, "ERR invalid cursor")
	}
	count := int64(10)
	var pattern []byte
	want := -1
	for i := 2; i < len(args); i += 2 {
		if i+1 >= len(args) {
			return appendErr(out, errSyntax)
		}
		switch a := args[i]; {
		case equalFold(a, "match"):
			pattern = args[i+1]
		case equalFold(a, "count"):
			n, ok := resp.ParseInt(args[i+1])
			if !ok {
				return appendErr(out, errNotInteger)
			}
			if n < 1 {
				return appendErr(out, errSyntax)
			}
			count = n
		case equalFold(a, "type"):
			want = -2 // an unknown type matches nothing
			for k := KindString; k <= KindZSet; k++ {
				if equalFold(args[i+1], k.String()) {
					want = int(k)
				}
			}
		default:
			return appendErr(out, errSyntax)
		}
	}
	var keys [][]byte
	next := int64(0)
	for i := cursor; i < shardCount; i++ {
		if want != -2 {
			keys = sess.scanShard(int(i), keys, pattern, want, sess.now)
		}
		if int64(len(keys)) >= count && i+1 < shardCount {
			next = i + 1
			break
		}
	}
	out = resp.AppendArray(out, 2)
	var buf [20]byte
	out = resp.AppendBulk(out, strconv.AppendInt(buf[:0], next, 10))
	out = resp.AppendArray(out, len(keys))
	for _, k := range keys {
		out = resp.AppendBulk(out, k)
	}
	return out
}

func cmdDBSize(sess *Session, out []byte, args [][]byte) []byte {
	n, _ := sess.store.counts(sess.holdsAll)
	return resp.AppendInt(out, int64(n))
}

// cmdFlush is FLUSHDB and FLUSHALL [ASYNC|SYNC] (both flush at once).
func cmdFlush(sess *Session, out []byte, args [][]byte) []byte {
	if len(args) > 2 || len(args) == 2 && !equalFold(args[1], "async") && !equalFold(args[1], "sync") {
		return appendErr(out, errSyntax)
	}
	sess.flush()
	return resp.AppendOK(out)
}
