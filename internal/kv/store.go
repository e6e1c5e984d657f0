// Package kv is the keyspace of iomux kv-server: strings, lists, sets,
// hashes and sorted sets under Redis's command set, with lazy and active
// expiry, shared by every event loop through locked shards; and the
// commands between clients: blocking pops (block.go), transactions
// (multi.go) and pub/sub (pubsub.go), whose hooks into the server are
// ConnInfo's Wake, WakeLocal and Push and Session.Blocked. It is in memory
// only: nothing is written to disk, and everything is lost when the
// process exits.
//
// A Session runs one client's commands: Exec parses nothing (the RESP
// arguments come from internal/resp) and appends the reply to a buffer,
// allocating nothing for the reads and overwrites of a steady workload.
package kv

import (
	"math"
	"math/bits"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/iomux/iomux/internal/resp"
)

var posInf, negInf = math.Inf(1), math.Inf(-1)

// shardCount is the number of independently locked parts of the keyspace:
// enough that loops on different cores rarely meet on one lock, few enough
// that whole-keyspace commands (KEYS, DBSIZE, FLUSHALL) stay cheap.
const shardCount = 64

// Store is the keyspace: shardCount shards, each a map under its own
// mutex. A command locks the shards of its keys (in ascending order, for
// the multi-key commands MSET, MGET, DEL, EXISTS), so every command is
// atomic, as in Redis, whatever the loop count.
type Store struct {
	hashKey uint64 // shardIndex's: random per Store
	shards  [shardCount]shard
	start   time.Time
	// Info is what INFO and CONFIG GET report; set it before serving.
	Info ServerInfo
	// Counters for INFO.
	clients, commands, expired atomic.Int64
	cmdStats                   []cmdStat // by command.idx

	settings  settings     // CONFIG SET's tunables
	maxmemory atomic.Int64 // CONFIG SET maxmemory: 0 none (maxmemory.go)

	sessMu   sync.Mutex
	sessions map[int64]*Session // every connected client, by id (CLIENT LIST, KILL)

	// Blocked clients (block.go). blockMu is taken after shard locks, never
	// before.
	blockMu        sync.Mutex
	waiters        map[string][]*Session // the clients blocked on each key, in the order they blocked
	blockedClients atomic.Int64

	watch  watchTable // WATCHed keys (multi.go)
	pubsub pubsub     // subscriptions (pubsub.go)
}

// cmdStat is one command's INFO commandstats: calls answered (failed: with
// an error), and calls refused before running (arity, OOM, pub/sub mode).
type cmdStat struct{ calls, failed, rejected atomic.Int64 }

type shard struct {
	mu       sync.Mutex
	keys     map[string]*object
	volatile map[string]*object // the keys of keys that have an expiry
	idx      int                // its index in Store.shards
	_        [32]byte           // keep neighbouring shards' locks off one cache line
}

// Kind is an object's type, as TYPE names it.
type Kind uint8

// The kinds of value.
const (
	KindString Kind = iota
	KindList
	KindSet
	KindHash
	KindZSet
)

func (k Kind) String() string {
	return [...]string{"string", "list", "set", "hash", "zset"}[k]
}

// object is one key's value and expiry (expireAt in Unix milliseconds, 0:
// none). Only the field of its kind is set.
type object struct {
	kind     Kind
	expireAt int64
	str      []byte
	list     *list
	set      map[string]struct{}
	hash     map[string][]byte
	zset     *zset
}

// newObject is an empty value of kind k.
func newObject(k Kind) *object {
	o := &object{kind: k}
	switch k {
	case KindList:
		o.list = &list{}
	case KindSet:
		o.set = make(map[string]struct{})
	case KindHash:
		o.hash = make(map[string][]byte)
	case KindZSet:
		o.zset = newZset()
	}
	return o
}

// NewStore returns an empty keyspace.
func NewStore() *Store {
	s := &Store{hashKey: rand.Uint64(), start: time.Now()}
	s.sessions = make(map[int64]*Session)
	s.cmdStats = make([]cmdStat, len(commandList))
	s.waiters = make(map[string][]*Session)
	s.watch.sessions = make(map[string][]*Session)
	s.pubsub.channels = make(map[string][]*Session)
	s.pubsub.patterns = make(map[string][]*Session)
	for i := range s.shards {
		s.shards[i].keys = make(map[string]*object)
		s.shards[i].volatile = make(map[string]*object)
		s.shards[i].idx = i
	}
	return s
}

// shardIndex is the shard of key: FNV-1a from a random starting value,
// its bits folded. Keys chosen to share a shard cost lock contention at
// worst, never a map's lookups (each shard's maps hash on their own).
func (s *Store) shardIndex(key []byte) int {
	h := s.hashKey
	for _, b := range key {
		h ^= uint64(b)
		h *= 1099511628211
	}
	h ^= h >> 32
	h ^= h >> 16
	return int(h & (shardCount - 1))
}

// The lookup of a command on one key of one kind, written once: ofKind, and
// the two ways a command meets an absent key, existing and existingOrNew.
// Each locks key's shard; the caller unlocks sh.

// ofKind returns key's object if it is of kind k, nil if key is absent. If
// key holds another kind, o is nil and reply is out with WRONGTYPE (Redis's
// checkType); otherwise reply is nil.
func (sess *Session) ofKind(key []byte, k Kind, out []byte) (o *object, sh *shard, reply []byte) {
	sh = sess.lockShard(key)
	o = sh.get(key, sess.now)
	if o != nil && o.kind != k {
		return nil, sh, appendErr(out, errWrongType)
	}
	return o, sh, nil
}

// existing is ofKind for a command that reads key, or changes it only if
// it exists. When o is nil there is nothing to work on, and reply is out
// with the whole answer: WRONGTYPE if key holds another kind, none's if it
// is absent (Redis's lookupKeyReadOrReply and checkType in one).
func (sess *Session) existing(key []byte, k Kind, out []byte, none func([]byte) []byte) (o *object, sh *shard, reply []byte) {
	o, sh, reply = sess.ofKind(key, k, out)
	if o == nil && reply == nil {
		reply = none(out)
	}
	return o, sh, reply
}

// existingOrNew is ofKind for a command that adds to key's value: an absent
// key is stored with an empty value of kind k. o is nil only when key holds
// another kind, with WRONGTYPE in reply.
func (sess *Session) existingOrNew(key []byte, k Kind, out []byte) (o *object, sh *shard, reply []byte) {
	o, sh, reply = sess.ofKind(key, k, out)
	if o == nil && reply == nil {
		o = sh.add(key, newObject(k))
		if k == KindList || k == KindZSet {
			sess.signal(key)
		}
	}
	return o, sh, reply
}

// appendZero and appendEmpty are the answers of a command on an absent key
// that counts, or lists.
func appendZero(out []byte) []byte  { return resp.AppendInt(out, 0) }
func appendEmpty(out []byte) []byte { return resp.AppendArray(out, 0) }

// shardSet is a set of shard indexes, for locking several in order.
type shardSet [shardCount / 64]uint64

func (m *shardSet) add(i int) { m[i/64] |= 1 << (i % 64) }

// each calls fn for each index in ascending order.
func (m *shardSet) each(fn func(i int)) {
	for w, word := range m {
		for word != 0 {
			b := bits.TrailingZeros64(word)
			fn(w*64 + b)
			word &^= 1 << b
		}
	}
}

// lockSet locks the shards of set in ascending order.
func (s *Store) lockSet(set shardSet) {
	set.each(func(i int) { s.shards[i].mu.Lock() })
}

func (s *Store) unlock(set shardSet) {
	set.each(func(i int) { s.shards[i].mu.Unlock() })
}

// lockAll locks every shard, in order.
func (s *Store) lockAll() {
	for i := range s.shards {
		s.shards[i].mu.Lock()
	}
}

func (s *Store) unlockAll() {
	for i := range s.shards {
		s.shards[i].mu.Unlock()
	}
}

// get returns key's live object in the locked shard sh, deleting it if it
// has expired (lazy expiry); nil if there is none.
func (sh *shard) get(key []byte, now int64) *object {
	o := sh.keys[string(key)]
	if o != nil && o.expireAt != 0 && o.expireAt <= now {
		sh.remove(key)
		return nil
	}
	return o
}

// add stores o under key (which must be absent) and returns it.
func (sh *shard) add(key []byte, o *object) *object {
	sh.keys[string(key)] = o
	return o
}

// remove deletes key; it reports whether it was there.
func (sh *shard) remove(key []byte) bool {
	o := sh.keys[string(key)]
	if o == nil {
		return false
	}
	if o.expireAt != 0 {
		delete(sh.volatile, string(key))
	}
	delete(sh.keys, string(key))
	return true
}

// setExpiry sets o's expiry (0: none), keeping the volatile index true.
func (sh *shard) setExpiry(key []byte, o *object, at int64) {
	switch {
	case at != 0 && o.expireAt == 0:
		sh.volatile[string(key)] = o
	case at == 0 && o.expireAt != 0:
		delete(sh.volatile, string(key))
	}
	o.expireAt = at
}

// Keys returns the number of keys, expired ones not yet removed included
// (DBSIZE's answer, as in Redis).
func (s *Store) Keys() int {
	n, _ := s.counts(false)
	return n
}

// counts returns the number of keys and of those with a TTL, expired ones
// not yet removed included; held says the caller holds every shard's lock
// (an EXEC).
func (s *Store) counts(held bool) (keys, volatile int) {
	for i := range s.shards {
		sh := &s.shards[i]
		if !held {
			sh.mu.Lock()
		}
		keys += len(sh.keys)
		volatile += len(sh.volatile)
		if !held {
			sh.mu.Unlock()
		}
	}
	return keys, volatile
}

// Flush deletes every key.
func (s *Store) Flush() {
	s.lockAll()
	for i := range s.shards {
		sh := &s.shards[i]
		clear(sh.keys)
		clear(sh.volatile)
	}
	s.unlockAll()
}

// Active expiry, as Redis's activeExpireCycle: sample keys that have an
// expiry, delete the expired ones, and go on while more than a quarter of
// a sample had expired, within a time budget, one shard locked at a time.
const (
	expireSample  = 20
	expireRepeat  = expireSample / 4
	expireMaxRuns = 16 // samples per shard per cycle, at most
)

// ExpireCycle removes expired keys from the shards whose index is i mod
// of (one loop of several takes its share) and returns how many. It stops
// after budget, and holds a shard's lock for one sample at a time, so
// commands on that shard wait at most that long.
func (s *Store) ExpireCycle(i, of int, budget time.Duration) int {
	start := time.Now()
	deadline := start.Add(budget)
	removed := 0
	for idx := i; idx < shardCount; idx += max(of, 1) {
		sh := &s.shards[idx]
		for range expireMaxRuns {
			sh.mu.Lock()
			now := time.Now().UnixMilli()
			seen, gone := 0, 0
			for k, o := range sh.volatile { // Go starts a map's range at random
				if seen == expireSample {
					break
				}
				seen++
				if o.expireAt <= now {
					delete(sh.volatile, k)
					delete(sh.keys, k)
					gone++
				}
			}
			sh.mu.Unlock()
			removed += gone
			if gone <= expireRepeat || time.Now().After(deadline) {
				break
			}
		}
		if time.Now().After(deadline) {
			break
		}
	}
	s.expired.Add(int64(removed))
	return removed
}
