package kv

import (
	"fmt"
	"os"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/iomux/iomux/internal/resp"
)

// The connection and server commands: PING, ECHO, SELECT, QUIT, HELLO,
// CLIENT, COMMAND, INFO, CONFIG, TIME. They say enough for redis-cli,
// redis-benchmark and go-redis to be content.

// RedisVersion is the Redis version INFO and HELLO claim: the one whose
// replies kv-server follows (clients gate features on it).
const RedisVersion = "7.0.15"

// ServerInfo is what INFO and CONFIG GET say about the process; the
// program sets it before serving.
type ServerInfo struct {
	Port    int
	Loops   int
	Backend string
	// Config is what CONFIG GET answers beyond save and appendonly: the
	// limits, by their Redis names (proto-max-bulk-len, ...).
	Config map[string]string
}

func init() {
	register(
		&command{name: "ping", arity: -1, run: cmdPing, flags: "fast"},
		&command{name: "echo", arity: 2, run: cmdEcho, flags: "fast"},
		&command{name: "select", arity: 2, run: cmdSelect, flags: "fast"},
		&command{name: "quit", arity: -1, run: cmdQuit, flags: "fast"},
		&command{name: "hello", arity: -1, run: cmdHello, flags: "fast"},
		&command{name: "command", arity: -1, run: cmdCommand, flags: ""},
		&command{name: "info", arity: -1, run: cmdInfo, flags: ""},
		&command{name: "time", arity: 1, run: cmdTime, flags: "fast"},
		&command{name: "save", arity: 1, run: cmdRefused, flags: "admin no-multi"},
		&command{name: "shutdown", arity: -1, run: cmdRefused, flags: "admin no-multi"},
	)
}

// cmdRefused is SAVE and SHUTDOWN, which kv-server refuses: it keeps
// nothing on disk, and stops on a signal (SIGINT, SIGTERM), not a command.
// They exist so that MULTI refuses them as Redis does (no-multi).
func cmdRefused(sess *Session, out []byte, args [][]byte) []byte {
	if sess.lookup(args[0]).name == "save" {
		return appendErr(out, "ERR kv-server keeps everything in memory only: there is nothing to save")
	}
	return appendErr(out, "ERR kv-server stops on a signal (SIGINT or SIGTERM), not on SHUTDOWN")
}

func cmdPing(sess *Session, out []byte, args [][]byte) []byte {
	if sess.subscribed() && len(args) <= 2 { // in pub/sub mode: [pong, argument or ""]
		out = resp.AppendArray(out, 2)
		out = resp.AppendBulk(out, "pong")
		if len(args) == 2 {
			return resp.AppendBulk(out, args[1])
		}
		return resp.AppendBulk(out, "")
	}
	switch len(args) {
	case 1:
		return append(out, "+PONG\r\n"...)
	case 2:
		return resp.AppendBulk(out, args[1])
	}
	return appendArity(out, "ping")
}

func cmdEcho(sess *Session, out []byte, args [][]byte) []byte { return resp.AppendBulk(out, args[1]) }

// cmdSelect accepts database 0, the only one.
func cmdSelect(sess *Session, out []byte, args [][]byte) []byte {
	n, ok := resp.ParseInt(args[1])
	switch {
	case !ok:
		return appendErr(out, errNotInteger)
	case n != 0:
		return appendErr(out, "ERR DB index is out of range")
	}
	return resp.AppendOK(out)
}

func cmdQuit(sess *Session, out []byte, args [][]byte) []byte {
	sess.quit = true
	return resp.AppendOK(out)
}

// cmdHello speaks RESP2 only: HELLO 3 is refused with NOPROTO, which
// clients (go-redis) take as "stay on RESP2".
func cmdHello(sess *Session, out []byte, args [][]byte) []byte {
	if len(args) > 1 {
		v, ok := resp.ParseInt(args[1])
		if !ok {
			return appendErr(out, "ERR Protocol version is not an integer or out of range")
		}
		if v != 2 {
			return appendErr(out, "NOPROTO unsupported protocol version")
		}
		for i := 2; i < len(args); i++ {
			switch {
			case equalFold(args[i], "setname") && i+1 < len(args):
				i++
				sess.name = append(sess.name[:0], args[i]...)
			default:
				return appendErr(out, "ERR Syntax error in HELLO option '"+string(args[i])+"'")
			}
		}
	}
	out = resp.AppendArray(out, 14)
	out = resp.AppendBulk(out, "server")
	out = resp.AppendBulk(out, "redis")
	out = resp.AppendBulk(out, "version")
	out = resp.AppendBulk(out, RedisVersion)
	out = resp.AppendBulk(out, "proto")
	out = resp.AppendInt(out, 2)
	out = resp.AppendBulk(out, "id")
	out = resp.AppendInt(out, sess.id)
	out = resp.AppendBulk(out, "mode")
	out = resp.AppendBulk(out, "standalone")
	out = resp.AppendBulk(out, "role")
	out = resp.AppendBulk(out, "master")
	out = resp.AppendBulk(out, "modules")
	return resp.AppendArray(out, 0)
}

func unknownSubcommand(out []byte, sub []byte, cmd string) []byte {
	return appendErr(out, "ERR unknown subcommand '"+string(appendPrintable(nil, sub, 128))+"'. Try "+cmd+" HELP.")
}

func appendHelp(out []byte, cmd string, lines ...string) []byte {
	out = resp.AppendArray(out, len(lines)+1)
	out = resp.AppendSimple(out, cmd+" <subcommand> [<arg> ...]. Subcommands are:")
	for _, l := range lines {
		out = resp.AppendSimple(out, l)
	}
	return out
}

// cmdCommand is COMMAND (every command, Redis 2.8's six fields each),
// COMMAND COUNT, COMMAND INFO name..., COMMAND DOCS (empty: redis-cli
// then uses its own help).
func cmdCommand(sess *Session, out []byte, args [][]byte) []byte {
	if len(args) == 1 {
		names := sortedCommands()
		out = resp.AppendArray(out, len(names))
		for _, n := range names {
			out = appendCommandInfo(out, commands[n])
		}
		return out
	}
	switch sub := args[1]; {
	case equalFold(sub, "count"):
		return resp.AppendInt(out, int64(len(commands)))
	case equalFold(sub, "info"):
		out = resp.AppendArray(out, len(args)-2)
		for _, n := range args[2:] {
			if c := sess.lookup(n); c != nil {
				out = appendCommandInfo(out, c)
			} else {
				out = resp.AppendNullArray(out)
			}
		}
		return out
	case equalFold(sub, "docs"):
		return resp.AppendArray(out, 0)
	case equalFold(sub, "help"):
		return appendHelp(out, "COMMAND", "COUNT", "INFO [<command-name> ...]", "DOCS")
	default:
		return unknownSubcommand(out, sub, "COMMAND")
	}
}

func sortedCommands() []string {
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

func appendCommandInfo(out []byte, c *command) []byte {
	out = resp.AppendArray(out, 6)
	out = resp.AppendBulk(out, c.name)
	out = resp.AppendInt(out, int64(c.arity))
	flags := strings.Fields(c.flags)
	out = resp.AppendArray(out, len(flags))
	for _, f := range flags {
		out = resp.AppendSimple(out, f)
	}
	out = resp.AppendInt(out, int64(c.first))
	out = resp.AppendInt(out, int64(c.last))
	return resp.AppendInt(out, int64(c.step))
}

// cmdInfo is INFO [section ...]: server, clients, memory, stats,
// keyspace (default and "all": every one).
func cmdInfo(sess *Session, out []byte, args [][]byte) []byte {
	st := sess.store
	// A section is shown when named, or by default (no argument,
	// "default", "all", "everything"), except commandstats: only when named
	// or with "all" or "everything", as in Redis.
	want := func(name string) bool {
		if len(args) == 1 {
			return name != "commandstats"
		}
		for _, a := range args[1:] {
			if equalFold(a, name) || equalFold(a, "all") || equalFold(a, "everything") ||
				equalFold(a, "default") && name != "commandstats" {
				return true
			}
		}
		return false
	}
	var b strings.Builder
	if want("server") {
		up := time.Since(st.start)
		fmt.Fprintf(&b, "# Server\r\nredis_version:%s\r\nredis_mode:standalone\r\nserver_name:iomux-kv-server\r\n"+
			"os:%s %s\r\narch_bits:64\r\nmultiplexing_api:%s\r\ngo_version:%s\r\nprocess_id:%d\r\ntcp_port:%d\r\n"+
			"uptime_in_seconds:%d\r\nuptime_in_days:%d\r\nio_threads_active:0\r\nevent_loops:%d\r\npersistence:none (in memory only)\r\n\r\n",
			RedisVersion, runtime.GOOS, runtime.GOARCH, st.Info.Backend, runtime.Version(), os.Getpid(), st.Info.Port,
			int64(up.Seconds()), int64(up.Hours()/24), st.Info.Loops)
	}
	if want("clients") {
		fmt.Fprintf(&b, "# Clients\r\nconnected_clients:%d\r\nblocked_clients:%d\r\n\r\n", st.clients.Load(), st.blockedClients.Load())
	}
	if want("memory") {
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		fmt.Fprintf(&b, "# Memory\r\nused_memory:%d\r\nused_memory_human:%.2fM\r\nmaxmemory:0\r\nmaxmemory_policy:noeviction\r\n\r\n",
			ms.HeapAlloc, float64(ms.HeapAlloc)/(1<<20))
	}
	if want("persistence") {
		b.WriteString("# Persistence\r\nloading:0\r\nrdb_changes_since_last_save:0\r\naof_enabled:0\r\n\r\n")
	}
	if want("stats") {
		fmt.Fprintf(&b, "# Stats\r\ntotal_commands_processed:%d\r\nexpired_keys:%d\r\n\r\n", st.commands.Load(), st.expired.Load())
	}
	if want("replication") {
		b.WriteString("# Replication\r\nrole:master\r\nconnected_slaves:0\r\nmaster_repl_offset:0\r\n\r\n")
	}
	if want("cpu") {
		sys, user, sysChildren, userChildren := cpuTimes()
		fmt.Fprintf(&b, "# CPU\r\nused_cpu_sys:%.6f\r\nused_cpu_user:%.6f\r\nused_cpu_sys_children:%.6f\r\nused_cpu_user_children:%.6f\r\n\r\n",
			sys, user, sysChildren, userChildren)
	}
	if want("commandstats") {
		sess.flushStats()
		b.WriteString("# Commandstats\r\n")
		for _, name := range sortedCommands() {
			c := commands[name]
			st := &st.cmdStats[c.idx]
			calls, failed, rejected := st.calls.Load(), st.failed.Load(), st.rejected.Load()
			if calls+rejected > 0 {
				// kv-server does not time commands: usec is 0.
				fmt.Fprintf(&b, "cmdstat_%s:calls=%d,usec=0,usec_per_call=0.00,rejected_calls=%d,failed_calls=%d\r\n",
					c.name, calls, rejected, failed)
			}
		}
		b.WriteString("\r\n")
	}
	if want("keyspace") {
		b.WriteString("# Keyspace\r\n")
		if n, volatile := st.counts(sess.holdsAll); n > 0 {
			fmt.Fprintf(&b, "db0:keys=%d,expires=%d,avg_ttl=0\r\n", n, volatile)
		}
	}
	if b.Len() == 0 {
		return resp.AppendBulk(out, "")
	}
	return resp.AppendBulk(out, strings.TrimRight(b.String(), "\r\n")+"\r\n")
}

func cmdTime(sess *Session, out []byte, args [][]byte) []byte {
	now := time.Now()
	out = resp.AppendArray(out, 2)
	out = resp.AppendBulkInt(out, now.Unix())
	return resp.AppendBulkInt(out, int64(now.Nanosecond()/1000))
}
