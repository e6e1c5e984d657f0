package kv

import (
	"math"
	"math/rand/v2"
	"strconv"

	"github.com/iomux/iomux/internal/resp"
)

// More hash commands: HINCRBY, HINCRBYFLOAT, HSTRLEN, HRANDFIELD, HSCAN.

func init() {
	register(
		&command{name: "hincrby", arity: 4, run: cmdHIncrBy, flags: "write fast", first: 1, last: 1, step: 1},
		&command{name: "hincrbyfloat", arity: 4, run: cmdHIncrByFloat, flags: "write fast", first: 1, last: 1, step: 1},
		&command{name: "hstrlen", arity: 3, run: cmdHStrlen, flags: "readonly fast", first: 1, last: 1, step: 1},
		&command{name: "hrandfield", arity: -2, run: cmdHRandField, flags: "readonly", first: 1, last: 1, step: 1},
		&command{name: "hscan", arity: -3, run: cmdHScan, flags: "readonly", first: 1, last: 1, step: 1},
	)
}

func cmdHIncrBy(sess *Session, out []byte, args [][]byte) []byte {
	by, ok := resp.ParseInt(args[3])
	if !ok {
		return appendErr(out, errNotInteger)
	}
	o, sh, reply := sess.existingOrNew(args[1], KindHash, out)
	defer sess.unlockShard(sh)
	if o == nil {
		return reply
	}
	var n int64
	if v, had := o.hash[string(args[2])]; had {
		n, ok = resp.ParseInt(v)
		if !ok {
			return appendErr(out, "ERR hash value is not an integer")
		}
	}
	if by > 0 && n > math.MaxInt64-by || by < 0 && n < math.MinInt64-by {
		if len(o.hash) == 0 {
			sh.remove(args[1])
		}
		return appendErr(out, errOverflow)
	}
	n += by
	o.hash[string(args[2])] = strconv.AppendInt(nil, n, 10)
	return resp.AppendInt(out, n)
}

func cmdHIncrByFloat(sess *Session, out []byte, args [][]byte) []byte {
	switch by, ok := parseFloat(args[3]); {
	case !ok:
		return appendErr(out, errNotFloat)
	case math.IsInf(by, 0):
		return appendErr(out, "ERR value is NaN or Infinity")
	}
	o, sh, reply := sess.existingOrNew(args[1], KindHash, out)
	defer sess.unlockShard(sh)
	if o == nil {
		return reply
	}
	defer func() {
		if len(o.hash) == 0 {
			sh.remove(args[1])
		}
	}()
	cur, had := o.hash[string(args[2])]
	if !had {
		cur = []byte("0")
	}
	v, ok, finite := addFloat(cur, args[3])
	switch {
	case !ok:
		return appendErr(out, "ERR hash value is not a float")
	case !finite:
		return appendErr(out, "ERR increment would produce NaN or Infinity")
	}
	o.hash[string(args[2])] = v
	return resp.AppendBulk(out, v)
}

func cmdHStrlen(sess *Session, out []byte, args [][]byte) []byte {
	o, sh, reply := sess.existing(args[1], KindHash, out, appendZero)
	defer sess.unlockShard(sh)
	if o == nil {
		return reply
	}
	return resp.AppendInt(out, int64(len(o.hash[string(args[2])])))
}

// cmdHRandField is HRANDFIELD key [count [WITHVALUES]].
func cmdHRandField(sess *Session, out []byte, args [][]byte) []byte {
	if len(args) == 2 {
		o, sh, reply := sess.existing(args[1], KindHash, out, resp.AppendNull)
		defer sess.unlockShard(sh)
		if o == nil {
			return reply
		}
		skip := rand.IntN(len(o.hash))
		for f := range o.hash {
			if skip == 0 {
				return resp.AppendBulk(out, f)
			}
			skip--
		}
	}
	count, with, reply := randomCount(out, args, "withvalues")
	if reply != nil {
		return reply
	}
	o, sh, reply := sess.existing(args[1], KindHash, out, appendEmpty)
	defer sess.unlockShard(sh)
	if o == nil {
		return reply
	}
	fields := make([]string, 0, len(o.hash))
	for f := range o.hash {
		fields = append(fields, f)
	}
	idx := pickRandom(len(fields), count)
	n := len(idx)
	if with {
		n *= 2
	}
	out = resp.AppendArray(out, n)
	for _, i := range idx {
		out = resp.AppendBulk(out, fields[i])
		if with {
			out = resp.AppendBulk(out, o.hash[fields[i]])
		}
	}
	return out
}

func cmdHScan(sess *Session, out []byte, args [][]byte) []byte {
	pattern, reply := scanArgs(out, args)
	if reply != nil {
		return reply
	}
	o, sh, reply := sess.existing(args[1], KindHash, out, appendEmptyScan)
	defer sess.unlockShard(sh)
	if o == nil {
		return reply
	}
	var fields []string
	for f := range o.hash {
		if pattern == nil || Match(pattern, []byte(f)) {
			fields = append(fields, f)
		}
	}
	out = append(resp.AppendArray(out, 2), "$1\r\n0\r\n"...)
	out = resp.AppendArray(out, 2*len(fields))
	for _, f := range fields {
		out = resp.AppendBulk(out, f)
		out = resp.AppendBulk(out, o.hash[f])
	}
	return out
}
