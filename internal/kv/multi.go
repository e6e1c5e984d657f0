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
// wrong arity, OOM, SAVE) makes EXEC answer EXECABORT. EXEC locks, in
// order, the shards of every key the queue names (or every shard, when a
// command's keys are not known by position), and runs the queue holding
// them (held, holdsAll: the commands' own locking of those is skipped), so
// no command of any loop touches those keys in between.
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

// multiState is a transaction being queued. Its arrays are kept for the
// session's next transaction, so a steady stream of them allocates nothing.
type multiState struct {
	queue []queued
	abort bool     // a command was refused while queuing: EXEC answers EXECABORT
	buf   []byte   // the queued arguments' bytes
	argv  [][]byte // the queued arguments, slices of buf (an old buf, if it grew)
}

type queued struct {
	c          *command
	start, end int // its arguments: argv[start:end]
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
	if !sess.holds(i) {
		sh.mu.Lock()
	}
	if sess.touching != nil {
		sess.touchLocked(func(k []byte) bool { return sess.store.shardIndex(k) == i })
	}
	return sh
}

// holds reports whether sess's EXEC holds shard i.
func (sess *Session) holds(i int) bool {
	return sess.holdsAll || sess.held[i/64]&(1<<(i%64)) != 0
}

// lockShard locks the shard of key for sess's command (lockIdx).
func (sess *Session) lockShard(key []byte) *shard {
	return sess.lockIdx(sess.store.shardIndex(key))
}

func (sess *Session) unlockShard(sh *shard) {
	if len(sess.touchLater) > 0 {
		sess.touchCreated(func(k []byte) bool { return sess.store.shardIndex(k) == sh.idx })
	}
	if !sess.holds(sh.idx) {
		sh.mu.Unlock()
	}
}

// lockKeys locks the shards of keys (every stride-th) in ascending order,
// as Store.lockKeys, for sess's command.
func (sess *Session) lockKeys(keys [][]byte, stride int) shardSet {
	var set shardSet
	if !sess.holdsAll {
		for i := 0; i < len(keys); i += stride {
			if j := sess.store.shardIndex(keys[i]); !sess.holds(j) {
				set.add(j)
			}
		}
		sess.store.lockSet(set)
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
		return sess.holds(i) || set[i/64]&(1<<(i%64)) != 0
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
	start := len(m.argv)
	for _, a := range args {
		m.buf = append(m.buf, a...)
		m.argv = append(m.argv, m.buf[len(m.buf)-len(a):len(m.buf):len(m.buf)])
	}
	m.queue = append(m.queue, queued{c: c, start: start, end: len(m.argv)})
	return append(out, "+QUEUED\r\n"...)
}

func cmdMulti(sess *Session, out []byte, args [][]byte) []byte {
	if sess.multi != nil {
		return appendErr(out, "ERR MULTI calls can not be nested")
	}
	m := sess.multiSpare
	if m == nil {
		m = &multiState{}
	}
	sess.multi, sess.multiSpare = m, nil
	return resp.AppendOK(out)
}

func cmdDiscard(sess *Session, out []byte, args [][]byte) []byte {
	if sess.multi == nil {
		return appendErr(out, "ERR DISCARD without MULTI")
	}
	sess.endMulti()
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
	defer sess.endMulti()
	st := sess.store
	if m.abort {
		sess.unwatch()
		return appendErr(out, "EXECABORT Transaction discarded because of previous errors.")
	}
	for _, q := range m.queue {
		if q.c.oom && st.overMaxmemory() {
			sess.unwatch()
			return appendErr(out, "EXECABORT Transaction discarded because of: "+errOOM)
		}
	}
	// Hold the shards of every key the queue names (and the watched
	// ones), or every shard when a command's keys are not known by
	// position (FLUSHALL, KEYS, DBSIZE, ...).
	if set, ok := m.shards(sess); ok {
		sess.held = set
		st.lockSet(set)
		defer st.unlock(set)
	} else {
		sess.holdsAll = true
		st.lockAll()
		defer st.unlockAll()
	}
	sess.inExec = true
	defer func() { sess.holdsAll, sess.inExec, sess.held = false, false, shardSet{} }()
	if sess.watchTouched() {
		sess.unwatch()
		return resp.AppendNullArray(out)
	}
	sess.unwatch()
	out = resp.AppendArray(out, len(m.queue))
	for _, q := range m.queue {
		out = sess.run(out, q.c, m.argv[q.start:q.end])
	}
	return out
}

// endMulti ends the transaction, keeping its arrays for the next one.
func (sess *Session) endMulti() {
	m := sess.multi
	sess.multi = nil
	clear(m.argv) // no references to a large value kept
	m.queue, m.abort, m.buf, m.argv = m.queue[:0], false, m.buf[:0], m.argv[:0]
	if cap(m.buf) <= 64<<10 {
		sess.multiSpare = m
	}
}

// shards returns the shards of the keys the queued commands and the
// watched keys name; ok is false if a command's keys are not known.
func (m *multiState) shards(sess *Session) (set shardSet, ok bool) {
	st := sess.store
	add := func(k []byte) { set.add(st.shardIndex(k)) }
	for _, q := range m.queue {
		if !q.c.eachLockKey(m.argv[q.start:q.end], add) {
			return set, false
		}
	}
	if w := sess.watch; w != nil {
		for _, k := range w.keys {
			add([]byte(k.key))
		}
	}
	return set, true
}

// eachLockKey calls fn for every key args names, read or written, and
// reports whether it knows them (by position, or by numkeys); commands
// with no key run under any lock.
func (c *command) eachLockKey(args [][]byte, fn func(k []byte)) bool {
	numkeys := func(at int) bool {
		n, ok := resp.ParseInt(args[at])
		if !ok || n <= 0 || int(n) >= len(args)-at {
			return false
		}
		for _, k := range args[at+1 : at+1+int(n)] {
			fn(k)
		}
		return true
	}
	switch c.name {
	case "ping", "echo", "time":
		return true
	case "zunionstore", "zinterstore", "zdiffstore":
		fn(args[1])
		return numkeys(2)
	case "zunion", "zinter", "zdiff", "zintercard", "sintercard", "lmpop", "zmpop":
		return numkeys(1)
	case "blmpop", "bzmpop":
		return numkeys(2)
	}
	if c.first <= 0 {
		return false
	}
	c.eachKey(args, fn)
	return true
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
