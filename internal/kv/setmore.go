package kv

import (
	"math/rand/v2"
	"strings"

	"github.com/iomux/iomux/internal/resp"
)

// The set commands over several keys or members: SINTER, SUNION, SDIFF and
// their STORE forms, SINTERCARD, SMOVE, SMISMEMBER, SRANDMEMBER, SSCAN.

func init() {
	register(
		&command{name: "sinter", arity: -2, run: cmdSetOp, flags: "readonly", first: 1, last: -1, step: 1},
		&command{name: "sunion", arity: -2, run: cmdSetOp, flags: "readonly", first: 1, last: -1, step: 1},
		&command{name: "sdiff", arity: -2, run: cmdSetOp, flags: "readonly", first: 1, last: -1, step: 1},
		&command{name: "sinterstore", arity: -3, run: cmdSetOp, flags: "write", first: 1, last: -1, step: 1},
		&command{name: "sunionstore", arity: -3, run: cmdSetOp, flags: "write", first: 1, last: -1, step: 1},
		&command{name: "sdiffstore", arity: -3, run: cmdSetOp, flags: "write", first: 1, last: -1, step: 1},
		&command{name: "sintercard", arity: -3, run: cmdSInterCard, flags: "readonly"},
		&command{name: "smove", arity: 4, run: cmdSMove, flags: "write fast", first: 1, last: 2, step: 1},
		&command{name: "smismember", arity: -3, run: cmdSMIsMember, flags: "readonly fast", first: 1, last: 1, step: 1},
		&command{name: "srandmember", arity: -2, run: cmdSRandMember, flags: "readonly", first: 1, last: 1, step: 1},
		&command{name: "sscan", arity: -3, run: cmdSScan, flags: "readonly", first: 1, last: 1, step: 1},
	)
}

// setSources reads keys (their shards locked) as sets: nil for an absent
// key; ok false if one holds another kind.
func (sess *Session) setSources(keys [][]byte) (sets []map[string]struct{}, ok bool) {
	sets = make([]map[string]struct{}, len(keys))
	for i, k := range keys {
		o := sess.store.shardOf(k).get(k, sess.now)
		if o == nil {
			continue
		}
		if o.kind != KindSet {
			return nil, false
		}
		sets[i] = o.set
	}
	return sets, true
}

// setOp computes op ("sinter", "sunion", "sdiff") of sets; limit > 0 stops
// an intersection at that many members.
func setOp(op string, sets []map[string]struct{}, limit int) map[string]struct{} {
	result := make(map[string]struct{})
	switch op {
	case "sunion":
		for _, s := range sets {
			for m := range s {
				result[m] = struct{}{}
			}
		}
	case "sinter":
		// from the smallest set, as Redis does
		small := 0
		for i, s := range sets {
			if len(s) < len(sets[small]) {
				small = i
			}
		}
	members:
		for m := range sets[small] {
			for _, s := range sets {
				if _, ok := s[m]; !ok {
					continue members
				}
			}
			result[m] = struct{}{}
			if limit > 0 && len(result) == limit {
				break
			}
		}
	default:
	diff:
		for m := range sets[0] {
			for _, s := range sets[1:] {
				if _, ok := s[m]; ok {
					continue diff
				}
			}
			result[m] = struct{}{}
		}
	}
	return result
}

// cmdSetOp is SINTER, SUNION, SDIFF key... and the STORE forms dst key...
func cmdSetOp(sess *Session, out []byte, args [][]byte) []byte {
	name := sess.lookup(args[0]).name
	op := strings.TrimSuffix(name, "store")
	store := op != name
	keys := args[1:]
	if store {
		keys = args[2:]
	}
	st := sess.store
	locked := sess.lockKeys(args[1:], 1)
	defer sess.unlockKeys(locked)
	sets, ok := sess.setSources(keys)
	if !ok {
		return appendErr(out, errWrongType)
	}
	result := setOp(op, sets, 0)
	if !store {
		out = resp.AppendArray(out, len(result))
		for m := range result {
			out = resp.AppendBulk(out, m)
		}
		return out
	}
	sh := st.shardOf(args[1])
	sh.get(args[1], sess.now)
	sh.remove(args[1])
	if len(result) > 0 {
		sh.add(args[1], &object{kind: KindSet, set: result})
	}
	return resp.AppendInt(out, int64(len(result)))
}

func cmdSInterCard(sess *Session, out []byte, args [][]byte) []byte {
	keys, limit, msg := interCardArgs(args, false)
	if msg != "" {
		return appendErr(out, msg)
	}
	locked := sess.lockKeys(keys, 1)
	defer sess.unlockKeys(locked)
	sets, ok := sess.setSources(keys)
	if !ok {
		return appendErr(out, errWrongType)
	}
	return resp.AppendInt(out, int64(len(setOp("sinter", sets, int(min(limit, 1<<31))))))
}

// cmdSMove is SMOVE src dst member.
func cmdSMove(sess *Session, out []byte, args [][]byte) []byte {
	st := sess.store
	locked := sess.lockKeys(args[1:3], 1)
	defer sess.unlockKeys(locked)
	src, dst, m := args[1], args[2], args[3]
	ssh, dsh := st.shardOf(src), st.shardOf(dst)
	so, do := ssh.get(src, sess.now), dsh.get(dst, sess.now)
	if so != nil && so.kind != KindSet || do != nil && do.kind != KindSet {
		return appendErr(out, errWrongType)
	}
	if so == nil {
		return resp.AppendInt(out, 0)
	}
	if _, ok := so.set[string(m)]; !ok {
		return resp.AppendInt(out, 0)
	}
	if string(src) == string(dst) {
		return resp.AppendInt(out, 1)
	}
	delete(so.set, string(m))
	if len(so.set) == 0 {
		ssh.remove(src)
	}
	if do == nil {
		do = dsh.add(dst, newObject(KindSet))
	}
	do.set[string(m)] = struct{}{}
	return resp.AppendInt(out, 1)
}

func cmdSMIsMember(sess *Session, out []byte, args [][]byte) []byte {
	o, sh, reply := sess.ofKind(args[1], KindSet, out)
	defer sess.unlockShard(sh)
	if reply != nil {
		return reply
	}
	out = resp.AppendArray(out, len(args)-2)
	for _, m := range args[2:] {
		_, ok := o.setOrNil()[string(m)]
		if ok {
			out = resp.AppendInt(out, 1)
		} else {
			out = resp.AppendInt(out, 0)
		}
	}
	return out
}

func (o *object) setOrNil() map[string]struct{} {
	if o == nil {
		return nil
	}
	return o.set
}

// cmdSRandMember is SRANDMEMBER key [count].
func cmdSRandMember(sess *Session, out []byte, args [][]byte) []byte {
	if len(args) == 2 {
		o, sh, reply := sess.existing(args[1], KindSet, out, resp.AppendNull)
		defer sess.unlockShard(sh)
		if o == nil {
			return reply
		}
		skip := rand.IntN(len(o.set))
		for m := range o.set {
			if skip == 0 {
				return resp.AppendBulk(out, m)
			}
			skip--
		}
	}
	count, _, reply := randomCount(out, args, "")
	if reply != nil {
		return reply
	}
	o, sh, reply := sess.existing(args[1], KindSet, out, appendEmpty)
	defer sess.unlockShard(sh)
	if o == nil {
		return reply
	}
	members := make([]string, 0, len(o.set))
	for m := range o.set {
		members = append(members, m)
	}
	idx := pickRandom(len(members), count)
	out = resp.AppendArray(out, len(idx))
	for _, i := range idx {
		out = resp.AppendBulk(out, members[i])
	}
	return out
}

func cmdSScan(sess *Session, out []byte, args [][]byte) []byte {
	pattern, reply := scanArgs(out, args)
	if reply != nil {
		return reply
	}
	o, sh, reply := sess.existing(args[1], KindSet, out, appendEmptyScan)
	defer sess.unlockShard(sh)
	if o == nil {
		return reply
	}
	var ms []string
	for m := range o.set {
		if pattern == nil || Match(pattern, []byte(m)) {
			ms = append(ms, m)
		}
	}
	out = append(resp.AppendArray(out, 2), "$1\r\n0\r\n"...)
	out = resp.AppendArray(out, len(ms))
	for _, m := range ms {
		out = resp.AppendBulk(out, m)
	}
	return out
}
