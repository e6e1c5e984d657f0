package kv

import (
	"slices"
	"strings"

	"github.com/iomux/iomux/internal/resp"
)

// The sorted-set range commands: ZRANGE with BYSCORE, BYLEX, REV and
// LIMIT, its older forms (ZRANGEBYSCORE, ZREVRANGE, ...), ZRANGESTORE,
// ZCOUNT, ZLEXCOUNT, ZREMRANGEBY*, ZRANK and ZREVRANK. Every range is a
// contiguous run of the sorted slice, found by binary search.

func init() {
	key1 := func(name string, arity int, flags string) *command {
		return &command{name: name, arity: arity, run: cmdZRangeFamily, flags: flags, first: 1, last: 1, step: 1}
	}
	register(
		key1("zrange", -4, "readonly"), key1("zrevrange", -4, "readonly"),
		key1("zrangebyscore", -4, "readonly"), key1("zrevrangebyscore", -4, "readonly"),
		key1("zrangebylex", -4, "readonly"), key1("zrevrangebylex", -4, "readonly"),
		&command{name: "zrangestore", arity: -5, run: cmdZRangeFamily, flags: "write", first: 1, last: 2, step: 1},
		&command{name: "zcount", arity: 4, run: cmdZCount, flags: "readonly fast", first: 1, last: 1, step: 1},
		&command{name: "zlexcount", arity: 4, run: cmdZCount, flags: "readonly fast", first: 1, last: 1, step: 1},
		&command{name: "zremrangebyscore", arity: 4, run: cmdZRemRange, flags: "write", first: 1, last: 1, step: 1},
		&command{name: "zremrangebylex", arity: 4, run: cmdZRemRange, flags: "write", first: 1, last: 1, step: 1},
		&command{name: "zremrangebyrank", arity: 4, run: cmdZRemRange, flags: "write", first: 1, last: 1, step: 1},
		&command{name: "zrank", arity: 3, run: cmdZRank, flags: "readonly fast", first: 1, last: 1, step: 1},
		&command{name: "zrevrank", arity: 3, run: cmdZRank, flags: "readonly fast", first: 1, last: 1, step: 1},
	)
}

// How a range is given.
const (
	byIndex = iota
	byScore
	byLex
)

// zrange is a parsed range: by index (start, stop), score or member bytes.
type zrange struct {
	by          int
	start, stop int64
	min, max    float64
	minEx       bool
	maxEx       bool
	lmin, lmax  []byte // nil with lminInf/lmaxInf: "-" and "+"
	lminInf     bool   // "-": below every member
	lmaxInf     bool   // "+": above every member
}

// parseScoreBound parses a score bound: a float, or "(" and a float for
// an exclusive one.
func parseScoreBound(b []byte) (f float64, ex, ok bool) {
	if len(b) > 0 && b[0] == '(' {
		b, ex = b[1:], true
	}
	f, ok = parseFloat(b)
	return f, ex, ok
}

// parseLexBound parses "-", "+", "[member" or "(member".
func parseLexBound(b []byte) (m []byte, ex, neg, pos, ok bool) {
	switch {
	case len(b) == 1 && b[0] == '-':
		return nil, false, true, false, true
	case len(b) == 1 && b[0] == '+':
		return nil, false, false, true, true
	case len(b) > 0 && b[0] == '[':
		return b[1:], false, false, false, true
	case len(b) > 0 && b[0] == '(':
		return b[1:], true, false, false, true
	}
	return nil, false, false, false, false
}

// parse reads the two bounds lo and hi (already in ascending order) by r.by;
// the error reply, if any, is Redis's.
func (r *zrange) parse(lo, hi []byte) string {
	switch r.by {
	case byIndex:
		var ok1, ok2 bool
		r.start, ok1 = resp.ParseInt(lo)
		r.stop, ok2 = resp.ParseInt(hi)
		if !ok1 || !ok2 {
			return errNotInteger
		}
	case byScore:
		var ok1, ok2 bool
		r.min, r.minEx, ok1 = parseScoreBound(lo)
		r.max, r.maxEx, ok2 = parseScoreBound(hi)
		if !ok1 || !ok2 {
			return "ERR min or max is not a float"
		}
	case byLex:
		var ok1, ok2 bool
		var pos1, neg2 bool
		r.lmin, r.minEx, r.lminInf, pos1, ok1 = parseLexBound(lo)
		r.lmax, r.maxEx, neg2, r.lmaxInf, ok2 = parseLexBound(hi)
		if !ok1 || !ok2 {
			return "ERR min or max not valid string range item"
		}
		if pos1 || neg2 { // "+" as the minimum or "-" as the maximum: nothing
			r.lminInf, r.lmaxInf = false, false
			r.lmin, r.lmax, r.minEx = []byte{1}, []byte{0}, false
		}
	}
	return ""
}

// span returns the half-open run [from, to) of z.sorted in the range.
// By index, with rev, start and stop count from the highest member.
func (r *zrange) span(z *zset, rev bool) (from, to int) {
	n := len(z.sorted)
	switch r.by {
	case byIndex:
		from, to = listRange(r.start, r.stop, n)
		if rev {
			from, to = n-to, n-from
		}
		return from, to
	case byScore:
		from = sortSearch(n, func(i int) bool {
			s := z.sorted[i].score
			return s > r.min || !r.minEx && s == r.min
		})
		to = sortSearch(n, func(i int) bool {
			s := z.sorted[i].score
			return s > r.max || r.maxEx && s == r.max
		})
	default:
		from = 0
		if !r.lminInf {
			from = sortSearch(n, func(i int) bool {
				c := strings.Compare(z.sorted[i].member, string(r.lmin))
				return c > 0 || !r.minEx && c == 0
			})
		}
		to = n
		if !r.lmaxInf {
			to = sortSearch(n, func(i int) bool {
				c := strings.Compare(z.sorted[i].member, string(r.lmax))
				return c > 0 || r.maxEx && c == 0
			})
		}
	}
	if to < from {
		to = from
	}
	return from, to
}

// sortSearch is sort.Search: the first i in [0, n) where f is true.
func sortSearch(n int, f func(int) bool) int {
	lo, hi := 0, n
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if !f(m) {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo
}

// zrangeQuery is a whole ZRANGE-family request.
type zrangeQuery struct {
	zrange
	rev           bool
	withScores    bool
	limit         bool
	offset, count int64
}

// parseZRange parses args from the key on (key lo hi [options]) for the
// command name, as Redis's zrangeGenericCommand does.
func parseZRange(name string, args [][]byte) (q zrangeQuery, errMsg string) {
	q.count = -1
	switch name {
	case "zrevrange":
		q.rev = true
	case "zrangebyscore":
		q.by = byScore
	case "zrevrangebyscore":
		q.by, q.rev = byScore, true
	case "zrangebylex":
		q.by = byLex
	case "zrevrangebylex":
		q.by, q.rev = byLex, true
	}
	plain := name == "zrange" || name == "zrangestore"
	for i := 3; i < len(args); i++ {
		a := args[i]
		switch {
		case equalFold(a, "withscores") && name != "zrangestore":
			q.withScores = true
		case equalFold(a, "limit") && i+2 < len(args):
			o, ok1 := resp.ParseInt(args[i+1])
			c, ok2 := resp.ParseInt(args[i+2])
			if !ok1 || !ok2 {
				return q, errNotInteger
			}
			q.limit, q.offset, q.count = true, o, c
			i += 2
		case plain && equalFold(a, "byscore") && q.by == byIndex:
			q.by = byScore
		case plain && equalFold(a, "bylex") && q.by == byIndex:
			q.by = byLex
		case plain && equalFold(a, "rev"):
			q.rev = true
		default:
			return q, errSyntax
		}
	}
	if q.limit && q.by == byIndex {
		return q, "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX"
	}
	if q.withScores && q.by == byLex {
		return q, "ERR syntax error, WITHSCORES not supported in combination with BYLEX"
	}
	lo, hi := args[1], args[2]
	if q.rev && q.by != byIndex {
		lo, hi = hi, lo
	}
	return q, q.parse(lo, hi)
}

// members returns the members of the range in the order asked, LIMIT
// applied.
func (q *zrangeQuery) members(z *zset) []zmember {
	from, to := q.span(z, q.rev)
	run := z.sorted[from:to]
	if q.limit {
		if q.offset < 0 || q.offset >= int64(len(run)) {
			return nil
		}
		if q.rev {
			run = run[:len(run)-int(q.offset)]
		} else {
			run = run[q.offset:]
		}
		if q.count >= 0 && q.count < int64(len(run)) {
			if q.rev {
				run = run[len(run)-int(q.count):]
			} else {
				run = run[:q.count]
			}
		}
	}
	if q.rev {
		out := slices.Clone(run)
		slices.Reverse(out)
		return out
	}
	return run
}

// cmdZRangeFamily is ZRANGE and its older forms, and ZRANGESTORE dst src ...
func cmdZRangeFamily(sess *Session, out []byte, args [][]byte) []byte {
	name := sess.lookup(args[0]).name
	if name == "zrangestore" {
		return zrangeStore(sess, out, args)
	}
	q, msg := parseZRange(name, args[1:])
	if msg != "" {
		return appendErr(out, msg)
	}
	o, sh, reply := sess.existing(args[1], KindZSet, out, appendEmpty)
	defer sess.unlockShard(sh)
	if o == nil {
		return reply
	}
	return appendZMembers(out, q.members(o.zset), q.withScores)
}

func appendZMembers(out []byte, ms []zmember, withScores bool) []byte {
	n := len(ms)
	if withScores {
		n *= 2
	}
	out = resp.AppendArray(out, n)
	for _, m := range ms {
		out = resp.AppendBulk(out, m.member)
		if withScores {
			out = appendFloat(out, m.score)
		}
	}
	return out
}

func zrangeStore(sess *Session, out []byte, args [][]byte) []byte {
	q, msg := parseZRange("zrangestore", args[2:])
	if msg != "" {
		return appendErr(out, msg)
	}
	st := sess.store
	dst, src := args[1], args[2]
	locked := sess.lockKeys(args[1:3], 1)
	defer sess.unlockKeys(locked)
	o := st.shardOf(src).get(src, sess.now)
	if o != nil && o.kind != KindZSet {
		return appendErr(out, errWrongType)
	}
	var ms []zmember
	if o != nil {
		ms = slices.Clone(q.members(o.zset))
	}
	return resp.AppendInt(out, int64(sess.storeZset(dst, ms)))
}

// storeZset replaces dst (its shard locked) with a sorted set of ms, or
// deletes it if ms is empty; it returns len(ms).
func (sess *Session) storeZset(dst []byte, ms []zmember) int {
	sh := sess.store.shardOf(dst)
	sh.get(dst, sess.now)
	sh.remove(dst)
	if len(ms) == 0 {
		return 0
	}
	o := sh.add(dst, newObject(KindZSet))
	sess.signal(dst)
	for _, m := range ms {
		o.zset.add([]byte(m.member), m.score)
	}
	return o.zset.len()
}

// shardOf is the shard that holds key (locked by the caller).
func (s *Store) shardOf(key []byte) *shard { return &s.shards[s.shardIndex(key)] }

// cmdZCount is ZCOUNT key min max and ZLEXCOUNT key min max.
func cmdZCount(sess *Session, out []byte, args [][]byte) []byte {
	r := zrange{by: byScore}
	if equalFold(args[0], "zlexcount") {
		r.by = byLex
	}
	if msg := r.parse(args[2], args[3]); msg != "" {
		return appendErr(out, msg)
	}
	o, sh, reply := sess.existing(args[1], KindZSet, out, appendZero)
	defer sess.unlockShard(sh)
	if o == nil {
		return reply
	}
	from, to := r.span(o.zset, false)
	return resp.AppendInt(out, int64(to-from))
}

// cmdZRemRange is ZREMRANGEBYSCORE, ZREMRANGEBYLEX, ZREMRANGEBYRANK.
func cmdZRemRange(sess *Session, out []byte, args [][]byte) []byte {
	var r zrange
	switch {
	case equalFold(args[0], "zremrangebyscore"):
		r.by = byScore
	case equalFold(args[0], "zremrangebylex"):
		r.by = byLex
	}
	if msg := r.parse(args[2], args[3]); msg != "" {
		return appendErr(out, msg)
	}
	o, sh, reply := sess.existing(args[1], KindZSet, out, appendZero)
	defer sess.unlockShard(sh)
	if o == nil {
		return reply
	}
	z := o.zset
	from, to := r.span(z, false)
	for _, m := range z.sorted[from:to] {
		delete(z.score, m.member)
	}
	z.sorted = slices.Delete(z.sorted, from, to)
	if z.len() == 0 {
		sh.remove(args[1])
	}
	return resp.AppendInt(out, int64(to-from))
}

// rank returns member's index in ascending order, or -1.
func (z *zset) rank(member []byte) int {
	s, ok := z.score[string(member)]
	if !ok {
		return -1
	}
	i, _ := slices.BinarySearchFunc(z.sorted, zmember{s, string(member)}, zcmp)
	return i
}

// cmdZRank is ZRANK and ZREVRANK key member.
func cmdZRank(sess *Session, out []byte, args [][]byte) []byte {
	o, sh, reply := sess.existing(args[1], KindZSet, out, resp.AppendNull)
	defer sess.unlockShard(sh)
	if o == nil {
		return reply
	}
	i := o.zset.rank(args[2])
	switch {
	case i < 0:
		return resp.AppendNull(out)
	case equalFold(args[0], "zrevrank"):
		i = o.zset.len() - 1 - i
	}
	return resp.AppendInt(out, int64(i))
}
