package kv

import (
	"sync"
	"sync/atomic"

	"github.com/iomux/iomux/internal/resp"
)

// Transactions: MULTI, EXEC, DISCARD, WATCH, UNWATCH, as Redis has them.
//
// Between MULTI and EXEC commands are queued (copied: their arguments are
// slices of the read buffer); a command refused while queuing (unknown,
// wrong arity) makes EXEC answer EXECABORT. EXEC locks every shard, in
// order, and runs the queue holding them (holdsAll: the commands' own
// locking is skipped), so no command of any loop runs in between.
//
// WATCH registers the session on each key (Store.watch) and remembers
// whether the key was live. A write command, holding its keys' shards,
// marks every session watching one of them dirty (touch) if the key
// existed before or exists after it (touchLocked, touchCreated); FLUSHDB
// and FLUSHALL mark those watching a key that existed. EXEC, holding every
// lock, also treats a watched key that was live and is now gone (expired,
// removed by active expiry) as touched, and then answers a null array. When
// no key is watched a write pays one atomic load (Store.watching).

func init() {
	register(
		&command{name: "multi", arity: 1, run: cmdMulti, flags: "fast"},
		&command{name: "exec", arity: 1, run: cmdExec, flags: ""},
		&command{name: "discard", arity: 1, run: cmdDiscard, flags: "fast"},
		&command{name: "watch", arity: -2, run: cmdWatch, flags: "fast", first: 1, last: -1, step: 1},
		&command{name: "unwatch", arity: 1, run: cmdUnwatch, flags: "fast"},
	)
}

// multiState is a transaction being queued.
type multiState struct {
	queue []queued
	abort bool // a command was refused while queuing: EXEC answers EXECABORT
}

type queued struct {
	c    *command
	args [][]byte // copies, in one array
}

// watchState is what a session watches.
type watchState struct {
	keys  []watchedKey
	dirty atomic.Bool // a watched key was written (by any loop)
}

type watchedKey struct {
	key  string
	live bool // the key existed, unexpired, when watched
}

// watchTable is the Store's index of watching sessions by key.
type watchTable struct {
	mu       sync.Mutex
	sessions map[string][]*Session
	count    atomic.Int64 // watched (key, session) pairs: 0 makes touch free
}

// lockIdx locks shard i for sess's command, and returns it (not locked
// again while sess's EXEC holds every shard).
func (sess *Session) lockIdx(i int) *shard {
	sh := &sess.store.shards[i]
	if !sess.holdsAll {
		sh.mu.Lock()
	}
	if sess.touching != nil {
		sess.touchLocked(func(k []byte) bool { return sess.store.shardIndex(k) == i })
	}
	return sh
}

// lockShard locks the shard of key for sess's command (lockIdx).
func (sess *Session) lockShard(key []byte) *shard {
	return sess.lockIdx(sess.store.shardIndex(key))
}

func (sess *Session) unlockShard(sh *shard) {
	if len(sess.touchLater) > 0 {
		sess.touchCreated(func(k []byte) bool { return sess.store.shardIndex(k) == sh.idx })
	}
	if !sess.holdsAll {
		sh.mu.Unlock()
	}
}

// lockKeys locks the shards of keys (every stride-th) in ascending order,
// as Store.lockKeys, for sess's command.
func (sess *Session) lockKeys(keys [][]byte, stride int) shardSet {
	var set shardSet
	if !sess.holdsAll {
		set = sess.store.lockKeys(keys, stride)
	}
	if sess.touching != nil {
		sess.touchLocked(sess.lockedBy(set))
	}
	return set
}

func (sess *Session) unlockKeys(set shardSet) {
	if len(sess.touchLater) > 0 {
		sess.touchCreated(sess.lockedBy(set))
	}
	sess.store.unlock(set)
}

// lockedBy reports whether a key's shard is in set (or every shard is held).
func (sess *Session) lockedBy(set shardSet) func(k []byte) bool {
	return func(k []byte) bool {
		i := sess.store.shardIndex(k)
		return sess.holdsAll || set[i/64]&(1<<(i%64)) != 0
	}
}

// touchLocked touches, for the running write command, the watched keys
// whose shards it has just locked (locked) and that exist: they are about
// to be written. Those that do not exist are looked at again when their
// shard is unlocked (touchCreated), so a write that deletes nothing or
// creates nothing touches nothing. Each key is looked at once.
func (sess *Session) touchLocked(locked func(k []byte) bool) {
	st := sess.store
	pos := 0
	sess.touching.eachKey(sess.touchArgs, func(k []byte) {
		bit := uint64(1) << min(pos, 63)
		pos++
		if sess.touchSeen&bit != 0 && pos <= 63 || !locked(k) {
			return
		}
		sess.touchSeen |= bit
		if st.shardOf(k).live(k, sess.now) {
			st.touch(k)
		} else {
			sess.touchLater = append(sess.touchLater, k)
		}
	})
}

// touchCreated touches the keys of touchLater in shards about to be
// unlocked (locked) that exist now: the command created them.
func (sess *Session) touchCreated(locked func(k []byte) bool) {
	st := sess.store
	later := sess.touchLater[:0]
	for _, k := range sess.touchLater {
		switch {
		case !locked(k):
			later = append(later, k)
		case st.shardOf(k).live(k, sess.now):
			st.touch(k)
		}
	}
	sess.touchLater = later
}

// live reports whether key is in the locked shard sh and unexpired,
// without removing it.
func (sh *shard) live(key []byte, now int64) bool {
	o := sh.keys[string(key)]
	return o != nil && (o.expireAt == 0 || o.expireAt > now)
}

// flush deletes every key (FLUSHDB, FLUSHALL), marking the sessions that
// watch a key that existed.
func (sess *Session) flush() {
	st := sess.store
	if !sess.holdsAll {
		st.lockAll()
		defer st.unlockAll()
	}
	if st.watch.count.Load() > 0 {
		st.watch.mu.Lock()
		for k, ss := range st.watch.sessions {
			if st.shards[st.shardIndex([]byte(k))].get([]byte(k), sess.now) != nil {
				for _, s := range ss {
					s.watch.dirty.Store(true)
				}
			}
		}
		st.watch.mu.Unlock()
	}
	for i := range st.shards {
		clear(st.shards[i].keys)
		clear(st.shards[i].volatile)
	}
}

// wrote touches keys now, for a command that knows better than its key
// positions what it wrote (a blocking command that was served).
func (sess *Session) wrote(keys ...[]byte) {
	if sess.store.watch.count.Load() == 0 {
		return
	}
	for _, k := range keys {
		sess.store.touch(k)
	}
}

// touch marks dirty every session watching key.
func (s *Store) touch(key []byte) {
	s.watch.mu.Lock()
	for _, w := range s.watch.sessions[string(key)] {
		w.watch.dirty.Store(true)
	}
	s.watch.mu.Unlock()
}

// eachKey calls fn for each key args names, by the command's key
// positions, or for the commands whose keys move, by their numkeys.
func (c *command) eachKey(args [][]byte, fn func(k []byte)) {
	switch c.name {
	case "zunionstore", "zinterstore", "zdiffstore":
		fn(args[1])
		return
	case "lmpop", "zmpop", "blmpop", "bzmpop":
		at := 1
		if c.name[0] == 'b' {
			at = 2
		}
		if n, ok := resp.ParseInt(args[at]); ok && n > 0 && int(n) < len(args)-at {
			for _, k := range args[at+1 : at+1+int(n)] {
				fn(k)
			}
		}
		return
	}
	if c.first <= 0 {
		return
	}
	last := c.last
	if last < 0 {
		last += len(args)
	}
	for i := c.first; i <= last && i < len(args); i += max(c.step, 1) {
		fn(args[i])
	}
}

// noMulti reports whether c is refused inside MULTI (Redis's no-multi
// flag: SAVE, SHUTDOWN).
func (c *command) noMulti() bool { return c.name == "save" || c.name == "shutdown" }

// queue adds a command to the transaction: QUEUED, or Redis's error for
// an unknown command or a wrong arity, which aborts the transaction.
func (sess *Session) queue(out []byte, c *command, args [][]byte) []byte {
	m := sess.multi
	if c == nil {
		m.abort = true
		return appendUnknown(out, args)
	}
	msg := ""
	switch {
	case c.arity > 0 && len(args) != c.arity || c.arity < 0 && len(args) < -c.arity:
		m.abort = true
		sess.reject(c)
		return appendArity(out, c.name)
	case c.noMulti():
		msg = "ERR Command not allowed inside a transaction"
	case c.oom && sess.store.overMaxmemory():
		msg = errOOM
	}
	if msg != "" {
		m.abort = true
		sess.reject(c)
		return appendErr(out, msg)
	}
	n := 0
	for _, a := range args {
		n += len(a)
	}
	buf := make([]byte, 0, n)
	cp := make([][]byte, len(args))
	for i, a := range args {
		buf = append(buf, a...)
		cp[i] = buf[len(buf)-len(a) : len(buf) : len(buf)]
	}
	m.queue = append(m.queue, queued{c: c, args: cp})
	return append(out, "+QUEUED\r\n"...)
}

func cmdMulti(sess *Session, out []byte, args [][]byte) []byte {
	if sess.multi != nil {
		return appendErr(out, "ERR MULTI calls can not be nested")
	}
	sess.multi = &multiState{}
	return resp.AppendOK(out)
}

func cmdDiscard(sess *Session, out []byte, args [][]byte) []byte {
	if sess.multi == nil {
		return appendErr(out, "ERR DISCARD without MULTI")
	}
	sess.multi = nil
	sess.unwatch()
	return resp.AppendOK(out)
}

// cmdExec runs the queue holding every shard: an array of the replies,
// a null array if a watched key was touched, EXECABORT if queuing failed.
func cmdExec(sess *Session, out []byte, args [][]byte) []byte {
	m := sess.multi
	if m == nil {
		return appendErr(out, "ERR EXEC without MULTI")
	}
	sess.multi = nil
	if m.abort {
		sess.unwatch()
		return appendErr(out, "EXECABORT Transaction discarded because of previous errors.")
	}
	for _, q := range m.queue {
		if q.c.oom && sess.store.overMaxmemory() {
			sess.unwatch()
			return appendErr(out, "EXECABORT Transaction discarded because of: "+errOOM)
		}
	}
	st := sess.store
	st.lockAll()
	defer st.unlockAll()
	if sess.watchTouched() {
		sess.unwatch()
		return resp.AppendNullArray(out)
	}
	sess.unwatch()
	sess.holdsAll, sess.inExec = true, true
	defer func() { sess.holdsAll, sess.inExec = false, false }()
	out = resp.AppendArray(out, len(m.queue))
	for _, q := range m.queue {
		out = sess.run(out, q.c, q.args)
	}
	return out
}

// watchTouched reports whether a watched key was written, or was live when
// watched and is gone now (every shard locked).
func (sess *Session) watchTouched() bool {
	w := sess.watch
	if w == nil {
		return false
	}
	if w.dirty.Load() {
		return true
	}
	st := sess.store
	for _, k := range w.keys {
		if k.live && st.shards[st.shardIndex([]byte(k.key))].get([]byte(k.key), sess.now) == nil {
			return true
		}
	}
	return false
}

// cmdWatch is WATCH key...: each key's shard is locked while the session
// is registered on it, so a write either precedes the WATCH or touches it.
func cmdWatch(sess *Session, out []byte, args [][]byte) []byte {
	if sess.multi != nil {
		return appendErr(out, "ERR WATCH inside MULTI is not allowed")
	}
	st := sess.store
	if sess.watch == nil {
		sess.watch = &watchState{}
	}
	w := sess.watch
	for _, k := range args[1:] {
		if w.has(k) {
			continue
		}
		sh := sess.lockShard(k)
		live := sh.get(k, sess.now) != nil
		key := string(k)
		st.watch.mu.Lock()
		st.watch.sessions[key] = append(st.watch.sessions[key], sess)
		st.watch.mu.Unlock()
		st.watch.count.Add(1)
		sess.unlockShard(sh)
		w.keys = append(w.keys, watchedKey{key: key, live: live})
	}
	return resp.AppendOK(out)
}

func (w *watchState) has(k []byte) bool {
	for _, wk := range w.keys {
		if wk.key == string(k) {
			return true
		}
	}
	return false
}

func cmdUnwatch(sess *Session, out []byte, args [][]byte) []byte {
	sess.unwatch()
	return resp.AppendOK(out)
}

// unwatch forgets every watched key.
func (sess *Session) unwatch() {
	w := sess.watch
	if w == nil {
		return
	}
	sess.watch = nil
	st := sess.store
	st.watch.mu.Lock()
	for _, k := range w.keys {
		ss := st.watch.sessions[k.key]
		for i, s := range ss {
			if s == sess {
				ss = append(ss[:i:i], ss[i+1:]...)
				break
			}
		}
		if len(ss) == 0 {
			delete(st.watch.sessions, k.key)
		} else {
			st.watch.sessions[k.key] = ss
		}
	}
	st.watch.mu.Unlock()
	st.watch.count.Add(-int64(len(w.keys)))
}
