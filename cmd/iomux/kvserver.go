package main

import (
	"fmt"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/iomux/iomux/internal/kv"
	"github.com/iomux/iomux/internal/resp"
	"github.com/iomux/iomux/loop"
)

// kvServerProgram is iomux kv-server.
func kvServerProgram() *command {
	return &command{
		name:    "kv-server",
		summary: "an in-memory key-value server speaking Redis's protocol (redis-cli, redis-benchmark)",
		usage: `Usage: iomux kv-server [--addr 127.0.0.1:6380 | --addr unix:PATH] [--loops N] [--backend auto] [-v] [limits]

An in-memory key-value server that speaks RESP2, Redis's protocol, so
redis-cli, redis-benchmark and Redis client libraries talk to it
unchanged. IN MEMORY ONLY: nothing is ever written to disk; every key is
lost when the process exits. One keyspace (database 0) is shared by all
--loops event loops through 64 locked shards; --loops 1 is one core, as
Redis is.

Commands: strings (GET SET[EX|PX|EXAT|PXAT|NX|XX|GET|KEEPTTL] SETNX SETEX
PSETEX GETSET GETDEL GETEX MGET MSET MSETNX INCR DECR INCRBY DECRBY
INCRBYFLOAT APPEND STRLEN GETRANGE SETRANGE), keys (DEL UNLINK EXISTS EXPIRE
PEXPIRE EXPIREAT PEXPIREAT TTL PTTL EXPIRETIME PEXPIRETIME PERSIST TYPE KEYS
SCAN RENAME RENAMENX COPY RANDOMKEY DBSIZE FLUSHDB FLUSHALL OBJECT MEMORY),
lists (LPUSH RPUSH LPUSHX RPUSHX LPOP RPOP LRANGE LLEN LINDEX LSET LINSERT
LREM LTRIM LPOS LMOVE RPOPLPUSH LMPOP), sets (SADD SREM SCARD SISMEMBER
SMISMEMBER SMEMBERS SPOP SRANDMEMBER SMOVE SINTER SUNION SDIFF and STORE
forms, SINTERCARD SSCAN), hashes (HSET HMSET HSETNX HGET HMGET HDEL HGETALL
HKEYS HVALS HLEN HEXISTS HINCRBY HINCRBYFLOAT HSTRLEN HRANDFIELD HSCAN),
sorted sets (ZADD ZINCRBY ZPOPMIN ZPOPMAX ZMPOP ZRANGE[BYSCORE|BYLEX|REV|LIMIT]
and its older forms, ZRANGESTORE ZCOUNT ZLEXCOUNT ZRANK ZREVRANK ZREMRANGEBY*
ZUNION ZINTER ZDIFF and STORE forms, ZINTERCARD ZCARD ZSCORE ZMSCORE ZREM
ZRANDMEMBER ZSCAN), blocking (BLPOP BRPOP BLMOVE BRPOPLPUSH BLMPOP BZPOPMIN
BZPOPMAX BZMPOP), transactions (MULTI EXEC DISCARD WATCH UNWATCH), pub/sub
(SUBSCRIBE UNSUBSCRIBE PSUBSCRIBE PUNSUBSCRIBE PUBLISH PUBSUB), and PING ECHO
SELECT(0) QUIT HELLO(2) CLIENT COMMAND INFO CONFIG FUNCTION(FLUSH) TIME.
A blocked client costs no goroutine; a subscriber with 1 MiB of messages
unread is disconnected.
Inline commands work too: type "SET k v" into nc or telnet.

Keys with a TTL expire when touched (lazily) and, every 100 ms, by a loop
timer that samples them, holding one shard's lock for at most 20 keys at
a time, so traffic is never stalled.

A pipelined batch read at once is answered with one write. Limits (as in
Redis, smaller): a bulk string of --max-bulk, --max-args arguments, an
inline line of --max-inline, a command still incomplete past --max-query
(then the client is dropped). Malformed input gets "-ERR Protocol error:
..." and the connection is closed. Output: past 1 MiB queued for a client
the loop stops reading it (so a client that pipelines and never reads
stops being served), and the client is dropped when its queued output
passes --max-output or makes no progress for --write-timeout.

Example:
  $ iomux kv-server &
  starting up on 127.0.0.1 port 6380
  $ redis-cli -p 6380 set greeting hello
  OK
  $ redis-benchmark -p 6380 -q -n 100000 -P 16
  $ iomux kv-server --addr unix:/tmp/kv.sock &   # a Unix socket: redis-cli -s /tmp/kv.sock
`,
		run: runKVServer,
	}
}

// kvFlushAt is how much reply a batch collects before it is written: a
// pipelined batch of small replies goes in one write, a batch of large
// ones in writes of about this size, so reading stops (back-pressure) as
// soon as the client falls behind.
const kvFlushAt = 64 << 10

// kvExpireEvery is the period of each loop's active-expiry timer, and
// kvExpireBudget the most one tick may take.
const (
	kvExpireEvery  = 100 * time.Millisecond
	kvExpireBudget = time.Millisecond
)

// kvLimits are the server's limits, each a flag.
type kvLimits struct {
	resp.Limits
	maxQuery  int // bytes of one incomplete command, before the client is dropped
	maxOutput int // bytes queued for a client, before it is dropped
}

// kvHandler's optional loop.Handler method.
var _ loop.LoopStartHandler = (*kvHandler)(nil)

// kvHandler runs clients' commands on the shared Store. Each connection
// has its kvConn (its Session, its Parser and its reply buffer), used only
// on its loop.
type kvHandler struct {
	loop.BaseHandler
	store  *kv.Store
	limits kvLimits
	loops  int

	boot sync.Once
}

type kvConn struct {
	conn    *loop.Conn
	pending [][]byte // pub/sub messages not yet written (under its loop's kvOutbox.mu)
	sess    *kv.Session
	parser  resp.Parser
	out     []byte
	timer   *loop.Timer // a blocked client's timeout (kept for its next block)
	armedAt int64       // the deadline timer is set for; 0: not set
}

func (h *kvHandler) OnOpen(c *loop.Conn) {
	h.boot.Do(func() {
		if a, ok := c.LocalAddr().(*net.TCPAddr); ok {
			h.store.Info.Port = a.Port
		}
	})
	kc := &kvConn{conn: c, parser: resp.Parser{Limits: h.limits.Limits}}
	ob := c.Loop().Context().(*kvOutbox)
	info := kv.ConnInfo{FD: c.Fd(), Close: func() { c.AsyncClose() }, Wake: func() { c.AsyncOnData() },
		Loop: c.Loop().Index(), WakeLocal: func() { ob.woken = append(ob.woken, kc) },
		Push: func(p []byte) { ob.push(kc, p) }}
	if a := c.RemoteAddr(); a != nil {
		info.Addr = a.String()
	}
	if a := c.LocalAddr(); a != nil {
		info.LocalAddr = a.String()
		info.Unix = a.Network() == "unix"
	}
	kc.sess = h.store.Connect(info)
	c.SetContext(kc)
}

// OnLoopStart gives a loop its pub/sub outbox and starts its active-expiry
// timer, as the loop starts: loop i of n sweeps the shards i, i+n, ...
func (h *kvHandler) OnLoopStart(l *loop.Loop) {
	l.SetContext(&kvOutbox{loop: l, highWater: l.Server().Options().HighWater})
	i := l.Index()
	l.Every(kvExpireEvery, func() { h.store.ExpireCycle(i, h.loops, kvExpireBudget) })
}

func (h *kvHandler) OnClose(c *loop.Conn, err error) {
	if kc, ok := c.Context().(*kvConn); ok {
		if kc.armedAt != 0 {
			kc.timer.Stop()
		}
		kc.sess.Close() // a blocked client that was woken passes the wake on
		if ob := c.Loop().Context().(*kvOutbox); !ob.running {
			h.runWoken(ob)
		}
	}
}

// OnData runs every complete command buffered, appending the replies to
// one buffer written at the end (or every kvFlushAt bytes). The
// arguments are slices of the loop's read buffer: nothing is copied or
// allocated per command, unless the command stores a new value.
func (h *kvHandler) OnData(c *loop.Conn) {
	kc := c.Context().(*kvConn)
	if ob := c.Loop().Context().(*kvOutbox); !ob.running {
		defer h.runWoken(ob)
	}
	kc.sess.SetNow(time.Now().UnixMilli())
	in := c.Peek(-1)
	used := 0
	out := kc.out[:0]
	defer func() {
		h.armTimeout(c, kc)
		kc.sess.EndBatch()
		c.Discard(used)
		if cap(out) > 4*kvFlushAt {
			out = nil // a burst's buffer is not kept for an idle client
		}
		kc.out = out[:0]
	}()
	for used < len(in) {
		args, n, err := kc.parser.Parse(in[used:])
		if err != nil {
			out = resp.AppendError(out, "ERR "+err.Error())
			h.flush(c, out)
			used = len(in)
			c.Close()
			return
		}
		if n == 0 {
			if len(in)-used > h.limits.maxQuery {
				c.Write(resp.AppendError(out, "ERR Protocol error: query buffer limit reached"))
				used = len(in)
				c.Close()
				return
			}
			break
		}
		kc.sess.SetQueryBuf(len(in) - used)
		used += n
		if len(args) == 0 {
			continue
		}
		out = kc.sess.Exec(out, args)
		if kc.sess.Blocked() {
			used -= n // run again when woken, or at its deadline; what follows waits
			break
		}
		if kc.sess.Quit() {
			h.flush(c, out)
			used = len(in)
			c.Close()
			return
		}
		if len(out) >= kvFlushAt {
			if !h.flush(c, out) {
				return
			}
			out = out[:0]
			if c.Congested() {
				return // OnData runs again for the rest once the client has read (the loop's readResumed)
			}
		}
	}
	if len(out) > 0 {
		h.flush(c, out)
	}
}

// runWoken runs, after a callback, the commands of the clients of this
// loop that it woke (blocked clients whose key got an element), and those
// they wake in turn, in order.
func (h *kvHandler) runWoken(ob *kvOutbox) {
	ob.running = true
	for i := 0; i < len(ob.woken); i++ {
		if c := ob.woken[i].conn; !c.Closed() {
			h.OnData(c)
		}
		ob.woken[i] = nil
	}
	ob.woken = ob.woken[:0]
	ob.running = false
}

// armTimeout keeps a blocked client's timer: one, on its loop, at its
// deadline (OnData then runs the command again, which times it out), and
// none once it is not blocked.
func (h *kvHandler) armTimeout(c *loop.Conn, kc *kvConn) {
	deadline := kc.sess.BlockDeadline()
	switch {
	case deadline == 0 || c.Closed():
		if kc.armedAt != 0 {
			kc.timer.Stop()
			kc.armedAt = 0
		}
		return
	case deadline == kc.armedAt:
		return
	}
	d := max(time.Duration(deadline-time.Now().UnixMilli())*time.Millisecond, 0)
	if kc.timer == nil {
		kc.timer = c.Loop().AfterFunc(d, func() {
			kc.armedAt = 0
			if !c.Closed() {
				h.OnData(c)
			}
		})
	} else {
		kc.timer.Reset(d)
	}
	kc.armedAt = deadline
}

// flush writes out, and drops the client if that leaves more than
// maxOutput queued for it; it reports whether the connection lives on.
func (h *kvHandler) flush(c *loop.Conn, out []byte) bool {
	if _, err := c.Write(out); err != nil {
		return false
	}
	if c.Outbound() > h.limits.maxOutput {
		c.CloseNow()
		return false
	}
	return true
}

func runKVServer(e *env, args []string) error {
	fs := newFlags(kvServerProgram())
	var opt serverOptions
	opt.bind(fs, "127.0.0.1:6380", true)
	opt.unixOK = true
	fs.Lookup("addr").Usage = "`host:port` to listen on (port 0 picks a free one), or unix:PATH for a Unix socket"
	lim := kvLimits{Limits: resp.DefaultLimits, maxQuery: 64 << 20, maxOutput: 64 << 20}
	fs.IntVar(&lim.MaxBulk, "max-bulk", lim.MaxBulk, "largest bulk string (a key or value) in `bytes` (Redis's proto-max-bulk-len)")
	fs.IntVar(&lim.MaxArgs, "max-args", lim.MaxArgs, "most arguments of one command")
	fs.IntVar(&lim.MaxInline, "max-inline", lim.MaxInline, "longest inline command line, and *N/$N header, in `bytes`")
	fs.IntVar(&lim.maxQuery, "max-query", lim.maxQuery, "`bytes` of one command not yet complete, past which the client is dropped")
	fs.IntVar(&lim.maxOutput, "max-output", lim.maxOutput, "`bytes` of replies queued for one client, past which it is dropped")
	writeTimeout := fs.Duration("write-timeout", 2*time.Minute, "drop a client whose queued replies make no progress for this long")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := opt.check(fs); err != nil {
		return err
	}
	for name, v := range map[string]int{"max-bulk": lim.MaxBulk, "max-args": lim.MaxArgs, "max-inline": lim.MaxInline,
		"max-query": lim.maxQuery, "max-output": lim.maxOutput} {
		if v <= 0 {
			return fmt.Errorf("%w: --%s must be positive", errUsage, name)
		}
	}
	if lim.maxQuery < lim.MaxBulk {
		return fmt.Errorf("%w: --max-query (%d) must be at least --max-bulk (%d), or a value that large could never arrive", errUsage, lim.maxQuery, lim.MaxBulk)
	}
	if *writeTimeout <= 0 {
		return fmt.Errorf("%w: --write-timeout must be positive", errUsage)
	}
	opt.openOutputs(e)
	opts := opt.loopOptions()
	opts.WriteTimeout = *writeTimeout
	// The loop stops reading past MaxInput unconsumed bytes: one byte past
	// --max-query, so that an incomplete command that long is seen and
	// refused rather than waited for.
	opts.MaxInput = lim.maxQuery + 1
	h := &kvHandler{store: kv.NewStore(), limits: lim}
	srv := loop.NewServer(h, opts)
	h.loops = srv.Options().Loops // the default in force, if --loops was 0
	h.store.Info = kv.ServerInfo{Loops: h.loops, Backend: opt.backend, Config: map[string]string{
		"proto-max-bulk-len":          strconv.Itoa(lim.MaxBulk),
		"client-query-buffer-limit":   strconv.Itoa(lim.maxQuery),
		"client-output-buffer-limit":  "normal " + strconv.Itoa(lim.maxOutput) + " 0 0 pubsub " + strconv.Itoa(srv.Options().HighWater) + " 0 0",
		"iomux-max-args":              strconv.Itoa(lim.MaxArgs),
		"iomux-max-inline":            strconv.Itoa(lim.MaxInline),
		"iomux-write-timeout-seconds": strconv.Itoa(int(writeTimeout.Seconds())),
	}}
	return opt.serve(e, srv)
}
