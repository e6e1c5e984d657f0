package kv

import (
	"math"

	"github.com/iomux/iomux/internal/resp"
)

// list is a Redis list: a ring buffer of values, O(1) at both ends (LPUSH,
// RPUSH, LPOP, RPOP) and O(1) by index (LRANGE, LINDEX).
type list struct {
	items [][]byte
	head  int // index in items of the first element
	n     int
}

func (l *list) len() int { return l.n }

func (l *list) at(i int) []byte { return l.items[(l.head+i)%len(l.items)] }

func (l *list) grow() {
	if l.n < len(l.items) {
		return
	}
	items := make([][]byte, max(8, 2*len(l.items)))
	for i := range l.n {
		items[i] = l.at(i)
	}
	l.items, l.head = items, 0
}

func (l *list) pushFront(v []byte) {
	l.grow()
	l.head = (l.head - 1 + len(l.items)) % len(l.items)
	l.items[l.head] = v
	l.n++
}

func (l *list) pushBack(v []byte) {
	l.grow()
	l.items[(l.head+l.n)%len(l.items)] = v
	l.n++
}

func (l *list) popFront() []byte {
	v := l.items[l.head]
	l.items[l.head] = nil
	l.head = (l.head + 1) % len(l.items)
	l.n--
	l.shrink()
	return v
}

func (l *list) popBack() []byte {
	i := (l.head + l.n - 1) % len(l.items)
	v := l.items[i]
	l.items[i] = nil
	l.n--
	l.shrink()
	return v
}

// shrink gives back a ring a burst grew once it is a quarter full.
func (l *list) shrink() {
	if len(l.items) > 64 && l.n < len(l.items)/4 {
		items := make([][]byte, len(l.items)/2)
		for i := range l.n {
			items[i] = l.at(i)
		}
		l.items, l.head = items, 0
	}
}

// The list commands: LPUSH, RPUSH, LPUSHX, RPUSHX, LPOP, RPOP, LRANGE,
// LLEN, LINDEX.

func init() {
	register(
		&command{name: "lpush", arity: -3, run: cmdPush, flags: "write fast", first: 1, last: 1, step: 1},
		&command{name: "rpush", arity: -3, run: cmdPush, flags: "write fast", first: 1, last: 1, step: 1},
		&command{name: "lpushx", arity: -3, run: cmdPush, flags: "write fast", first: 1, last: 1, step: 1},
		&command{name: "rpushx", arity: -3, run: cmdPush, flags: "write fast", first: 1, last: 1, step: 1},
		&command{name: "lpop", arity: -2, run: cmdPop, flags: "write fast", first: 1, last: 1, step: 1},
		&command{name: "rpop", arity: -2, run: cmdPop, flags: "write fast", first: 1, last: 1, step: 1},
		&command{name: "lrange", arity: 4, run: cmdLRange, flags: "readonly", first: 1, last: 1, step: 1},
		&command{name: "llen", arity: 2, run: cmdLLen, flags: "readonly fast", first: 1, last: 1, step: 1},
		&command{name: "lindex", arity: 3, run: cmdLIndex, flags: "readonly", first: 1, last: 1, step: 1},
	)
}

// cmdPush is LPUSH, RPUSH, LPUSHX and RPUSHX key value...
func cmdPush(sess *Session, out []byte, args [][]byte) []byte {
	front := args[0][0] == 'l' || args[0][0] == 'L'
	onlyIfExists := len(args[0]) == 6
	var o *object
	var sh *shard
	var reply []byte
	if onlyIfExists { // LPUSHX, RPUSHX: onto an existing list only
		o, sh, reply = sess.existing(args[1], KindList, out, appendZero)
	} else {
		o, sh, reply = sess.existingOrNew(args[1], KindList, out)
	}
	defer sess.unlockShard(sh)
	if o == nil {
		return reply
	}
	for _, v := range args[2:] {
		v = append([]byte(nil), v...)
		if front {
			o.list.pushFront(v)
		} else {
			o.list.pushBack(v)
		}
	}
	return resp.AppendInt(out, int64(o.list.len()))
}

// popCount parses the optional count of LPOP, RPOP, SPOP and ZPOPMIN:
// has says whether one was given (the reply is then an array).
func popCount(out []byte, args [][]byte) (n int, has bool, reply []byte) {
	if len(args) < 3 {
		return 1, false, nil
	}
	if len(args) > 3 {
		return 0, true, appendErr(out, errSyntax)
	}
	c, ok := resp.ParseInt(args[2])
	if !ok || c < 0 {
		return 0, true, appendErr(out, errNotPos)
	}
	return int(min(c, math.MaxInt32)), true, nil
}

// cmdPop is LPOP and RPOP key [count]. More arguments are an arity error
// (SPOP and ZPOPMIN call them a syntax error), as in Redis.
func cmdPop(sess *Session, out []byte, args [][]byte) []byte {
	if len(args) > 3 {
		return appendArity(out, sess.lookup(args[0]).name)
	}
	n, has, reply := popCount(out, args)
	if reply != nil {
		return reply
	}
	front := args[0][0] == 'l' || args[0][0] == 'L'
	none := resp.AppendNull
	if has {
		none = resp.AppendNullArray
	}
	o, sh, reply := sess.existing(args[1], KindList, out, none)
	defer sess.unlockShard(sh)
	if o == nil {
		return reply
	}
	if has {
		n = min(n, o.list.len())
		out = resp.AppendArray(out, n)
	}
	for range n {
		var v []byte
		if front {
			v = o.list.popFront()
		} else {
			v = o.list.popBack()
		}
		out = resp.AppendBulk(out, v)
	}
	if o.list.len() == 0 {
		sh.remove(args[1])
	}
	return out
}

// listRange turns Redis's start and stop (negative: from the end) into a
// half-open range of a list of n elements.
func listRange(start, stop int64, n int) (int, int) {
	if start < 0 {
		start += int64(n)
	}
	if stop < 0 {
		stop += int64(n)
	}
	start = max(start, 0)
	stop = min(stop, int64(n)-1)
	if start > stop {
		return 0, 0
	}
	return int(start), int(stop) + 1
}

func cmdLRange(sess *Session, out []byte, args [][]byte) []byte {
	start, ok1 := resp.ParseInt(args[2])
	stop, ok2 := resp.ParseInt(args[3])
	if !ok1 || !ok2 {
		return appendErr(out, errNotInteger)
	}
	o, sh, reply := sess.existing(args[1], KindList, out, appendEmpty)
	defer sess.unlockShard(sh)
	if o == nil {
		return reply
	}
	from, to := listRange(start, stop, o.list.len())
	out = resp.AppendArray(out, to-from)
	for i := from; i < to; i++ {
		out = resp.AppendBulk(out, o.list.at(i))
	}
	return out
}

func cmdLLen(sess *Session, out []byte, args [][]byte) []byte {
	o, sh, reply := sess.existing(args[1], KindList, out, appendZero)
	defer sess.unlockShard(sh)
	if o == nil {
		return reply
	}
	return resp.AppendInt(out, int64(o.list.len()))
}

func cmdLIndex(sess *Session, out []byte, args [][]byte) []byte {
	i, ok := resp.ParseInt(args[2])
	if !ok {
		return appendErr(out, errNotInteger)
	}
	o, sh, reply := sess.existing(args[1], KindList, out, resp.AppendNull)
	defer sess.unlockShard(sh)
	if o == nil {
		return reply
	}
	if i < 0 {
		i += int64(o.list.len())
	}
	if i < 0 || i >= int64(o.list.len()) {
		return resp.AppendNull(out)
	}
	return resp.AppendBulk(out, o.list.at(int(i)))
}
