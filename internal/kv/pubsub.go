package kv

import (
	"slices"
	"sync"
	"sync/atomic"

	"github.com/iomux/iomux/internal/resp"
)

// Pub/sub: SUBSCRIBE, UNSUBSCRIBE, PSUBSCRIBE, PUNSUBSCRIBE, PUBLISH,
// PUBSUB CHANNELS/NUMSUB/NUMPAT (and the SHARD forms, always empty: there
// is no cluster). PUBLISH encodes the message once and hands that one
// buffer to every subscriber's connection (ConnInfo.Push, from any loop);
// how a subscriber that does not read is dropped is the server's (see
// ConnInfo.Push). A subscribed client may only (un)subscribe, PING and
// QUIT, as in Redis's RESP2.

func init() {
	register(
		&command{name: "subscribe", arity: -2, run: cmdSubscribe, flags: "pubsub noscript loading stale"},
		&command{name: "unsubscribe", arity: -1, run: cmdSubscribe, flags: "pubsub noscript loading stale"},
		&command{name: "psubscribe", arity: -2, run: cmdSubscribe, flags: "pubsub noscript loading stale"},
		&command{name: "punsubscribe", arity: -1, run: cmdSubscribe, flags: "pubsub noscript loading stale"},
		&command{name: "publish", arity: 3, run: cmdPublish, flags: "pubsub loading stale fast"},
		&command{name: "pubsub", arity: -2, run: cmdPubsub, flags: "pubsub loading stale"},
	)
}

// pubsub is the Store's subscriptions: the sessions on each channel and
// each pattern, in the order they subscribed.
type pubsub struct {
	mu       sync.RWMutex
	channels map[string][]*Session
	patterns map[string][]*Session
}

// subscriptions are one session's channels and patterns; the counts are
// read by CLIENT LIST on other loops.
type subscriptions struct {
	channels, patterns []string
	nch, npat          atomic.Int32
}

func (s *subscriptions) count() int { return len(s.channels) + len(s.patterns) }

// subscribed reports whether the session is in pub/sub mode.
func (sess *Session) subscribed() bool { return sess.subs.count() > 0 }

// allowedSubscribed reports whether c may run in pub/sub mode.
func (c *command) allowedSubscribed() bool {
	switch c.name {
	case "subscribe", "unsubscribe", "psubscribe", "punsubscribe", "ping", "quit":
		return true
	}
	return false
}

func appendNotSubscribedErr(out []byte, name string) []byte {
	return appendErr(out, "ERR Can't execute '"+name+
		"': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context")
}

// cmdSubscribe is SUBSCRIBE, PSUBSCRIBE channel... and UNSUBSCRIBE,
// PUNSUBSCRIBE [channel...] (none: all): one reply per channel, with the
// session's subscriptions after it.
func cmdSubscribe(sess *Session, out []byte, args [][]byte) []byte {
	name := sess.lookup(args[0]).name
	pattern := name[0] == 'p'
	subscribe := name == "subscribe" || name == "psubscribe"
	ps := &sess.store.pubsub
	mine := &sess.subs.channels
	index := &ps.channels
	if pattern {
		mine, index = &sess.subs.patterns, &ps.patterns
	}
	targets := args[1:]
	if !subscribe && len(targets) == 0 {
		if len(*mine) == 0 {
			out = resp.AppendArray(out, 3)
			out = resp.AppendBulk(out, name)
			out = resp.AppendNull(out)
			return resp.AppendInt(out, int64(sess.subs.count()))
		}
		for _, ch := range *mine {
			targets = append(targets, []byte(ch))
		}
	}
	for _, t := range targets {
		ch := string(t)
		has := slices.Contains(*mine, ch)
		switch {
		case subscribe && !has:
			*mine = append(*mine, ch)
			ps.mu.Lock()
			(*index)[ch] = append((*index)[ch], sess)
			ps.mu.Unlock()
		case !subscribe && has:
			*mine = slices.DeleteFunc(*mine, func(c string) bool { return c == ch })
			ps.mu.Lock()
			remove(*index, ch, sess)
			ps.mu.Unlock()
		}
		out = resp.AppendArray(out, 3)
		out = resp.AppendBulk(out, name)
		out = resp.AppendBulk(out, t)
		out = resp.AppendInt(out, int64(sess.subs.count()))
	}
	sess.subs.nch.Store(int32(len(sess.subs.channels)))
	sess.subs.npat.Store(int32(len(sess.subs.patterns)))
	return out
}

// remove takes sess off index[key] (the caller holds the lock).
func remove(index map[string][]*Session, key string, sess *Session) {
	q := slices.DeleteFunc(index[key], func(s *Session) bool { return s == sess })
	if len(q) == 0 {
		delete(index, key)
	} else {
		index[key] = q
	}
}

// unsubscribeAll ends every subscription (the client disconnected).
func (sess *Session) unsubscribeAll() {
	if !sess.subscribed() {
		return
	}
	ps := &sess.store.pubsub
	ps.mu.Lock()
	for _, ch := range sess.subs.channels {
		remove(ps.channels, ch, sess)
	}
	for _, p := range sess.subs.patterns {
		remove(ps.patterns, p, sess)
	}
	ps.mu.Unlock()
	sess.subs.channels, sess.subs.patterns = nil, nil
}

// cmdPublish is PUBLISH channel message: the number of clients that were
// sent it (a client subscribed to the channel and a matching pattern
// counts twice, as in Redis).
func cmdPublish(sess *Session, out []byte, args [][]byte) []byte {
	return resp.AppendInt(out, int64(sess.store.Publish(args[1], args[2])))
}

// Publish sends msg to channel's subscribers and to those of the patterns
// it matches, each message encoded once, and returns how many were sent.
func (s *Store) Publish(channel, msg []byte) int {
	ps := &s.pubsub
	ps.mu.RLock()
	defer ps.mu.RUnlock()
	n := 0
	if subs := ps.channels[string(channel)]; len(subs) > 0 {
		m := resp.AppendArray(make([]byte, 0, 40+len(channel)+len(msg)), 3)
		m = resp.AppendBulk(m, "message")
		m = resp.AppendBulk(m, channel)
		m = resp.AppendBulk(m, msg)
		for _, sub := range subs {
			sub.push(m)
		}
		n += len(subs)
	}
	for p, subs := range ps.patterns {
		if !Match([]byte(p), channel) {
			continue
		}
		m := resp.AppendArray(make([]byte, 0, 50+len(p)+len(channel)+len(msg)), 4)
		m = resp.AppendBulk(m, "pmessage")
		m = resp.AppendBulk(m, p)
		m = resp.AppendBulk(m, channel)
		m = resp.AppendBulk(m, msg)
		for _, sub := range subs {
			sub.push(m)
		}
		n += len(subs)
	}
	return n
}

func (sess *Session) push(m []byte) {
	if sess.conn.Push != nil {
		sess.conn.Push(m)
	}
}

// cmdPubsub is PUBSUB CHANNELS [pattern], NUMSUB [channel...], NUMPAT,
// SHARDCHANNELS [pattern], SHARDNUMSUB [channel...].
func cmdPubsub(sess *Session, out []byte, args [][]byte) []byte {
	ps := &sess.store.pubsub
	ps.mu.RLock()
	defer ps.mu.RUnlock()
	sub := args[1]
	switch {
	case equalFold(sub, "channels") && len(args) <= 3, equalFold(sub, "shardchannels") && len(args) <= 3:
		var names []string
		if equalFold(sub, "channels") {
			for ch := range ps.channels {
				if len(args) == 2 || Match(args[2], []byte(ch)) {
					names = append(names, ch)
				}
			}
		}
		slices.Sort(names)
		out = resp.AppendArray(out, len(names))
		for _, ch := range names {
			out = resp.AppendBulk(out, ch)
		}
		return out
	case equalFold(sub, "numsub"), equalFold(sub, "shardnumsub"):
		out = resp.AppendArray(out, 2*(len(args)-2))
		for _, ch := range args[2:] {
			out = resp.AppendBulk(out, ch)
			n := 0
			if equalFold(sub, "numsub") {
				n = len(ps.channels[string(ch)])
			}
			out = resp.AppendInt(out, int64(n))
		}
		return out
	case equalFold(sub, "numpat") && len(args) == 2:
		return resp.AppendInt(out, int64(len(ps.patterns)))
	case equalFold(sub, "help"):
		return appendHelp(out, "PUBSUB", "CHANNELS [<pattern>]", "NUMPAT", "NUMSUB [<channel> ...]",
			"SHARDCHANNELS [<pattern>]", "SHARDNUMSUB [<shardchannel> ...]")
	case equalFold(sub, "channels"), equalFold(sub, "shardchannels"), equalFold(sub, "numpat"):
		return appendErr(out, "ERR wrong number of arguments for 'pubsub|"+string(appendLower(nil, sub))+"' command")
	}
	return unknownSubcommand(out, sub, "PUBSUB")
}

func appendLower(out, b []byte) []byte {
	for _, c := range b {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		out = append(out, c)
	}
	return out
}
