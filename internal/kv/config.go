package kv

import (
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/iomux/iomux/internal/resp"
)

// CONFIG and FUNCTION, as far as clients and Redis's test harness need
// them. Before each group of tests the harness sends FLUSHALL, FUNCTION
// FLUSH and CONFIG SET of its overrides (save "", encoding thresholds);
// kv-server answers them as Redis documents, and the settings that have no
// effect here are accepted no-ops, listed in tunables with why.

func init() {
	register(
		&command{name: "config", arity: -2, run: cmdConfig, flags: ""},
		&command{name: "function", arity: -2, run: cmdFunction, flags: ""},
	)
}

// tunables are the settings CONFIG SET accepts though kv-server ignores
// them, with Redis 7.0's defaults: Redis's thresholds for switching a
// value from its compact encoding (listpack, intset) to its general one.
// kv-server has one encoding per kind, so they change memory use in Redis
// and nothing here; a client tuning them gets what Redis promises, the
// same replies. CONFIG GET answers what was set.
var tunables = map[string]string{
	"list-max-listpack-size":    "-2",
	"list-compress-depth":       "0",
	"hash-max-listpack-entries": "128",
	"hash-max-listpack-value":   "64",
	"set-max-intset-entries":    "512",
	"zset-max-listpack-entries": "128",
	"zset-max-listpack-value":   "64",
	"stream-node-max-bytes":     "4096",
	"stream-node-max-entries":   "100",
	"hll-sparse-max-bytes":      "3000",
	"lazyfree-lazy-user-del":    "no", // DEL frees at once or in the background: the reply is the same
	"lazyfree-lazy-user-flush":  "no",
}

// tunableAliases are Redis's older names of the tunables (ziplist before
// 7.0), which it still accepts.
var tunableAliases = map[string]string{
	"list-max-ziplist-size":    "list-max-listpack-size",
	"hash-max-ziplist-entries": "hash-max-listpack-entries",
	"hash-max-ziplist-value":   "hash-max-listpack-value",
	"zset-max-ziplist-entries": "zset-max-listpack-entries",
	"zset-max-ziplist-value":   "zset-max-listpack-value",
}

// settings are the tunables' values, shared by every loop.
type settings struct {
	mu     sync.Mutex
	values map[string]string
}

func (s *settings) get(name string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if v, ok := s.values[name]; ok {
		return v
	}
	return tunables[name]
}

func (s *settings) set(name, v string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.values == nil {
		s.values = make(map[string]string)
	}
	s.values[name] = v
}

// configValues are every setting CONFIG GET knows and its value now.
func (sess *Session) configValues() map[string]string {
	conf := map[string]string{"save": "", "appendonly": "no", "databases": "1",
		"maxmemory": strconv.FormatInt(sess.store.maxmemory.Load(), 10), "maxmemory-policy": "noeviction", "port": strconv.Itoa(sess.store.Info.Port),
		"io-threads": "1", "timeout": "0"}
	for k, v := range sess.store.Info.Config {
		conf[k] = v
	}
	for k := range tunables {
		conf[k] = sess.store.settings.get(k)
	}
	for alias, k := range tunableAliases {
		conf[alias] = conf[k]
	}
	return conf
}

// cmdConfig is CONFIG GET pattern... (what this server's settings are, by
// Redis's names), CONFIG SET name value... (the tunables; save "" and
// appendonly no, which are what kv-server does), CONFIG RESETSTAT.
func cmdConfig(sess *Session, out []byte, args [][]byte) []byte {
	sub := args[1]
	switch {
	case equalFold(sub, "get") && len(args) >= 3:
		conf := sess.configValues()
		var names []string
		for k := range conf {
			for _, p := range args[2:] {
				if Match([]byte(strings.ToLower(string(p))), []byte(k)) {
					names = append(names, k)
					break
				}
			}
		}
		slices.Sort(names)
		out = resp.AppendArray(out, 2*len(names))
		for _, k := range names {
			out = resp.AppendBulk(out, k)
			out = resp.AppendBulk(out, conf[k])
		}
		return out
	case equalFold(sub, "set") && len(args) >= 4 && len(args)%2 == 0:
		return configSet(sess, out, args[2:])
	case equalFold(sub, "resetstat") && len(args) == 2:
		sess.store.commands.Store(0)
		sess.store.expired.Store(0)
		for i := range sess.store.cmdStats {
			st := &sess.store.cmdStats[i]
			st.calls.Store(0)
			st.failed.Store(0)
			st.rejected.Store(0)
		}
		return resp.AppendOK(out)
	case equalFold(sub, "help"):
		return appendHelp(out, "CONFIG", "GET <pattern>", "SET <directive> <value> [<directive> <value> ...]", "RESETSTAT")
	case equalFold(sub, "get"), equalFold(sub, "set"), equalFold(sub, "resetstat"):
		return appendErr(out, "ERR wrong number of arguments for 'config|"+strings.ToLower(string(sub))+"' command")
	}
	return unknownSubcommand(out, sub, "CONFIG")
}

// configSet sets every pair or none, as Redis 7.0 does.
func configSet(sess *Session, out []byte, pairs [][]byte) []byte {
	type change struct{ given, name, value string }
	var changes []change
	for i := 0; i < len(pairs); i += 2 {
		given, v := strings.ToLower(string(pairs[i])), string(pairs[i+1])
		name := given
		if k, ok := tunableAliases[name]; ok {
			name = k
		}
		bad := func(why string) []byte {
			return appendErr(out, "ERR CONFIG SET failed (possibly related to argument '"+string(pairs[i])+"') - "+why)
		}
		def, tunable := tunables[name]
		switch {
		case slices.ContainsFunc(changes, func(c change) bool { return c.given == given }):
			return bad("duplicate parameter")
		case name == "save" && strings.TrimSpace(v) == "", name == "appendonly" && strings.EqualFold(v, "no"):
			continue // what kv-server does: no snapshots, no append-only file
		case name == "save", name == "appendonly":
			return bad("kv-server keeps everything in memory only")
		case name == "maxmemory":
			n, ok := parseMemory(v)
			if !ok || n < 0 {
				return bad("argument must be a memory value")
			}
			v = strconv.FormatInt(n, 10)
		case !tunable:
			return appendErr(out, "ERR Unknown option or number of arguments for CONFIG SET - '"+string(appendPrintable(nil, pairs[i], 128))+"'")
		case def == "yes" || def == "no":
			if !strings.EqualFold(v, "yes") && !strings.EqualFold(v, "no") {
				return bad("argument must be 'yes' or 'no'")
			}
			v = strings.ToLower(v)
		case strings.HasSuffix(name, "-value") || strings.HasSuffix(name, "-bytes"):
			n, ok := parseMemory(v)
			if !ok {
				return bad("argument must be a memory value")
			}
			v = strconv.FormatInt(n, 10)
		default:
			if _, ok := resp.ParseInt([]byte(v)); !ok {
				return bad("argument couldn't be parsed into an integer")
			}
		}
		changes = append(changes, change{given, name, v})
	}
	for _, c := range changes {
		if c.name == "maxmemory" {
			n, _ := strconv.ParseInt(c.value, 10, 64)
			sess.store.maxmemory.Store(n)
			continue
		}
		sess.store.settings.set(c.name, c.value)
	}
	return resp.AppendOK(out)
}

// cmdFunction is FUNCTION FLUSH [ASYNC|SYNC] and FUNCTION LIST: kv-server
// runs no scripts, so there is never a function to flush or list.
func cmdFunction(sess *Session, out []byte, args [][]byte) []byte {
	switch sub := args[1]; {
	case equalFold(sub, "flush") && len(args) <= 3:
		if len(args) == 3 && !equalFold(args[2], "async") && !equalFold(args[2], "sync") {
			return appendErr(out, "ERR FUNCTION FLUSH only supports SYNC|ASYNC option")
		}
		return resp.AppendOK(out)
	case equalFold(sub, "list"):
		return appendEmpty(out)
	case equalFold(sub, "help"):
		return appendHelp(out, "FUNCTION", "FLUSH [ASYNC|SYNC]", "LIST")
	}
	return unknownSubcommand(out, args[1], "FUNCTION")
}

// parseMemory parses a size as Redis's configuration does: an integer,
// optionally with a unit (k, kb, m, mb, g, gb; k is 1000, kb 1024).
func parseMemory(s string) (int64, bool) {
	s = strings.ToLower(s)
	mul := int64(1)
	for _, u := range []struct {
		suffix string
		mul    int64
	}{{"kb", 1 << 10}, {"mb", 1 << 20}, {"gb", 1 << 30}, {"k", 1e3}, {"m", 1e6}, {"g", 1e9}} {
		if strings.HasSuffix(s, u.suffix) {
			s, mul = strings.TrimSuffix(s, u.suffix), u.mul
			break
		}
	}
	n, ok := resp.ParseInt([]byte(s))
	return n * mul, ok
}
