package kv

import (
	"math"
	"math/big"
	"strings"

	"github.com/iomux/iomux/internal/resp"
)

// More string commands: INCRBYFLOAT, GETEX, GETRANGE (SUBSTR), SETRANGE,
// MSETNX.

func init() {
	register(
		&command{name: "incrbyfloat", arity: 3, run: cmdIncrByFloat, flags: "write fast", first: 1, last: 1, step: 1},
		&command{name: "getex", arity: -2, run: cmdGetEx, flags: "write fast", first: 1, last: 1, step: 1},
		&command{name: "getrange", arity: 4, run: cmdGetRange, flags: "readonly", first: 1, last: 1, step: 1},
		&command{name: "substr", arity: 4, run: cmdGetRange, flags: "readonly", first: 1, last: 1, step: 1},
		&command{name: "setrange", arity: 4, run: cmdSetRange, flags: "write", first: 1, last: 1, step: 1},
		&command{name: "msetnx", arity: -3, run: cmdMSetNX, flags: "write", first: 1, last: -1, step: 2},
	)
}

// maxString is the largest string value, Redis's proto-max-bulk-len
// default (512 MiB).
const maxString = 512 << 20

// addFloat adds two decimal strings as Redis's INCRBYFLOAT does, in
// x87 long double (a 64-bit significand: big.Float at precision 64), and
// formats the sum as Redis does: 17 decimals, trailing zeros dropped. ok
// is false if either is not a number; inf is false if the sum is not
// finite.
func addFloat(a, b []byte) (sum []byte, ok, finite bool) {
	x, ok1 := parseLongDouble(a)
	y, ok2 := parseLongDouble(b)
	if !ok1 || !ok2 {
		return nil, false, false
	}
	if x.IsInf() || y.IsInf() {
		return nil, true, false
	}
	z := new(big.Float).SetPrec(64).Add(x, y)
	s := z.Text('f', 17)
	s = strings.TrimRight(s, "0")
	s = strings.TrimSuffix(s, ".")
	if s == "-0" {
		s = "0"
	}
	return []byte(s), true, true
}

// parseLongDouble parses a number as strtold does, rounded to 64 bits.
func parseLongDouble(b []byte) (*big.Float, bool) {
	f, ok := parseFloat(b) // the syntax Redis accepts, inf included
	if !ok || len(b) == 0 {
		return nil, false
	}
	if math.IsInf(f, 0) {
		return new(big.Float).SetInf(f < 0), true
	}
	x, _, err := big.ParseFloat(string(b), 10, 64, big.ToNearestEven)
	if err != nil {
		return new(big.Float).SetPrec(64).SetFloat64(f), true
	}
	return x, true
}

func cmdIncrByFloat(sess *Session, out []byte, args [][]byte) []byte {
	if _, ok := parseFloat(args[2]); !ok {
		return appendErr(out, errNotFloat)
	}
	o, sh, reply := sess.ofKind(args[1], KindString, out)
	defer sess.unlockShard(sh)
	if reply != nil {
		return reply
	}
	cur := []byte("0")
	if o != nil {
		cur = o.str
	}
	v, ok, finite := addFloat(cur, args[2])
	switch {
	case !ok:
		return appendErr(out, errNotFloat)
	case !finite:
		return appendErr(out, "ERR increment would produce NaN or Infinity")
	}
	sh.setValue(args[1], o, v, true)
	return resp.AppendBulk(out, v)
}

// cmdGetEx is GETEX key [EX s|PX ms|EXAT s|PXAT ms|PERSIST].
func cmdGetEx(sess *Session, out []byte, args [][]byte) []byte {
	at, persist, set := int64(0), false, false
	for i := 2; i < len(args); i++ {
		a := args[i]
		switch {
		case equalFold(a, "persist") && !set:
			persist, set = true, true
		case (equalFold(a, "ex") || equalFold(a, "px") || equalFold(a, "exat") || equalFold(a, "pxat")) && !set && i+1 < len(args):
			i++
			t, ok, valid := expireTime(a, args[i], sess.now)
			if !ok {
				return appendErr(out, errNotInteger)
			}
			if !valid {
				return appendInvalidExpire(out, "getex")
			}
			at, set = t, true
		default:
			return appendErr(out, errSyntax)
		}
	}
	o, sh, reply := sess.existing(args[1], KindString, out, resp.AppendNull)
	defer sess.unlockShard(sh)
	if o == nil {
		return reply
	}
	out = resp.AppendBulk(out, o.str)
	switch {
	case persist:
		sh.setExpiry(args[1], o, 0)
	case at != 0 && at <= sess.now:
		sh.remove(args[1])
	case at != 0:
		sh.setExpiry(args[1], o, at)
	}
	return out
}

// cmdGetRange is GETRANGE key start end (negative: from the end).
func cmdGetRange(sess *Session, out []byte, args [][]byte) []byte {
	start, ok1 := resp.ParseInt(args[2])
	stop, ok2 := resp.ParseInt(args[3])
	if !ok1 || !ok2 {
		return appendErr(out, errNotInteger)
	}
	o, sh, reply := sess.existing(args[1], KindString, out, func(b []byte) []byte { return resp.AppendBulk(b, "") })
	defer sess.unlockShard(sh)
	if o == nil {
		return reply
	}
	n := int64(len(o.str))
	if start < 0 && stop < 0 && start > stop {
		return resp.AppendBulk(out, "")
	}
	if start < 0 {
		start += n
	}
	if stop < 0 {
		stop += n
	}
	start, stop = max(start, 0), max(stop, 0)
	stop = min(stop, n-1)
	if start > stop || n == 0 {
		return resp.AppendBulk(out, "")
	}
	return resp.AppendBulk(out, o.str[start:stop+1])
}

// cmdSetRange is SETRANGE key offset value: zero bytes pad a gap.
func cmdSetRange(sess *Session, out []byte, args [][]byte) []byte {
	off, ok := resp.ParseInt(args[2])
	if !ok {
		return appendErr(out, errNotInteger)
	}
	if off < 0 {
		return appendErr(out, "ERR offset is out of range")
	}
	v := args[3]
	o, sh, reply := sess.ofKind(args[1], KindString, out)
	defer sess.unlockShard(sh)
	if reply != nil {
		return reply
	}
	cur := 0
	if o != nil {
		cur = len(o.str)
	}
	if len(v) == 0 {
		return resp.AppendInt(out, int64(cur))
	}
	if off > maxString-int64(len(v)) { // (off+len(v) could overflow)
		return appendErr(out, "ERR string exceeds maximum allowed size (proto-max-bulk-len)")
	}
	if o == nil {
		o = sh.setValue(args[1], nil, nil, false)
	}
	end := int(off) + len(v)
	if end > len(o.str) {
		o.str = append(o.str, make([]byte, end-len(o.str))...)
	}
	copy(o.str[off:], v)
	return resp.AppendInt(out, int64(len(o.str)))
}

func cmdMSetNX(sess *Session, out []byte, args [][]byte) []byte {
	if len(args)%2 == 0 {
		return appendArity(out, "msetnx")
	}
	st := sess.store
	locked := sess.lockKeys(args[1:], 2)
	defer sess.unlockKeys(locked)
	for i := 1; i < len(args); i += 2 {
		if st.shardOf(args[i]).get(args[i], sess.now) != nil {
			return resp.AppendInt(out, 0)
		}
	}
	for i := 1; i < len(args); i += 2 {
		sh := st.shardOf(args[i])
		sh.setValue(args[i], sh.get(args[i], sess.now), args[i+1], false)
	}
	return resp.AppendInt(out, 1)
}
