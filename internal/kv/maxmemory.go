package kv

import "runtime/metrics"

// maxmemory: kv-server never evicts (its policy is Redis's noeviction).
// With CONFIG SET maxmemory n (n > 0), a command that may add memory
// (Redis's denyoom commands) is refused with OOM while the Go heap's live
// objects take more than n bytes, as Redis refuses them under noeviction;
// reads and deletes still run. n = 0 (the default) is no limit, and then
// the check costs a command one atomic load.

// denyOOM are the commands that may use more memory (Redis's denyoom flag).
var denyOOM = map[string]bool{
	"set": true, "setnx": true, "setex": true, "psetex": true, "getset": true, "getex": true, "mset": true,
	"msetnx": true, "append": true, "setrange": true, "incr": true, "decr": true, "incrby": true,
	"decrby": true, "incrbyfloat": true, "lpush": true, "rpush": true, "lpushx": true, "rpushx": true,
	"linsert": true, "lset": true, "lmove": true, "rpoplpush": true, "blmove": true, "brpoplpush": true,
	"sadd": true, "sinterstore": true, "sunionstore": true, "sdiffstore": true, "hset": true,
	"hmset": true, "hsetnx": true, "hincrby": true, "hincrbyfloat": true, "zadd": true, "zincrby": true,
	"zunionstore": true, "zinterstore": true, "zdiffstore": true, "zrangestore": true, "copy": true,
}

const errOOM = "OOM command not allowed when used memory > 'maxmemory'."

// overMaxmemory reports whether a maxmemory is set and the heap is above it.
func (s *Store) overMaxmemory() bool {
	limit := s.maxmemory.Load()
	if limit == 0 {
		return false
	}
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(sample)
	return sample[0].Value.Uint64() > uint64(limit)
}
