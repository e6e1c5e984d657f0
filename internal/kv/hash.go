package kv

import "github.com/iomux/iomux/internal/resp"

// The hash commands: HSET, HMSET, HSETNX, HGET, HMGET, HDEL, HGETALL,
// HLEN, HEXISTS, HKEYS, HVALS.

func init() {
	register(
		&command{name: "hset", arity: -4, run: cmdHSet, flags: "write fast", first: 1, last: 1, step: 1},
		&command{name: "hmset", arity: -4, run: cmdHSet, flags: "write fast", first: 1, last: 1, step: 1},
		&command{name: "hsetnx", arity: 4, run: cmdHSetNX, flags: "write fast", first: 1, last: 1, step: 1},
		&command{name: "hget", arity: 3, run: cmdHGet, flags: "readonly fast", first: 1, last: 1, step: 1},
		&command{name: "hmget", arity: -3, run: cmdHMGet, flags: "readonly fast", first: 1, last: 1, step: 1},
		&command{name: "hdel", arity: -3, run: cmdHDel, flags: "write fast", first: 1, last: 1, step: 1},
		&command{name: "hgetall", arity: 2, run: cmdHGetAll, flags: "readonly", first: 1, last: 1, step: 1},
		&command{name: "hkeys", arity: 2, run: cmdHGetAll, flags: "readonly", first: 1, last: 1, step: 1},
		&command{name: "hvals", arity: 2, run: cmdHGetAll, flags: "readonly", first: 1, last: 1, step: 1},
		&command{name: "hlen", arity: 2, run: cmdHLen, flags: "readonly fast", first: 1, last: 1, step: 1},
		&command{name: "hexists", arity: 3, run: cmdHExists, flags: "readonly fast", first: 1, last: 1, step: 1},
	)
}

// cmdHSet is HSET key field value [field value ...] (the count of new
// fields) and HMSET (OK).
func cmdHSet(sess *Session, out []byte, args [][]byte) []byte {
	if len(args)%2 != 0 {
		return appendArity(out, sess.lookup(args[0]).name)
	}
	o, sh, reply := sess.existingOrNew(args[1], KindHash, out)
	defer sess.unlockShard(sh)
	if o == nil {
		return reply
	}
	added := 0
	for i := 2; i < len(args); i += 2 {
		f, v := args[i], args[i+1]
		if old, ok := o.hash[string(f)]; ok {
			if cap(old) >= len(v) && cap(old) <= 2*len(v)+64 {
				o.hash[string(f)] = append(old[:0], v...)
			} else {
				o.hash[string(f)] = append([]byte(nil), v...)
			}
			continue
		}
		o.hash[string(f)] = append([]byte(nil), v...)
		added++
	}
	if equalFold(args[0], "hmset") {
		return resp.AppendOK(out)
	}
	return resp.AppendInt(out, int64(added))
}

func cmdHSetNX(sess *Session, out []byte, args [][]byte) []byte {
	o, sh, reply := sess.existingOrNew(args[1], KindHash, out)
	defer sess.unlockShard(sh)
	if o == nil {
		return reply
	}
	if _, ok := o.hash[string(args[2])]; ok {
		return resp.AppendInt(out, 0)
	}
	o.hash[string(args[2])] = append([]byte(nil), args[3]...)
	return resp.AppendInt(out, 1)
}

func cmdHGet(sess *Session, out []byte, args [][]byte) []byte {
	o, sh, reply := sess.existing(args[1], KindHash, out, resp.AppendNull)
	defer sess.unlockShard(sh)
	if o == nil {
		return reply
	}
	if v, ok := o.hash[string(args[2])]; ok {
		return resp.AppendBulk(out, v)
	}
	return resp.AppendNull(out)
}

func cmdHMGet(sess *Session, out []byte, args [][]byte) []byte {
	o, sh, reply := sess.ofKind(args[1], KindHash, out) // an absent hash: every field is null
	defer sess.unlockShard(sh)
	if reply != nil {
		return reply
	}
	out = resp.AppendArray(out, len(args)-2)
	for _, f := range args[2:] {
		var v []byte
		ok := false
		if o != nil {
			v, ok = o.hash[string(f)]
		}
		if ok {
			out = resp.AppendBulk(out, v)
		} else {
			out = resp.AppendNull(out)
		}
	}
	return out
}

func cmdHDel(sess *Session, out []byte, args [][]byte) []byte {
	o, sh, reply := sess.existing(args[1], KindHash, out, appendZero)
	defer sess.unlockShard(sh)
	if o == nil {
		return reply
	}
	n := 0
	for _, f := range args[2:] {
		if _, ok := o.hash[string(f)]; ok {
			delete(o.hash, string(f))
			n++
		}
	}
	if len(o.hash) == 0 {
		sh.remove(args[1])
	}
	return resp.AppendInt(out, int64(n))
}

// cmdHGetAll is HGETALL (fields and values), HKEYS and HVALS.
func cmdHGetAll(sess *Session, out []byte, args [][]byte) []byte {
	keys := !equalFold(args[0], "hvals")
	vals := !equalFold(args[0], "hkeys")
	o, sh, reply := sess.existing(args[1], KindHash, out, appendEmpty)
	defer sess.unlockShard(sh)
	if o == nil {
		return reply
	}
	n := len(o.hash)
	if keys && vals {
		n *= 2
	}
	out = resp.AppendArray(out, n)
	for f, v := range o.hash {
		if keys {
			out = resp.AppendBulk(out, f)
		}
		if vals {
			out = resp.AppendBulk(out, v)
		}
	}
	return out
}

func cmdHLen(sess *Session, out []byte, args [][]byte) []byte {
	o, sh, reply := sess.existing(args[1], KindHash, out, appendZero)
	defer sess.unlockShard(sh)
	if o == nil {
		return reply
	}
	return resp.AppendInt(out, int64(len(o.hash)))
}

func cmdHExists(sess *Session, out []byte, args [][]byte) []byte {
	o, sh, reply := sess.existing(args[1], KindHash, out, appendZero)
	defer sess.unlockShard(sh)
	if o == nil {
		return reply
	}
	if _, ok := o.hash[string(args[2])]; ok {
		return resp.AppendInt(out, 1)
	}
	return resp.AppendInt(out, 0)
}
