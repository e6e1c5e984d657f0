package kv

import (
	"bytes"
	"math"

	"github.com/iomux/iomux/internal/resp"
)

// The list commands that reach inside a list or span two: LSET, LINSERT,
// LREM, LTRIM, LPOS, LMOVE, RPOPLPUSH, LMPOP. Those that change the middle
// rebuild the ring as a slice: O(n), as they are in Redis.

func init() {
	register(
		&command{name: "lset", arity: 4, run: cmdLSet, flags: "write", first: 1, last: 1, step: 1},
		&command{name: "linsert", arity: 5, run: cmdLInsert, flags: "write", first: 1, last: 1, step: 1},
		&command{name: "lrem", arity: 4, run: cmdLRem, flags: "write", first: 1, last: 1, step: 1},
		&command{name: "ltrim", arity: 4, run: cmdLTrim, flags: "write", first: 1, last: 1, step: 1},
		&command{name: "lpos", arity: -3, run: cmdLPos, flags: "readonly", first: 1, last: 1, step: 1},
		&command{name: "lmove", arity: 5, run: cmdLMove, flags: "write", first: 1, last: 2, step: 1},
		&command{name: "rpoplpush", arity: 3, run: cmdLMove, flags: "write", first: 1, last: 2, step: 1},
		&command{name: "lmpop", arity: -4, run: cmdLMPop, flags: "write"},
	)
}

// slice returns the elements in order (a copy of the ring's references).
func (l *list) slice() [][]byte {
	s := make([][]byte, l.n)
	for i := range s {
		s[i] = l.at(i)
	}
	return s
}

// setSlice makes s the list's elements.
func (l *list) setSlice(s [][]byte) { l.items, l.head, l.n = s, 0, len(s) }

func (l *list) set(i int, v []byte) { l.items[(l.head+i)%len(l.items)] = v }

func cmdLSet(sess *Session, out []byte, args [][]byte) []byte {
	i, ok := resp.ParseInt(args[2])
	if !ok {
		return appendErr(out, errNotInteger)
	}
	o, sh, reply := sess.existing(args[1], KindList, out, func(b []byte) []byte { return appendErr(b, "ERR no such key") })
	defer sess.unlockShard(sh)
	if o == nil {
		return reply
	}
	if i < 0 {
		i += int64(o.list.len())
	}
	if i < 0 || i >= int64(o.list.len()) {
		return appendErr(out, "ERR index out of range")
	}
	o.list.set(int(i), append([]byte(nil), args[3]...))
	return resp.AppendOK(out)
}

// cmdLInsert is LINSERT key BEFORE|AFTER pivot element.
func cmdLInsert(sess *Session, out []byte, args [][]byte) []byte {
	after := equalFold(args[2], "after")
	if !after && !equalFold(args[2], "before") {
		return appendErr(out, errSyntax)
	}
	o, sh, reply := sess.existing(args[1], KindList, out, appendZero)
	defer sess.unlockShard(sh)
	if o == nil {
		return reply
	}
	s := o.list.slice()
	for i, v := range s {
		if bytes.Equal(v, args[3]) {
			if after {
				i++
			}
			s = append(s[:i], append([][]byte{append([]byte(nil), args[4]...)}, s[i:]...)...)
			o.list.setSlice(s)
			return resp.AppendInt(out, int64(len(s)))
		}
	}
	return resp.AppendInt(out, -1)
}

// cmdLRem is LREM key count element: count > 0 from the head, < 0 from
// the tail, 0 every one.
func cmdLRem(sess *Session, out []byte, args [][]byte) []byte {
	count, ok := resp.ParseInt(args[2])
	if !ok {
		return appendErr(out, errNotInteger)
	}
	o, sh, reply := sess.existing(args[1], KindList, out, appendZero)
	defer sess.unlockShard(sh)
	if o == nil {
		return reply
	}
	s := o.list.slice()
	keep := make([]bool, len(s))
	removed := int64(0)
	limit := count
	if limit < 0 {
		limit = -limit
	}
	for k := range s {
		i := k
		if count < 0 {
			i = len(s) - 1 - k
		}
		keep[i] = true
		if (limit == 0 || removed < limit) && bytes.Equal(s[i], args[3]) {
			keep[i] = false
			removed++
		}
	}
	kept := s[:0]
	for i, v := range s {
		if keep[i] {
			kept = append(kept, v)
		}
	}
	o.list.setSlice(kept)
	if len(kept) == 0 {
		sh.remove(args[1])
	}
	return resp.AppendInt(out, removed)
}

func cmdLTrim(sess *Session, out []byte, args [][]byte) []byte {
	start, ok1 := resp.ParseInt(args[2])
	stop, ok2 := resp.ParseInt(args[3])
	if !ok1 || !ok2 {
		return appendErr(out, errNotInteger)
	}
	o, sh, reply := sess.existing(args[1], KindList, out, resp.AppendOK)
	defer sess.unlockShard(sh)
	if o == nil {
		return reply
	}
	from, to := listRange(start, stop, o.list.len())
	o.list.setSlice(o.list.slice()[from:to])
	if from == to {
		sh.remove(args[1])
	}
	return resp.AppendOK(out)
}

// cmdLPos is LPOS key element [RANK rank] [COUNT n] [MAXLEN len].
func cmdLPos(sess *Session, out []byte, args [][]byte) []byte {
	rank, count, maxLen := int64(1), int64(-1), int64(0)
	for i := 3; i < len(args); i += 2 {
		if i+1 >= len(args) {
			return appendErr(out, errSyntax)
		}
		n, ok := resp.ParseInt(args[i+1])
		if !ok {
			return appendErr(out, errNotInteger)
		}
		switch {
		case equalFold(args[i], "rank"):
			if n == math.MinInt64 {
				return appendErr(out, "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807")
			}
			if n == 0 {
				return appendErr(out, "ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list")
			}
			rank = n
		case equalFold(args[i], "count"):
			if n < 0 {
				return appendErr(out, "ERR COUNT can't be negative")
			}
			count = n
		case equalFold(args[i], "maxlen"):
			if n < 0 {
				return appendErr(out, "ERR MAXLEN can't be negative")
			}
			maxLen = n
		default:
			return appendErr(out, errSyntax)
		}
	}
	none := resp.AppendNull
	if count >= 0 {
		none = appendEmpty
	}
	o, sh, reply := sess.existing(args[1], KindList, out, none)
	defer sess.unlockShard(sh)
	if o == nil {
		return reply
	}
	l := o.list
	var found []int64
	skip := rank - 1
	if rank < 0 {
		skip = -rank - 1
	}
	for k := 0; k < l.len() && (maxLen == 0 || int64(k) < maxLen); k++ {
		i := k
		if rank < 0 {
			i = l.len() - 1 - k
		}
		if !bytes.Equal(l.at(i), args[2]) {
			continue
		}
		if skip > 0 {
			skip--
			continue
		}
		found = append(found, int64(i))
		if count < 0 || count > 0 && int64(len(found)) == count {
			break
		}
	}
	if count < 0 {
		if len(found) == 0 {
			return resp.AppendNull(out)
		}
		return resp.AppendInt(out, found[0])
	}
	out = resp.AppendArray(out, len(found))
	for _, i := range found {
		out = resp.AppendInt(out, i)
	}
	return out
}

// end parses LEFT or RIGHT: front true for LEFT.
func end(b []byte) (front, ok bool) {
	switch {
	case equalFold(b, "left"):
		return true, true
	case equalFold(b, "right"):
		return false, true
	}
	return false, false
}

// cmdLMove is LMOVE src dst LEFT|RIGHT LEFT|RIGHT and RPOPLPUSH src dst.
func cmdLMove(sess *Session, out []byte, args [][]byte) []byte {
	fromFront, toFront := false, true
	if len(args) == 5 {
		var ok1, ok2 bool
		fromFront, ok1 = end(args[3])
		toFront, ok2 = end(args[4])
		if !ok1 || !ok2 {
			return appendErr(out, errSyntax)
		}
	}
	locked := sess.lockKeys(args[1:3], 1)
	defer sess.unlockKeys(locked)
	v, reply := sess.move(out, args[1], args[2], fromFront, toFront)
	if reply != nil {
		return reply
	}
	if v == nil {
		return resp.AppendNull(out)
	}
	return resp.AppendBulk(out, v)
}

// move pops an element of src and pushes it onto dst (both shards
// locked): nil if src is absent; reply is WRONGTYPE if either is not a list.
func (sess *Session) move(out, src, dst []byte, fromFront, toFront bool) (v, reply []byte) {
	st := sess.store
	ssh, dsh := st.shardOf(src), st.shardOf(dst)
	so := ssh.get(src, sess.now)
	if so == nil {
		return nil, nil
	}
	do := dsh.get(dst, sess.now)
	if so.kind != KindList || do != nil && do.kind != KindList {
		return nil, appendErr(out, errWrongType)
	}
	if fromFront {
		v = so.list.popFront()
	} else {
		v = so.list.popBack()
	}
	if so.list.len() == 0 {
		ssh.remove(src)
	}
	if do == nil || so.list.len() == 0 && string(src) == string(dst) {
		do = dsh.add(dst, newObject(KindList))
	}
	if toFront {
		do.list.pushFront(v)
	} else {
		do.list.pushBack(v)
	}
	sess.signal(dst)
	return v, nil
}

// cmdLMPop is LMPOP numkeys key... LEFT|RIGHT [COUNT n].
func cmdLMPop(sess *Session, out []byte, args [][]byte) []byte {
	keys, which, count, msg := mpopArgs(args, 1, [2]string{"left", "right"})
	if msg != "" {
		return appendErr(out, msg)
	}
	for _, k := range keys {
		o, sh, reply := sess.ofKind(k, KindList, out)
		if reply != nil {
			sess.unlockShard(sh)
			return reply
		}
		if o == nil {
			sess.unlockShard(sh)
			continue
		}
		out = appendLPopped(out, sh, k, o, which == 0, int(min(count, 1<<31)))
		sess.unlockShard(sh)
		return out
	}
	return resp.AppendNullArray(out)
}

// appendLPopped pops n elements of o (key, its shard sh locked) and
// appends LMPOP's reply: [key, [element...]].
func appendLPopped(out []byte, sh *shard, key []byte, o *object, front bool, n int) []byte {
	n = min(n, o.list.len())
	out = resp.AppendArray(out, 2)
	out = resp.AppendBulk(out, key)
	out = resp.AppendArray(out, n)
	for range n {
		if front {
			out = resp.AppendBulk(out, o.list.popFront())
		} else {
			out = resp.AppendBulk(out, o.list.popBack())
		}
	}
	if o.list.len() == 0 {
		sh.remove(key)
	}
	return out
}
