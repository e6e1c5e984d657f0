package kv

import "github.com/iomux/iomux/internal/resp"

// The set commands: SADD, SREM, SCARD, SISMEMBER, SMEMBERS, SPOP.

func init() {
	register(
		&command{name: "sadd", arity: -3, run: cmdSAdd, flags: "write fast", first: 1, last: 1, step: 1},
		&command{name: "srem", arity: -3, run: cmdSRem, flags: "write fast", first: 1, last: 1, step: 1},
		&command{name: "scard", arity: 2, run: cmdSCard, flags: "readonly fast", first: 1, last: 1, step: 1},
		&command{name: "sismember", arity: 3, run: cmdSIsMember, flags: "readonly fast", first: 1, last: 1, step: 1},
		&command{name: "smembers", arity: 2, run: cmdSMembers, flags: "readonly", first: 1, last: 1, step: 1},
		&command{name: "spop", arity: -2, run: cmdSPop, flags: "write fast", first: 1, last: 1, step: 1},
	)
}

func cmdSAdd(sess *Session, out []byte, args [][]byte) []byte {
	o, sh, reply := sess.existingOrNew(args[1], KindSet, out)
	defer sess.unlockShard(sh)
	if o == nil {
		return reply
	}
	added := 0
	for _, m := range args[2:] {
		if _, ok := o.set[string(m)]; !ok {
			o.set[string(m)] = struct{}{}
			added++
		}
	}
	return resp.AppendInt(out, int64(added))
}

func cmdSRem(sess *Session, out []byte, args [][]byte) []byte {
	o, sh, reply := sess.existing(args[1], KindSet, out, appendZero)
	defer sess.unlockShard(sh)
	if o == nil {
		return reply
	}
	removed := 0
	for _, m := range args[2:] {
		if _, ok := o.set[string(m)]; ok {
			delete(o.set, string(m))
			removed++
		}
	}
	if len(o.set) == 0 {
		sh.remove(args[1])
	}
	return resp.AppendInt(out, int64(removed))
}

func cmdSCard(sess *Session, out []byte, args [][]byte) []byte {
	o, sh, reply := sess.existing(args[1], KindSet, out, appendZero)
	defer sess.unlockShard(sh)
	if o == nil {
		return reply
	}
	return resp.AppendInt(out, int64(len(o.set)))
}

func cmdSIsMember(sess *Session, out []byte, args [][]byte) []byte {
	o, sh, reply := sess.existing(args[1], KindSet, out, appendZero)
	defer sess.unlockShard(sh)
	if o == nil {
		return reply
	}
	if _, ok := o.set[string(args[2])]; ok {
		return resp.AppendInt(out, 1)
	}
	return resp.AppendInt(out, 0)
}

func cmdSMembers(sess *Session, out []byte, args [][]byte) []byte {
	o, sh, reply := sess.existing(args[1], KindSet, out, appendEmpty)
	defer sess.unlockShard(sh)
	if o == nil {
		return reply
	}
	out = resp.AppendArray(out, len(o.set))
	for m := range o.set {
		out = resp.AppendBulk(out, m)
	}
	return out
}

// cmdSPop is SPOP key [count]: members taken at random (Go's map order
// starts at a random place).
func cmdSPop(sess *Session, out []byte, args [][]byte) []byte {
	n, has, reply := popCount(out, args)
	if reply != nil {
		return reply
	}
	none := resp.AppendNull
	if has {
		none = appendEmpty
	}
	o, sh, reply := sess.existing(args[1], KindSet, out, none)
	defer sess.unlockShard(sh)
	if o == nil {
		return reply
	}
	if has {
		n = min(n, len(o.set))
		out = resp.AppendArray(out, n)
	}
	for m := range o.set {
		if n == 0 {
			break
		}
		out = resp.AppendBulk(out, m)
		delete(o.set, m)
		n--
	}
	if len(o.set) == 0 {
		sh.remove(args[1])
	}
	return out
}
