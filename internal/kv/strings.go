package kv

import (
	"math"
	"strconv"

	"github.com/iomux/iomux/internal/resp"
)

// The string commands: GET, SET and its options, GETDEL, GETSET, MGET,
// MSET, SETNX, SETEX, PSETEX, INCR and kin, APPEND, STRLEN.

func init() {
	register(
		&command{name: "get", arity: 2, run: cmdGet, flags: "readonly fast", first: 1, last: 1, step: 1},
		&command{name: "set", arity: -3, run: cmdSet, flags: "write", first: 1, last: 1, step: 1},
		&command{name: "setnx", arity: 3, run: cmdSetNX, flags: "write fast", first: 1, last: 1, step: 1},
		&command{name: "setex", arity: 4, run: cmdSetEX, flags: "write", first: 1, last: 1, step: 1},
		&command{name: "psetex", arity: 4, run: cmdSetEX, flags: "write", first: 1, last: 1, step: 1},
		&command{name: "getset", arity: 3, run: cmdGetSet, flags: "write fast", first: 1, last: 1, step: 1},
		&command{name: "getdel", arity: 2, run: cmdGetDel, flags: "write fast", first: 1, last: 1, step: 1},
		&command{name: "mget", arity: -2, run: cmdMGet, flags: "readonly fast", first: 1, last: -1, step: 1},
		&command{name: "mset", arity: -3, run: cmdMSet, flags: "write", first: 1, last: -1, step: 2},
		&command{name: "incr", arity: 2, run: cmdIncr, flags: "write fast", first: 1, last: 1, step: 1},
		&command{name: "decr", arity: 2, run: cmdIncr, flags: "write fast", first: 1, last: 1, step: 1},
		&command{name: "incrby", arity: 3, run: cmdIncr, flags: "write fast", first: 1, last: 1, step: 1},
		&command{name: "decrby", arity: 3, run: cmdIncr, flags: "write fast", first: 1, last: 1, step: 1},
		&command{name: "append", arity: 3, run: cmdAppend, flags: "write fast", first: 1, last: 1, step: 1},
		&command{name: "strlen", arity: 2, run: cmdStrlen, flags: "readonly fast", first: 1, last: 1, step: 1},
	)
}

// setValue stores a copy of v as key's string value (creating the key, or
// replacing a value of any kind), reusing the old buffer when it fits, so
// overwriting a key allocates nothing. keepTTL keeps the key's expiry;
// otherwise it is cleared.
func (sh *shard) setValue(key []byte, o *object, v []byte, keepTTL bool) *object {
	if o == nil {
		o = sh.add(key, &object{})
	}
	if o.kind != KindString {
		*o = object{expireAt: o.expireAt}
	}
	if cap(o.str) >= len(v) && cap(o.str) <= 2*len(v)+64 {
		o.str = append(o.str[:0], v...)
	} else {
		o.str = append(make([]byte, 0, len(v)), v...)
	}
	if !keepTTL {
		sh.setExpiry(key, o, 0)
	}
	return o
}

func cmdGet(sess *Session, out []byte, args [][]byte) []byte {
	o, sh, reply := sess.existing(args[1], KindString, out, resp.AppendNull)
	defer sess.unlockShard(sh)
	if o == nil {
		return reply
	}
	return resp.AppendBulk(out, o.str)
}

// cmdSet is SET key value [NX|XX] [GET] [EX s|PX ms|EXAT s|PXAT ms|KEEPTTL].
func cmdSet(sess *Session, out []byte, args [][]byte) []byte {
	var nx, xx, get, keepTTL bool
	var expireAt int64
	expiry := false
	for i := 3; i < len(args); i++ {
		a := args[i]
		switch {
		case equalFold(a, "nx") && !xx:
			nx = true
		case equalFold(a, "xx") && !nx:
			xx = true
		case equalFold(a, "get"):
			get = true
		case equalFold(a, "keepttl") && !expiry:
			keepTTL = true
		case (equalFold(a, "ex") || equalFold(a, "px") || equalFold(a, "exat") || equalFold(a, "pxat")) &&
			!expiry && !keepTTL && i+1 < len(args):
			i++
			at, ok, valid := expireTime(a, args[i], sess.now)
			if !ok {
				return appendErr(out, errNotInteger)
			}
			if !valid {
				return appendInvalidExpire(out, "set")
			}
			expiry, expireAt = true, at
		default:
			return appendErr(out, errSyntax)
		}
	}
	return set(sess, out, args[1], args[2], nx, xx, get, keepTTL, expireAt)
}

// expireTime turns EX/PX/EXAT/PXAT and its argument into a Unix-ms
// deadline: ok false if the argument is not an integer, valid false if it
// is not positive or overflows (Redis's "invalid expire time").
func expireTime(unit, arg []byte, now int64) (at int64, ok, valid bool) {
	n, ok := resp.ParseInt(arg)
	if !ok {
		return 0, false, false
	}
	if n <= 0 {
		return 0, true, false
	}
	seconds := equalFold(unit, "ex") || equalFold(unit, "exat")
	if seconds {
		if n > math.MaxInt64/1000 {
			return 0, true, false
		}
		n *= 1000
	}
	if equalFold(unit, "ex") || equalFold(unit, "px") {
		if n > math.MaxInt64-now {
			return 0, true, false
		}
		n += now
	}
	return n, true, true
}

func set(sess *Session, out []byte, key, v []byte, nx, xx, get, keepTTL bool, expireAt int64) []byte {
	sh := sess.lockShard(key)
	defer sess.unlockShard(sh)
	o := sh.get(key, sess.now)
	if get {
		switch {
		case o == nil:
			out = resp.AppendNull(out)
		case o.kind != KindString:
			return appendErr(out, errWrongType)
		default:
			out = resp.AppendBulk(out, o.str)
		}
	}
	if nx && o != nil || xx && o == nil {
		if get {
			return out
		}
		return resp.AppendNull(out)
	}
	// With a new expiry, the old one is replaced in place: no removal
	// from the volatile index and new entry (a key copy) per SET EX.
	o = sh.setValue(key, o, v, keepTTL || expireAt != 0)
	if expireAt != 0 {
		sh.setExpiry(key, o, expireAt)
	}
	if get {
		return out
	}
	return resp.AppendOK(out)
}

func cmdSetNX(sess *Session, out []byte, args [][]byte) []byte {
	sh := sess.lockShard(args[1])
	defer sess.unlockShard(sh)
	if sh.get(args[1], sess.now) != nil {
		return resp.AppendInt(out, 0)
	}
	sh.setValue(args[1], nil, args[2], false)
	return resp.AppendInt(out, 1)
}

// cmdSetEX is SETEX key seconds value and PSETEX key ms value.
func cmdSetEX(sess *Session, out []byte, args [][]byte) []byte {
	unit := []byte("ex")
	name := "setex"
	if equalFold(args[0], "psetex") {
		unit, name = []byte("px"), "psetex"
	}
	at, ok, valid := expireTime(unit, args[2], sess.now)
	if !ok {
		return appendErr(out, errNotInteger)
	}
	if !valid {
		return appendInvalidExpire(out, name)
	}
	return set(sess, out, args[1], args[3], false, false, false, false, at)
}

func cmdGetSet(sess *Session, out []byte, args [][]byte) []byte {
	return set(sess, out, args[1], args[2], false, false, true, false, 0)
}

func cmdGetDel(sess *Session, out []byte, args [][]byte) []byte {
	o, sh, reply := sess.existing(args[1], KindString, out, resp.AppendNull)
	defer sess.unlockShard(sh)
	if o == nil {
		return reply
	}
	out = resp.AppendBulk(out, o.str)
	sh.remove(args[1])
	return out
}

func cmdMGet(sess *Session, out []byte, args [][]byte) []byte {
	st := sess.store
	locked := sess.lockKeys(args[1:], 1)
	defer sess.unlockKeys(locked)
	out = resp.AppendArray(out, len(args)-1)
	for _, k := range args[1:] {
		o := st.shards[st.shardIndex(k)].get(k, sess.now)
		if o == nil || o.kind != KindString {
			out = resp.AppendNull(out)
		} else {
			out = resp.AppendBulk(out, o.str)
		}
	}
	return out
}

func cmdMSet(sess *Session, out []byte, args [][]byte) []byte {
	if len(args)%2 == 0 {
		return appendArity(out, "mset")
	}
	st := sess.store
	locked := sess.lockKeys(args[1:], 2)
	defer sess.unlockKeys(locked)
	for i := 1; i < len(args); i += 2 {
		sh := &st.shards[st.shardIndex(args[i])]
		sh.setValue(args[i], sh.get(args[i], sess.now), args[i+1], false)
	}
	return resp.AppendOK(out)
}

// cmdIncr is INCR, DECR, INCRBY and DECRBY.
func cmdIncr(sess *Session, out []byte, args [][]byte) []byte {
	by := int64(1)
	if len(args) == 3 {
		n, ok := resp.ParseInt(args[2])
		if !ok {
			return appendErr(out, errNotInteger)
		}
		by = n
	}
	if equalFold(args[0], "decr") || equalFold(args[0], "decrby") {
		if by == math.MinInt64 {
			return appendErr(out, "ERR decrement would overflow")
		}
		by = -by
	}
	o, sh, reply := sess.ofKind(args[1], KindString, out)
	defer sess.unlockShard(sh)
	if reply != nil {
		return reply
	}
	var n int64
	if o != nil {
		v, ok := resp.ParseInt(o.str)
		if !ok {
			return appendErr(out, errNotInteger)
		}
		n = v
	}
	if by > 0 && n > math.MaxInt64-by || by < 0 && n < math.MinInt64-by {
		return appendErr(out, errOverflow)
	}
	n += by
	var buf [20]byte
	sh.setValue(args[1], o, strconv.AppendInt(buf[:0], n, 10), true)
	return resp.AppendInt(out, n)
}

func cmdAppend(sess *Session, out []byte, args [][]byte) []byte {
	o, sh, reply := sess.ofKind(args[1], KindString, out)
	defer sess.unlockShard(sh)
	switch {
	case reply != nil:
		return reply
	case o == nil:
		o = sh.setValue(args[1], nil, args[2], false)
		return resp.AppendInt(out, int64(len(o.str)))
	}
	if len(o.str)+len(args[2]) > resp.DefaultLimits.MaxBulk*16 {
		return appendErr(out, "ERR string exceeds maximum allowed size (proto-max-bulk-len)")
	}
	o.str = append(o.str, args[2]...)
	return resp.AppendInt(out, int64(len(o.str)))
}

func cmdStrlen(sess *Session, out []byte, args [][]byte) []byte {
	o, sh, reply := sess.existing(args[1], KindString, out, appendZero)
	defer sess.unlockShard(sh)
	if o == nil {
		return reply
	}
	return resp.AppendInt(out, int64(len(o.str)))
}
