package kv

import (
	"maps"
	"math/rand/v2"
	"slices"

	"github.com/iomux/iomux/internal/resp"
)

// More keyspace commands: RENAME, RENAMENX, COPY, RANDOMKEY, EXPIRETIME,
// PEXPIRETIME, OBJECT, MEMORY USAGE.

func init() {
	register(
		&command{name: "rename", arity: 3, run: cmdRename, flags: "write", first: 1, last: 2, step: 1},
		&command{name: "renamenx", arity: 3, run: cmdRename, flags: "write fast", first: 1, last: 2, step: 1},
		&command{name: "copy", arity: -3, run: cmdCopy, flags: "write", first: 1, last: 2, step: 1},
		&command{name: "randomkey", arity: 1, run: cmdRandomKey, flags: "readonly"},
		&command{name: "expiretime", arity: 2, run: cmdExpireTime, flags: "readonly fast", first: 1, last: 1, step: 1},
		&command{name: "pexpiretime", arity: 2, run: cmdExpireTime, flags: "readonly fast", first: 1, last: 1, step: 1},
		&command{name: "object", arity: -2, run: cmdObject, flags: "readonly"},
		&command{name: "memory", arity: -2, run: cmdMemory, flags: "readonly"},
	)
}

// clone is a deep copy of o (COPY).
func (o *object) clone() *object {
	c := &object{kind: o.kind, expireAt: o.expireAt, str: slices.Clone(o.str)}
	switch o.kind {
	case KindList:
		c.list = &list{}
		c.list.setSlice(o.list.slice())
	case KindSet:
		c.set = maps.Clone(o.set)
	case KindHash:
		c.hash = make(map[string][]byte, len(o.hash))
		for k, v := range o.hash {
			c.hash[k] = slices.Clone(v)
		}
	case KindZSet:
		c.zset = &zset{score: maps.Clone(o.zset.score), sorted: slices.Clone(o.zset.sorted)}
	}
	return c
}

// cmdRename is RENAME src dst and RENAMENX src dst; the expiry moves with
// the value.
func cmdRename(sess *Session, out []byte, args [][]byte) []byte {
	nx := equalFold(args[0], "renamenx")
	st := sess.store
	locked := sess.lockKeys(args[1:3], 1)
	defer sess.unlockKeys(locked)
	src, dst := args[1], args[2]
	ssh, dsh := st.shardOf(src), st.shardOf(dst)
	o := ssh.get(src, sess.now)
	if o == nil {
		return appendErr(out, "ERR no such key")
	}
	if string(src) == string(dst) {
		if nx {
			return resp.AppendInt(out, 0)
		}
		return resp.AppendOK(out)
	}
	if dsh.get(dst, sess.now) != nil {
		if nx {
			return resp.AppendInt(out, 0)
		}
		dsh.remove(dst)
	}
	at := o.expireAt
	ssh.remove(src)
	o.expireAt = 0
	dsh.add(dst, o)
	dsh.setExpiry(dst, o, at)
	sess.signal(dst)
	if nx {
		return resp.AppendInt(out, 1)
	}
	return resp.AppendOK(out)
}

// cmdCopy is COPY src dst [DB 0] [REPLACE].
func cmdCopy(sess *Session, out []byte, args [][]byte) []byte {
	replace := false
	for i := 3; i < len(args); i++ {
		switch {
		case equalFold(args[i], "replace"):
			replace = true
		case equalFold(args[i], "db") && i+1 < len(args):
			i++
			n, ok := resp.ParseInt(args[i])
			if !ok {
				return appendErr(out, errNotInteger)
			}
			if n != 0 {
				return appendErr(out, "ERR DB index is out of range")
			}
		default:
			return appendErr(out, errSyntax)
		}
	}
	st := sess.store
	locked := sess.lockKeys(args[1:3], 1)
	defer sess.unlockKeys(locked)
	src, dst := args[1], args[2]
	if string(src) == string(dst) {
		return appendErr(out, "ERR source and destination objects are the same")
	}
	ssh, dsh := st.shardOf(src), st.shardOf(dst)
	o := ssh.get(src, sess.now)
	if o == nil {
		return resp.AppendInt(out, 0)
	}
	if dsh.get(dst, sess.now) != nil {
		if !replace {
			return resp.AppendInt(out, 0)
		}
		dsh.remove(dst)
	}
	c := o.clone()
	at := c.expireAt
	c.expireAt = 0
	dsh.add(dst, c)
	dsh.setExpiry(dst, c, at)
	sess.signal(dst)
	return resp.AppendInt(out, 1)
}

// cmdRandomKey picks a shard at random, then a key in it (Go's map order
// starts at random), skipping empty shards and expired keys.
func cmdRandomKey(sess *Session, out []byte, args [][]byte) []byte {
	first := rand.IntN(shardCount)
	for k := range shardCount {
		sh := sess.lockIdx((first + k) % shardCount)
		for key, o := range sh.keys {
			if o.expireAt != 0 && o.expireAt <= sess.now {
				continue
			}
			sess.unlockShard(sh)
			return resp.AppendBulk(out, key)
		}
		sess.unlockShard(sh)
	}
	return resp.AppendNull(out)
}

// cmdExpireTime is EXPIRETIME and PEXPIRETIME: the Unix time a key
// expires at, -1 with no expiry, -2 with no key.
func cmdExpireTime(sess *Session, out []byte, args [][]byte) []byte {
	sh := sess.lockShard(args[1])
	defer sess.unlockShard(sh)
	o := sh.get(args[1], sess.now)
	switch {
	case o == nil:
		return resp.AppendInt(out, -2)
	case o.expireAt == 0:
		return resp.AppendInt(out, -1)
	case equalFold(args[0], "expiretime"):
		return resp.AppendInt(out, (o.expireAt+500)/1000)
	}
	return resp.AppendInt(out, o.expireAt)
}

// cmdObject is OBJECT ENCODING key, OBJECT REFCOUNT key (1) and OBJECT
// IDLETIME key (0): kv-server has one encoding per kind, named after the
// Redis encoding for larger values (hashtable, skiplist, quicklist, raw
// or int).
func cmdObject(sess *Session, out []byte, args [][]byte) []byte {
	sub := args[1]
	if equalFold(sub, "help") {
		return appendHelp(out, "OBJECT", "ENCODING <key>", "REFCOUNT <key>", "IDLETIME <key>")
	}
	if len(args) != 3 || !equalFold(sub, "encoding") && !equalFold(sub, "refcount") && !equalFold(sub, "idletime") {
		if equalFold(sub, "encoding") || equalFold(sub, "refcount") || equalFold(sub, "idletime") || equalFold(sub, "freq") {
			if equalFold(sub, "freq") && len(args) == 3 {
				return appendErr(out, "ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.")
			}
			return appendErr(out, "ERR wrong number of arguments for 'object|"+string(appendPrintable(nil, sub, 32))+"' command")
		}
		return unknownSubcommand(out, sub, "OBJECT")
	}
	sh := sess.lockShard(args[2])
	defer sess.unlockShard(sh)
	o := sh.get(args[2], sess.now)
	if o == nil {
		return resp.AppendNull(out)
	}
	switch {
	case equalFold(sub, "refcount"):
		return resp.AppendInt(out, 1)
	case equalFold(sub, "idletime"):
		return resp.AppendInt(out, 0)
	}
	enc := [...]string{"raw", "quicklist", "hashtable", "hashtable", "skiplist"}[o.kind]
	if _, ok := resp.ParseInt(o.str); o.kind == KindString && ok && len(o.str) <= 20 {
		enc = "int"
	}
	return resp.AppendBulk(out, enc)
}

// cmdMemory is MEMORY USAGE key [SAMPLES n]: an estimate, in bytes, of
// what the key costs: its name and value bytes plus Go's per-object,
// per-element and per-map-entry overheads (a string header, a slice
// header, a map slot), not a measurement.
func cmdMemory(sess *Session, out []byte, args [][]byte) []byte {
	if !equalFold(args[1], "usage") {
		if equalFold(args[1], "help") {
			return appendHelp(out, "MEMORY", "USAGE <key> [SAMPLES <count>]")
		}
		return unknownSubcommand(out, args[1], "MEMORY")
	}
	if len(args) < 3 {
		return appendErr(out, "ERR wrong number of arguments for 'memory|usage' command")
	}
	if len(args) != 3 && !(len(args) == 5 && equalFold(args[3], "samples")) {
		return appendErr(out, errSyntax)
	}
	sh := sess.lockShard(args[2])
	defer sess.unlockShard(sh)
	o := sh.get(args[2], sess.now)
	if o == nil {
		return resp.AppendNull(out)
	}
	const object, entry, str = 96, 48, 16
	n := object + len(args[2]) + cap(o.str)
	switch o.kind {
	case KindList:
		n += len(o.list.items) * 24
		for i := range o.list.len() {
			n += len(o.list.at(i))
		}
	case KindSet:
		for m := range o.set {
			n += entry + len(m)
		}
	case KindHash:
		for f, v := range o.hash {
			n += entry + str + len(f) + cap(v)
		}
	case KindZSet:
		for m := range o.zset.score {
			n += 2*entry + len(m)
		}
	}
	return resp.AppendInt(out, int64(n))
}
