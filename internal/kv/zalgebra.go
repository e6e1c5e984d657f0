package kv

import (
	"math"
	"math/rand/v2"
	"strings"

	"github.com/iomux/iomux/internal/resp"
)

// The sorted-set commands over several keys or members: ZUNION, ZINTER,
// ZDIFF and their STORE forms, ZINTERCARD, ZMPOP, ZMSCORE, ZRANDMEMBER,
// ZSCAN.

func init() {
	keys := func(name string, arity int, flags string, run func(*Session, []byte, [][]byte) []byte) *command {
		return &command{name: name, arity: arity, run: run, flags: flags}
	}
	register(
		keys("zunion", -3, "readonly", cmdZSetOp), keys("zinter", -3, "readonly", cmdZSetOp), keys("zdiff", -3, "readonly", cmdZSetOp),
		keys("zunionstore", -4, "write", cmdZSetOp), keys("zinterstore", -4, "write", cmdZSetOp), keys("zdiffstore", -4, "write", cmdZSetOp),
		keys("zintercard", -3, "readonly", cmdZInterCard), keys("zmpop", -4, "write", cmdZMPop),
		&command{name: "zmscore", arity: -3, run: cmdZMScore, flags: "readonly fast", first: 1, last: 1, step: 1},
		&command{name: "zrandmember", arity: -2, run: cmdZRandMember, flags: "readonly", first: 1, last: 1, step: 1},
		&command{name: "zscan", arity: -3, run: cmdZScan, flags: "readonly", first: 1, last: 1, step: 1},
	)
}

// numKeys parses the numkeys argument of a command over several keys and
// returns the keys; errMsg is Redis's error for a bad count.
func numKeys(args [][]byte, i int, tooFew string) (keys [][]byte, rest [][]byte, errMsg string) {
	n, ok := resp.ParseInt(args[i])
	switch {
	case !ok:
		return nil, nil, errNotInteger
	case n < 1:
		return nil, nil, tooFew
	case n > int64(len(args)-i-1):
		return nil, nil, errSyntax
	}
	return args[i+1 : i+1+int(n)], args[i+1+int(n):], ""
}

// zsource reads key (its shard locked) as a sorted set: a set's members
// score 1, as in Redis. ok is false if key holds another kind.
func (sess *Session) zsource(key []byte) (scores map[string]float64, ok bool) {
	o := sess.store.shardOf(key).get(key, sess.now)
	switch {
	case o == nil:
		return nil, true
	case o.kind == KindZSet:
		return o.zset.score, true
	case o.kind == KindSet:
		m := make(map[string]float64, len(o.set))
		for k := range o.set {
			m[k] = 1
		}
		return m, true
	}
	return nil, false
}

// aggregate combines two weighted scores as AGGREGATE says; a NaN (inf
// minus inf) is 0, as in Redis.
func aggregate(how string, a, b float64) float64 {
	var r float64
	switch how {
	case "min":
		r = min(a, b)
	case "max":
		r = max(a, b)
	default:
		r = a + b
	}
	if r != r {
		return 0
	}
	return r
}

// cmdZSetOp is ZUNION, ZINTER, ZDIFF numkeys key... [WEIGHTS w...]
// [AGGREGATE SUM|MIN|MAX] [WITHSCORES], and the STORE forms with a
// destination first (no WITHSCORES).
func cmdZSetOp(sess *Session, out []byte, args [][]byte) []byte {
	name := sess.lookup(args[0]).name
	store := strings.HasSuffix(name, "store")
	op := strings.TrimSuffix(name, "store")
	at := 1
	if store {
		at = 2
	}
	keys, rest, msg := numKeys(args, at, "ERR at least 1 input key is needed for '"+name+"' command")
	if msg != "" {
		return appendErr(out, msg)
	}
	weights := make([]float64, len(keys))
	for i := range weights {
		weights[i] = 1
	}
	how, withScores := "sum", false
	for i := 0; i < len(rest); i++ {
		switch a := rest[i]; {
		case equalFold(a, "weights") && op != "zdiff" && i+len(keys) < len(rest):
			for j := range keys {
				w, ok := parseFloat(rest[i+1+j])
				if !ok {
					return appendErr(out, "ERR weight value is not a float")
				}
				weights[j] = w
			}
			i += len(keys)
		case equalFold(a, "aggregate") && op != "zdiff" && i+1 < len(rest):
			i++
			how = strings.ToLower(string(rest[i]))
			if how != "sum" && how != "min" && how != "max" {
				return appendErr(out, errSyntax)
			}
		case equalFold(a, "withscores") && !store:
			withScores = true
		default:
			return appendErr(out, errSyntax)
		}
	}
	all := keys
	if store {
		all = append([][]byte{args[1]}, keys...)
	}
	locked := sess.lockKeys(all, 1)
	defer sess.unlockKeys(locked)
	sources := make([]map[string]float64, len(keys))
	for i, k := range keys {
		m, ok := sess.zsource(k)
		if !ok {
			return appendErr(out, errWrongType)
		}
		sources[i] = m
	}
	result := zsetOp(op, sources, weights, how)
	z := newZset()
	for m, s := range result {
		z.add([]byte(m), s)
	}
	if store {
		return resp.AppendInt(out, int64(sess.storeZset(args[1], z.sorted)))
	}
	return appendZMembers(out, z.sorted, withScores)
}

// zsetOp computes the union, intersection or difference of sources.
func zsetOp(op string, sources []map[string]float64, weights []float64, how string) map[string]float64 {
	weighted := func(s, w float64) float64 {
		r := s * w
		if r != r {
			return 0
		}
		return r
	}
	result := make(map[string]float64)
	switch op {
	case "zunion":
		for i, src := range sources {
			for m, s := range src {
				v := weighted(s, weights[i])
				if old, ok := result[m]; ok {
					v = aggregate(how, old, v)
				}
				result[m] = v
			}
		}
	case "zinter":
	members:
		for m, s := range sources[0] {
			v := weighted(s, weights[0])
			for i, src := range sources[1:] {
				s2, ok := src[m]
				if !ok {
					continue members
				}
				v = aggregate(how, v, weighted(s2, weights[i+1]))
			}
			result[m] = v
		}
	default: // zdiff
	diff:
		for m, s := range sources[0] {
			for _, src := range sources[1:] {
				if _, ok := src[m]; ok {
					continue diff
				}
			}
			result[m] = s
		}
	}
	return result
}

// cmdZInterCard is ZINTERCARD numkeys key... [LIMIT n].
func cmdZInterCard(sess *Session, out []byte, args [][]byte) []byte {
	keys, limit, msg := interCardArgs(args, true)
	if msg != "" {
		return appendErr(out, msg)
	}
	locked := sess.lockKeys(keys, 1)
	defer sess.unlockKeys(locked)
	sources := make([]map[string]float64, len(keys))
	for i, k := range keys {
		m, ok := sess.zsource(k)
		if !ok {
			return appendErr(out, errWrongType)
		}
		sources[i] = m
	}
	n := int64(0)
members:
	for m := range sources[0] {
		for _, src := range sources[1:] {
			if _, ok := src[m]; !ok {
				continue members
			}
		}
		if n++; limit > 0 && n == limit {
			break
		}
	}
	return resp.AppendInt(out, n)
}

// interCardArgs parses SINTERCARD's and ZINTERCARD's numkeys key...
// [LIMIT n] (0: none). ZINTERCARD's numkeys errors are ZINTER's, as in
// Redis.
func interCardArgs(args [][]byte, zset bool) (keys [][]byte, limit int64, errMsg string) {
	var rest [][]byte
	if zset {
		keys, rest, errMsg = numKeys(args, 1, "ERR at least 1 input key is needed for 'zintercard' command")
		if errMsg != "" {
			return nil, 0, errMsg
		}
	} else {
		n, ok := resp.ParseInt(args[1])
		switch {
		case !ok || n < 1:
			return nil, 0, "ERR numkeys should be greater than 0"
		case n > int64(len(args)-2):
			return nil, 0, "ERR Number of keys can't be greater than number of args"
		}
		keys, rest = args[2:2+n], args[2+n:]
	}
	for i := 0; i < len(rest); i += 2 {
		if !equalFold(rest[i], "limit") || i+1 >= len(rest) {
			return nil, 0, errSyntax
		}
		l, ok := resp.ParseInt(rest[i+1])
		if !ok || l < 0 {
			return nil, 0, "ERR LIMIT can't be negative"
		}
		limit = l
	}
	return keys, limit, ""
}

// mpopArgs parses ZMPOP's and LMPOP's numkeys key... where [COUNT n],
// where being one of ends (MIN MAX, LEFT RIGHT): which (0 or 1) and count.
func mpopArgs(args [][]byte, first int, ends [2]string) (keys [][]byte, which int, count int64, errMsg string) {
	n, ok := resp.ParseInt(args[first])
	if !ok || n < 1 {
		return nil, 0, 0, "ERR numkeys should be greater than 0"
	}
	if n > int64(len(args)-first-2) {
		return nil, 0, 0, errSyntax
	}
	keys = args[first+1 : first+1+int(n)]
	rest := args[first+1+int(n):]
	switch {
	case equalFold(rest[0], ends[0]):
		which = 0
	case equalFold(rest[0], ends[1]):
		which = 1
	default:
		return nil, 0, 0, errSyntax
	}
	count = 1
	rest = rest[1:]
	switch {
	case len(rest) == 0:
	case len(rest) == 2 && equalFold(rest[0], "count"):
		c, ok := resp.ParseInt(rest[1])
		if !ok || c < 1 {
			return nil, 0, 0, "ERR count should be greater than 0"
		}
		count = c
	default:
		return nil, 0, 0, errSyntax
	}
	return keys, which, count, ""
}

// cmdZMPop is ZMPOP numkeys key... MIN|MAX [COUNT n]: from the first
// non-empty key, [key, [[member, score]...]], or a null array.
func cmdZMPop(sess *Session, out []byte, args [][]byte) []byte {
	keys, which, count, msg := mpopArgs(args, 1, [2]string{"min", "max"})
	if msg != "" {
		return appendErr(out, msg)
	}
	for _, k := range keys {
		o, sh, reply := sess.ofKind(k, KindZSet, out)
		if reply != nil {
			sess.unlockShard(sh)
			return reply
		}
		if o == nil {
			sess.unlockShard(sh)
			continue
		}
		out = appendZPopped(out, sh, k, o, which == 1, int(min(count, 1<<31)))
		sess.unlockShard(sh)
		return out
	}
	return resp.AppendNullArray(out)
}

// appendZPopped pops n members of o (key, its shard sh locked) and appends
// ZMPOP's reply: [key, [[member, score]...]].
func appendZPopped(out []byte, sh *shard, key []byte, o *object, highest bool, n int) []byte {
	var popped []zmember
	if highest {
		popped = o.zset.popMax(n)
	} else {
		popped = o.zset.popMin(n)
	}
	out = resp.AppendArray(out, 2)
	out = resp.AppendBulk(out, key)
	out = resp.AppendArray(out, len(popped))
	for _, m := range popped {
		out = resp.AppendArray(out, 2)
		out = resp.AppendBulk(out, m.member)
		out = appendFloat(out, m.score)
	}
	if o.zset.len() == 0 {
		sh.remove(key)
	}
	return out
}

func cmdZMScore(sess *Session, out []byte, args [][]byte) []byte {
	o, sh, reply := sess.ofKind(args[1], KindZSet, out)
	defer sess.unlockShard(sh)
	if reply != nil {
		return reply
	}
	out = resp.AppendArray(out, len(args)-2)
	for _, m := range args[2:] {
		var s float64
		ok := false
		if o != nil {
			s, ok = o.zset.score[string(m)]
		}
		if ok {
			out = appendFloat(out, s)
		} else {
			out = resp.AppendNull(out)
		}
	}
	return out
}

// randomCount parses the count of SRANDMEMBER, HRANDFIELD, ZRANDMEMBER
// (negative: with repeats) and the WITHSCORES/WITHVALUES word, if withWord.
func randomCount(out []byte, args [][]byte, withWord string) (count int64, with bool, reply []byte) {
	c, ok := resp.ParseInt(args[2])
	switch {
	case !ok:
		return 0, false, appendErr(out, errNotInteger)
	case c == math.MinInt64:
		return 0, false, appendErr(out, "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807")
	case c < -maxRandomRepeats:
		// Redis streams any count but LONG_MIN; kv-server builds the reply
		// in memory, so it refuses a count of repeats it could not hold.
		return 0, false, appendErr(out, "ERR value is out of range")
	}
	switch {
	case len(args) == 4 && withWord != "" && equalFold(args[3], withWord):
		with = true
		if c < -(1<<62) || c > 1<<62 {
			return 0, false, appendErr(out, "ERR value is out of range")
		}
	case len(args) > 3:
		return 0, false, appendErr(out, errSyntax)
	}
	return c, with, nil
}

// maxRandomRepeats is the largest count of repeats (a negative count) of
// SRANDMEMBER, HRANDFIELD and ZRANDMEMBER.
const maxRandomRepeats = 1 << 24

// pickRandom chooses count indexes of [0, n): distinct ones (at most n)
// if count > 0, |count| with repeats if count < 0.
func pickRandom(n int, count int64) []int {
	if count < 0 {
		idx := make([]int, -count)
		for i := range idx {
			idx[i] = rand.IntN(n)
		}
		return idx
	}
	perm := rand.Perm(n)
	return perm[:min(int64(n), count)]
}

// cmdZRandMember is ZRANDMEMBER key [count [WITHSCORES]].
func cmdZRandMember(sess *Session, out []byte, args [][]byte) []byte {
	if len(args) == 2 {
		o, sh, reply := sess.existing(args[1], KindZSet, out, resp.AppendNull)
		defer sess.unlockShard(sh)
		if o == nil {
			return reply
		}
		return resp.AppendBulk(out, o.zset.sorted[rand.IntN(o.zset.len())].member)
	}
	count, with, reply := randomCount(out, args, "withscores")
	if reply != nil {
		return reply
	}
	o, sh, reply := sess.existing(args[1], KindZSet, out, appendEmpty)
	defer sess.unlockShard(sh)
	if o == nil {
		return reply
	}
	idx := pickRandom(o.zset.len(), count)
	ms := make([]zmember, len(idx))
	for i, j := range idx {
		ms[i] = o.zset.sorted[j]
	}
	return appendZMembers(out, ms, with)
}

// scanArgs parses SSCAN's, HSCAN's and ZSCAN's cursor [MATCH p] [COUNT n].
// They answer a whole collection in one reply, cursor 0, as Redis does for
// small ones: a client iterates the same way.
func scanArgs(out []byte, args [][]byte) (pattern []byte, reply []byte) {
	if c, ok := resp.ParseInt(args[2]); !ok || c < 0 {
		return nil, appendErr(out, "ERR invalid cursor")
	}
	for i := 3; i < len(args); i += 2 {
		if i+1 >= len(args) {
			return nil, appendErr(out, errSyntax)
		}
		switch {
		case equalFold(args[i], "match"):
			pattern = args[i+1]
		case equalFold(args[i], "count"):
			n, ok := resp.ParseInt(args[i+1])
			if !ok {
				return nil, appendErr(out, errNotInteger)
			}
			if n < 1 {
				return nil, appendErr(out, errSyntax)
			}
		default:
			return nil, appendErr(out, errSyntax)
		}
	}
	return pattern, nil
}

func cmdZScan(sess *Session, out []byte, args [][]byte) []byte {
	pattern, reply := scanArgs(out, args)
	if reply != nil {
		return reply
	}
	o, sh, reply := sess.existing(args[1], KindZSet, out, appendEmptyScan)
	defer sess.unlockShard(sh)
	if o == nil {
		return reply
	}
	var ms []zmember
	for _, m := range o.zset.sorted {
		if pattern == nil || Match(pattern, []byte(m.member)) {
			ms = append(ms, m)
		}
	}
	out = append(resp.AppendArray(out, 2), "$1\r\n0\r\n"...)
	return appendZMembers(out, ms, true)
}

// appendEmptyScan is a SCAN-family reply with nothing: cursor 0, no items.
func appendEmptyScan(out []byte) []byte {
	out = append(resp.AppendArray(out, 2), "$1\r\n0\r\n"...)
	return resp.AppendArray(out, 0)
}
