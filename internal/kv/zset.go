package kv

import (
	"bytes"
	"cmp"
	"slices"

	"github.com/iomux/iomux/internal/resp"
)

// zset is a sorted set: members by score, then by member bytes, as Redis
// orders them. A map gives each member's score; a sorted slice gives the
// order (insertion is O(n) memmove, fine for the sizes a cache holds; a
// skip list would be the next step).
type zset struct {
	score  map[string]float64
	sorted []zmember
}

type zmember struct {
	score  float64
	member string
}

func zcmp(a, b zmember) int {
	if c := cmp.Compare(a.score, b.score); c != 0 {
		return c
	}
	return bytes.Compare([]byte(a.member), []byte(b.member))
}

func newZset() *zset { return &zset{score: make(map[string]float64)} }

func (z *zset) len() int { return len(z.sorted) }

// add sets member's score; it reports whether member is new.
func (z *zset) add(member []byte, score float64) bool {
	old, had := z.score[string(member)]
	if had {
		if old == score {
			return false
		}
		z.removeSorted(zmember{old, string(member)})
	}
	m := zmember{score, string(member)}
	z.score[m.member] = score
	i, _ := slices.BinarySearchFunc(z.sorted, m, zcmp)
	z.sorted = slices.Insert(z.sorted, i, m)
	return !had
}

func (z *zset) removeSorted(m zmember) {
	if i, ok := slices.BinarySearchFunc(z.sorted, m, zcmp); ok {
		z.sorted = slices.Delete(z.sorted, i, i+1)
	}
}

// remove deletes member; it reports whether it was there.
func (z *zset) remove(member []byte) bool {
	s, ok := z.score[string(member)]
	if !ok {
		return false
	}
	z.removeSorted(zmember{s, string(member)})
	delete(z.score, string(member))
	return true
}

// popMax removes and returns the n highest members, highest first.
func (z *zset) popMax(n int) []zmember {
	n = min(n, len(z.sorted))
	out := slices.Clone(z.sorted[len(z.sorted)-n:])
	slices.Reverse(out)
	z.sorted = z.sorted[:len(z.sorted)-n]
	for _, m := range out {
		delete(z.score, m.member)
	}
	return out
}

// popMin removes and returns the n lowest members.
func (z *zset) popMin(n int) []zmember {
	n = min(n, len(z.sorted))
	out := slices.Clone(z.sorted[:n])
	z.sorted = slices.Delete(z.sorted, 0, n)
	for _, m := range out {
		delete(z.score, m.member)
	}
	return out
}

// The sorted-set commands: ZADD, ZPOPMIN, ZPOPMAX, ZRANGE (by index),
// ZCARD, ZSCORE, ZREM.

func init() {
	register(
		&command{name: "zadd", arity: -4, run: cmdZAdd, flags: "write fast", first: 1, last: 1, step: 1},
		&command{name: "zincrby", arity: 4, run: cmdZAdd, flags: "write fast", first: 1, last: 1, step: 1},
		&command{name: "zpopmin", arity: -2, run: cmdZPop, flags: "write fast", first: 1, last: 1, step: 1},
		&command{name: "zpopmax", arity: -2, run: cmdZPop, flags: "write fast", first: 1, last: 1, step: 1},
		&command{name: "zcard", arity: 2, run: cmdZCard, flags: "readonly fast", first: 1, last: 1, step: 1},
		&command{name: "zscore", arity: 3, run: cmdZScore, flags: "readonly fast", first: 1, last: 1, step: 1},
		&command{name: "zrem", arity: -3, run: cmdZRem, flags: "write fast", first: 1, last: 1, step: 1},
	)
}

// cmdZAdd is ZADD key [NX|XX] [GT|LT] [CH] [INCR] score member
// [score member ...], and ZINCRBY key increment member (ZADD INCR).
func cmdZAdd(sess *Session, out []byte, args [][]byte) []byte {
	var nx, xx, gt, lt, ch, incr bool
	i := 2
	if equalFold(args[0], "zincrby") {
		if len(args) != 4 {
			return appendArity(out, "zincrby")
		}
		incr = true
	}
flags:
	for ; i < len(args) && !incr; i++ {
		switch a := args[i]; {
		case equalFold(a, "nx"):
			nx = true
		case equalFold(a, "xx"):
			xx = true
		case equalFold(a, "gt"):
			gt = true
		case equalFold(a, "lt"):
			lt = true
		case equalFold(a, "ch"):
			ch = true
		case equalFold(a, "incr"):
			incr = true
			i++
			break flags
		default:
			break flags
		}
	}
	rest := args[i:]
	switch {
	case len(rest) == 0 || len(rest)%2 != 0:
		return appendErr(out, errSyntax)
	case nx && xx:
		return appendErr(out, "ERR XX and NX options at the same time are not compatible")
	case gt && nx, lt && nx, gt && lt:
		return appendErr(out, "ERR GT, LT, and/or NX options at the same time are not compatible")
	case incr && len(rest) > 2:
		return appendErr(out, "ERR INCR option supports a single increment-element pair")
	}
	for j := 0; j < len(rest); j += 2 {
		if _, ok := parseFloat(rest[j]); !ok {
			return appendErr(out, errNotFloat)
		}
	}
	var o *object
	var sh *shard
	var reply []byte
	none := appendZero
	if incr {
		none = resp.AppendNull
	}
	if xx { // only members of an existing sorted set
		o, sh, reply = sess.existing(args[1], KindZSet, out, none)
	} else {
		o, sh, reply = sess.existingOrNew(args[1], KindZSet, out)
	}
	defer sess.unlockShard(sh)
	if o == nil {
		return reply
	}
	defer func() {
		if o.zset.len() == 0 {
			sh.remove(args[1])
		}
	}()
	added, changed := 0, 0
	for j := 0; j < len(rest); j += 2 {
		score, _ := parseFloat(rest[j])
		member := rest[j+1]
		old, had := o.zset.score[string(member)]
		if had && nx || !had && xx {
			if incr {
				return resp.AppendNull(out)
			}
			continue
		}
		if incr && had {
			score += old
			if score != score {
				return appendErr(out, "ERR resulting score is not a number (NaN)")
			}
		}
		if had && (gt && score <= old || lt && score >= old) {
			if incr {
				return resp.AppendNull(out)
			}
			continue
		}
		o.zset.add(member, score)
		switch {
		case !had:
			added++
		case old != score:
			changed++
		}
		if incr {
			return appendFloat(out, score)
		}
	}
	if ch {
		return resp.AppendInt(out, int64(added+changed))
	}
	return resp.AppendInt(out, int64(added))
}

// cmdZPop is ZPOPMIN and ZPOPMAX key [count]: member, score pairs.
func cmdZPop(sess *Session, out []byte, args [][]byte) []byte {
	n, _, reply := popCount(out, args)
	if reply != nil {
		return reply
	}
	o, sh, reply := sess.existing(args[1], KindZSet, out, appendEmpty)
	defer sess.unlockShard(sh)
	if o == nil {
		return reply
	}
	var popped []zmember
	if equalFold(args[0], "zpopmax") {
		popped = o.zset.popMax(n)
	} else {
		popped = o.zset.popMin(n)
	}
	out = resp.AppendArray(out, 2*len(popped))
	for _, m := range popped {
		out = resp.AppendBulk(out, m.member)
		out = appendFloat(out, m.score)
	}
	if o.zset.len() == 0 {
		sh.remove(args[1])
	}
	return out
}

func cmdZCard(sess *Session, out []byte, args [][]byte) []byte {
	o, sh, reply := sess.existing(args[1], KindZSet, out, appendZero)
	defer sess.unlockShard(sh)
	if o == nil {
		return reply
	}
	return resp.AppendInt(out, int64(o.zset.len()))
}

func cmdZScore(sess *Session, out []byte, args [][]byte) []byte {
	o, sh, reply := sess.existing(args[1], KindZSet, out, resp.AppendNull)
	defer sess.unlockShard(sh)
	if o == nil {
		return reply
	}
	s, ok := o.zset.score[string(args[2])]
	if !ok {
		return resp.AppendNull(out)
	}
	return appendFloat(out, s)
}

func cmdZRem(sess *Session, out []byte, args [][]byte) []byte {
	o, sh, reply := sess.existing(args[1], KindZSet, out, appendZero)
	defer sess.unlockShard(sh)
	if o == nil {
		return reply
	}
	n := 0
	for _, m := range args[2:] {
		if o.zset.remove(m) {
			n++
		}
	}
	if o.zset.len() == 0 {
		sh.remove(args[1])
	}
	return resp.AppendInt(out, int64(n))
}
