package kv

import (
	"math"
	"strconv"

	"github.com/iomux/iomux/internal/resp"
)

// Blocking commands: BLPOP, BRPOP, BLMOVE, BRPOPLPUSH, BLMPOP, BZPOPMIN,
// BZPOPMAX, BZMPOP. A client whose keys are all empty is blocked: its
// command is left unanswered (and unconsumed: the server runs it again
// when the client is woken), its Session is queued on each key, and no
// goroutine waits. A write that creates a list or sorted set wakes the
// first client queued on its key (ConnInfo.Wake: the server runs the
// command again on the client's loop); a client that leaves the queue
// after being woken passes the wake on to the next, so clients are served
// in the order they blocked. The server times a blocked client out with a
// loop timer (BlockDeadline); CLIENT UNBLOCK and a disconnect end the wait.
// Inside MULTI a blocking command does not block: it answers as if timed
// out, as in Redis.

func init() {
	register(
		&command{name: "blpop", arity: -3, run: cmdBPop, flags: "write", first: 1, last: -2, step: 1},
		&command{name: "brpop", arity: -3, run: cmdBPop, flags: "write", first: 1, last: -2, step: 1},
		&command{name: "blmove", arity: 6, run: cmdBLMove, flags: "write", first: 1, last: 2, step: 1},
		&command{name: "brpoplpush", arity: 4, run: cmdBLMove, flags: "write", first: 1, last: 2, step: 1},
		&command{name: "blmpop", arity: -5, run: cmdBLMPop, flags: "write"},
		&command{name: "bzpopmin", arity: -3, run: cmdBZPop, flags: "write fast", first: 1, last: -2, step: 1},
		&command{name: "bzpopmax", arity: -3, run: cmdBZPop, flags: "write fast", first: 1, last: -2, step: 1},
		&command{name: "bzmpop", arity: -5, run: cmdBZMPop, flags: "write"},
	)
}

// blockState is what a blocked client waits for. Session.blk is set and
// cleared under Store.blockMu, which wake (from any loop) holds.
type blockState struct {
	keys     []string // the keys it is queued on
	deadline int64    // Unix ms it times out at; 0: never
	woken    bool     // a write woke it since it last looked (under Store.blockMu)
}

// CLIENT UNBLOCK's requests, in Session.unblockReq.
const (
	unblockNone = iota
	unblockTimeout
	unblockError
)

// Blocked reports whether the last command run left the client blocked:
// the server keeps that command buffered and runs it again when the
// client is woken (ConnInfo.Wake) or at BlockDeadline.
func (sess *Session) Blocked() bool { return sess.blk != nil }

// BlockDeadline is the Unix ms at which a blocked client times out; 0 if
// it waits forever (or is not blocked).
func (sess *Session) BlockDeadline() int64 {
	if sess.blk == nil {
		return 0
	}
	return sess.blk.deadline
}

// blockedFlag reports whether the session waits in a blocking command
// (for CLIENT LIST from any loop).
func (sess *Session) blockedFlag() bool { return sess.blocked.Load() }

// parseTimeout parses a blocking command's timeout in seconds (a float,
// as Redis reads it) into milliseconds; errMsg is Redis's error.
func parseTimeout(b []byte) (ms int64, errMsg string) {
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil || f != f {
		return 0, "ERR timeout is not a float or out of range"
	}
	f = math.Ceil(f * 1000)
	switch {
	case f > math.MaxInt64/2:
		return 0, "ERR timeout is out of range"
	case f < 0:
		return 0, "ERR timeout is negative"
	}
	return int64(f), ""
}

// blocking runs a blocking command: try appends the answer and reports
// whether there was one (an element, or an error); if not, the client
// blocks on keys for timeout ms (0: forever), or is answered with a null
// array when the wait is over (timed out, CLIENT UNBLOCK), as in Redis.
func (sess *Session) blocking(out []byte, keys [][]byte, timeout int64, try func(out []byte) ([]byte, bool)) []byte {
	sess.touching = nil // try touches what it pops (wrote): a client that blocks wrote nothing
	if reply, ok := try(out); ok {
		sess.unblock()
		return reply
	}
	if sess.inExec { // in MULTI, BLMOVE and BRPOPLPUSH answer a null bulk, the others a null array
		if sess.last.name == "blmove" || sess.last.name == "brpoplpush" {
			return resp.AppendNull(out)
		}
		return resp.AppendNullArray(out)
	}
	if sess.blk == nil {
		sess.blockOn(keys, timeout)
		return out
	}
	switch sess.unblockReq.Swap(unblockNone) {
	case unblockTimeout:
		sess.unblock()
		return resp.AppendNullArray(out)
	case unblockError:
		sess.unblock()
		return appendErr(out, "UNBLOCKED client unblocked via CLIENT UNBLOCK")
	}
	if d := sess.blk.deadline; d != 0 && sess.now >= d {
		sess.unblock()
		return resp.AppendNullArray(out)
	}
	st := sess.store
	st.blockMu.Lock()
	sess.blk.woken = false // it looked, and there was nothing for it
	st.blockMu.Unlock()
	return out
}

// blockOn queues the session on keys.
func (sess *Session) blockOn(keys [][]byte, timeout int64) {
	b := sess.blkSpare
	if b == nil {
		b = &blockState{}
	}
	sess.blkSpare = nil
	b.keys, b.deadline, b.woken = b.keys[:0], 0, false
	if timeout > 0 {
		b.deadline = sess.now + timeout
	}
	st := sess.store
	st.blockMu.Lock()
	for _, k := range keys {
		key := string(k)
		if q := st.waiters[key]; !containsSession(q, sess) {
			st.waiters[key] = append(q, sess)
			b.keys = append(b.keys, key)
		}
	}
	sess.blk = b // under blockMu: wake reads it from other loops
	st.blockMu.Unlock()
	sess.unblockReq.Store(unblockNone)
	sess.blocked.Store(true)
	st.blockedClients.Add(1)
}

func containsSession(q []*Session, sess *Session) bool {
	for _, s := range q {
		if s == sess {
			return true
		}
	}
	return false
}

// unblock takes the session off its keys' queues, if it was blocked. If a
// write had woken it, the next client on each key is woken in its place
// (what woke it may be there still, for another).
func (sess *Session) unblock() {
	b := sess.blk
	if b == nil {
		return
	}
	st := sess.store
	st.blockMu.Lock()
	defer st.blockMu.Unlock()
	sess.blk, sess.blkSpare = nil, b // no other loop sees b once blk is nil
	sess.blocked.Store(false)
	st.blockedClients.Add(-1)
	for _, k := range b.keys {
		q := st.waiters[k]
		for i, s := range q {
			if s == sess {
				q = append(q[:i:i], q[i+1:]...)
				break
			}
		}
		if len(q) == 0 {
			delete(st.waiters, k)
			continue
		}
		st.waiters[k] = q
		if b.woken {
			q[0].wake(sess.conn.Loop)
		}
	}
}

// signal tells clients blocked on key that it may have an element now
// (sess, on its loop, wrote it): it wakes the first. It costs one atomic
// load when no client is blocked. Callers may hold shard locks (blockMu is
// taken after them, never before).
func (sess *Session) signal(key []byte) {
	s := sess.store
	if s.blockedClients.Load() == 0 {
		return
	}
	s.blockMu.Lock()
	if q := s.waiters[string(key)]; len(q) > 0 {
		q[0].wake(sess.conn.Loop)
	}
	s.blockMu.Unlock()
}

// wake makes the server run the session's blocked command again (blockMu
// held), called from loop from: on the session's own loop, once the
// running callback is done (WakeLocal: no post, no wake-up), else with a
// post to its loop (Wake).
func (sess *Session) wake(from int) {
	if sess.blk != nil {
		sess.blk.woken = true
	}
	switch {
	case from == sess.conn.Loop && sess.conn.WakeLocal != nil:
		sess.conn.WakeLocal()
	case sess.conn.Wake != nil:
		sess.conn.Wake()
	}
}

// clientUnblock is CLIENT UNBLOCK id [TIMEOUT|ERROR]: 1 if that client was
// blocked (it is answered as if timed out, or with an UNBLOCKED error), else 0.
func clientUnblock(sess *Session, out []byte, args [][]byte) []byte {
	id, ok := resp.ParseInt(args[0])
	if !ok {
		return appendErr(out, errNotInteger)
	}
	mode := int32(unblockTimeout)
	if len(args) > 1 {
		switch {
		case len(args) > 2:
			return appendErr(out, errSyntax)
		case equalFold(args[1], "timeout"):
		case equalFold(args[1], "error"):
			mode = unblockError
		default:
			return appendErr(out, "ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR")
		}
	}
	st := sess.store
	st.sessMu.Lock()
	c := st.sessions[id]
	st.sessMu.Unlock()
	if c == nil || !c.blocked.Load() {
		return resp.AppendInt(out, 0)
	}
	c.unblockReq.Store(mode)
	st.blockMu.Lock()
	c.wake(sess.conn.Loop)
	st.blockMu.Unlock()
	return resp.AppendInt(out, 1)
}

// cmdBPop is BLPOP and BRPOP key... timeout: [key, element] from the first
// non-empty list.
func cmdBPop(sess *Session, out []byte, args [][]byte) []byte {
	timeout, msg := parseTimeout(args[len(args)-1])
	if msg != "" {
		return appendErr(out, msg)
	}
	front := equalFold(args[0], "blpop")
	keys := args[1 : len(args)-1]
	return sess.blocking(out, keys, timeout, func(out []byte) ([]byte, bool) {
		return sess.popFirst(out, keys, KindList, func(out []byte, sh *shard, k []byte, o *object) []byte {
			var v []byte
			if front {
				v = o.list.popFront()
			} else {
				v = o.list.popBack()
			}
			if o.list.len() == 0 {
				sh.remove(k)
			}
			out = resp.AppendArray(out, 2)
			out = resp.AppendBulk(out, k)
			return resp.AppendBulk(out, v)
		})
	})
}

// popFirst is the try of every blocking pop: pop's reply for the first
// of keys that holds a value of kind, with its shard locked (pop removes
// the key when it empties it), or false when none does. A key of another
// kind is WRONGTYPE, except for a blocked client being woken, which
// skips it: a key that became another kind wakes nobody.
func (sess *Session) popFirst(out []byte, keys [][]byte, kind Kind, pop func(out []byte, sh *shard, k []byte, o *object) []byte) ([]byte, bool) {
	for _, k := range keys {
		o, sh, reply := sess.ofKind(k, kind, out)
		switch {
		case reply != nil && sess.blk != nil:
		case reply != nil:
			sess.unlockShard(sh)
			return reply, true
		case o != nil:
			out = pop(out, sh, k, o)
			sess.wrote(k)
			sess.unlockShard(sh)
			return out, true
		}
		sess.unlockShard(sh)
	}
	return out, false
}

// cmdBLMove is BLMOVE src dst LEFT|RIGHT LEFT|RIGHT timeout and
// BRPOPLPUSH src dst timeout.
func cmdBLMove(sess *Session, out []byte, args [][]byte) []byte {
	fromFront, toFront := false, true
	if len(args) == 6 {
		var ok1, ok2 bool
		fromFront, ok1 = end(args[3])
		toFront, ok2 = end(args[4])
		if !ok1 || !ok2 {
			return appendErr(out, errSyntax)
		}
	}
	timeout, msg := parseTimeout(args[len(args)-1])
	if msg != "" {
		return appendErr(out, msg)
	}
	return sess.blocking(out, args[1:2], timeout, func(out []byte) ([]byte, bool) {
		locked := sess.lockKeys(args[1:3], 1)
		defer sess.unlockKeys(locked)
		if o := sess.store.shardOf(args[1]).get(args[1], sess.now); sess.blk != nil && o != nil && o.kind != KindList {
			return out, false // as in BLPOP: the source became another kind
		}
		v, reply := sess.move(out, args[1], args[2], fromFront, toFront)
		if reply != nil {
			return reply, true
		}
		if v == nil {
			return out, false
		}
		sess.wrote(args[1], args[2])
		return resp.AppendBulk(out, v), true
	})
}

// cmdBLMPop is BLMPOP timeout numkeys key... LEFT|RIGHT [COUNT n].
func cmdBLMPop(sess *Session, out []byte, args [][]byte) []byte {
	timeout, msg := parseTimeout(args[1])
	if msg != "" {
		return appendErr(out, msg)
	}
	keys, which, count, msg := mpopArgs(args, 2, [2]string{"left", "right"})
	if msg != "" {
		return appendErr(out, msg)
	}
	return sess.blocking(out, keys, timeout, func(out []byte) ([]byte, bool) {
		return sess.popFirst(out, keys, KindList, func(out []byte, sh *shard, k []byte, o *object) []byte {
			return appendLPopped(out, sh, k, o, which == 0, int(min(count, 1<<31)))
		})
	})
}

// cmdBZPop is BZPOPMIN and BZPOPMAX key... timeout: [key, member, score]
// from the first non-empty sorted set.
func cmdBZPop(sess *Session, out []byte, args [][]byte) []byte {
	timeout, msg := parseTimeout(args[len(args)-1])
	if msg != "" {
		return appendErr(out, msg)
	}
	highest := equalFold(args[0], "bzpopmax")
	keys := args[1 : len(args)-1]
	return sess.blocking(out, keys, timeout, func(out []byte) ([]byte, bool) {
		return sess.popFirst(out, keys, KindZSet, func(out []byte, sh *shard, k []byte, o *object) []byte {
			var popped []zmember
			if highest {
				popped = o.zset.popMax(1)
			} else {
				popped = o.zset.popMin(1)
			}
			if o.zset.len() == 0 {
				sh.remove(k)
			}
			out = resp.AppendArray(out, 3)
			out = resp.AppendBulk(out, k)
			out = resp.AppendBulk(out, popped[0].member)
			return appendFloat(out, popped[0].score)
		})
	})
}

// cmdBZMPop is BZMPOP timeout numkeys key... MIN|MAX [COUNT n].
func cmdBZMPop(sess *Session, out []byte, args [][]byte) []byte {
	timeout, msg := parseTimeout(args[1])
	if msg != "" {
		return appendErr(out, msg)
	}
	keys, which, count, msg := mpopArgs(args, 2, [2]string{"min", "max"})
	if msg != "" {
		return appendErr(out, msg)
	}
	return sess.blocking(out, keys, timeout, func(out []byte) ([]byte, bool) {
		return sess.popFirst(out, keys, KindZSet, func(out []byte, sh *shard, k []byte, o *object) []byte {
			return appendZPopped(out, sh, k, o, which == 1, int(min(count, 1<<31)))
		})
	})
}
