package kv

import (
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/iomux/iomux/internal/resp"
)

// Session is one client connection's state: its id and name (CLIENT), and
// whether it asked to QUIT. It runs on the connection's loop, so needs no
// lock; the Store it shares does its own locking. What CLIENT LIST shows
// of it to other loops' clients is behind nameMu or atomic.
type Session struct {
	store *Store
	id    int64
	conn  ConnInfo
	since int64 // Unix ms it connected
	quit  bool
	now   int64 // Unix ms of the batch being run (SetNow)
	count int64 // commands run since the last flush to the Store's stats
	// INFO commandstats of the batch, for statCmd (flushed when another
	// command runs, and with count)
	statCmd            *command
	statCalls, statErr int64
	qbuf               int // bytes of input from the running command's start (SetQueryBuf)
	reply              replyMode
	last               *command
	lower              [32]byte

	blk        *blockState // non-nil while blocked in a blocking command
	blkSpare   *blockState // the last one, for the next
	multi      *multiState // non-nil between MULTI and EXEC or DISCARD
	multiSpare *multiState // the last one's arrays, for the next
	watch      *watchState // the keys WATCHed, if any
	inExec     bool        // running EXEC's queued commands: blocking commands do not block
	holdsAll   bool        // EXEC holds every shard's lock: commands do not lock
	held       shardSet    // the shards EXEC holds, when not all
	touching   *command    // the running write command, while keys are watched (see touchLocked)
	touchArgs  [][]byte    // its arguments
	touchSeen  uint64      // its keys (by position) already looked at
	touchLater [][]byte    // its keys that were absent when locked: touched at unlock if they exist then
	subs       subscriptions
	blocked    atomic.Bool  // blk != nil, for CLIENT LIST and CLIENT UNBLOCK on other loops
	unblockReq atomic.Int32 // CLIENT UNBLOCK's request from another client (unblockTimeout, unblockError)

	nameMu sync.Mutex // written on the session's loop, read by CLIENT LIST on any
	name   []byte
	active atomic.Int64            // Unix ms of its last batch, for idle=
	shown  atomic.Pointer[command] // its last command, for cmd=, as of its last batch
}

// ConnInfo is what a Session knows of its connection, for CLIENT LIST and
// CLIENT KILL.
type ConnInfo struct {
	Addr, LocalAddr string // host:port, as Redis prints them
	FD              int
	Unix            bool // a Unix-domain socket (flags=U)
	// Close closes the connection after the replies already written; it
	// is called from any goroutine (CLIENT KILL on another loop).
	Close func()
	// Push writes a pub/sub message to the client, from any goroutine;
	// the same p goes to every subscriber, so it must be taken, not
	// changed. What happens to a subscriber that does not read is the
	// server's to say.
	Push func(p []byte)
	// Wake makes the server run the client's buffered commands again,
	// from any goroutine: a blocked client's key may have an element.
	Wake func()
	// Loop is the index of the client's event loop, and WakeLocal is Wake
	// called on that loop, by another client's command: the server runs
	// the commands once the running callback returns, before it reads
	// more, as Redis serves blocked clients before the next command.
	Loop      int
	WakeLocal func()
}

var sessionIDs atomic.Int64

// NewSession returns a session on store with no connection (for tests and
// examples): Connect's.
func (s *Store) NewSession() *Session { return s.Connect(ConnInfo{}) }

// Connect returns the session of a client connected on conn.
func (s *Store) Connect(conn ConnInfo) *Session {
	now := time.Now().UnixMilli()
	sess := &Session{store: s, id: sessionIDs.Add(1), conn: conn, since: now, now: now}
	sess.active.Store(now)
	s.clients.Add(1)
	s.sessMu.Lock()
	s.sessions[sess.id] = sess
	s.sessMu.Unlock()
	return sess
}

// Close ends the session (its client's connection closed).
func (sess *Session) Close() {
	sess.unblock()
	sess.unwatch()
	sess.unsubscribeAll()
	sess.flushStats()
	sess.store.clients.Add(-1)
	sess.store.sessMu.Lock()
	delete(sess.store.sessions, sess.id)
	sess.store.sessMu.Unlock()
}

// SetQueryBuf tells the session how many bytes of input there are from
// the start of the command it runs next (CLIENT LIST's qbuf).
func (sess *Session) SetQueryBuf(n int) { sess.qbuf = n }

// EndBatch publishes, once per batch rather than per command, what CLIENT
// LIST shows other clients: the last command run.
func (sess *Session) EndBatch() {
	if sess.shown.Load() != sess.last {
		sess.shown.Store(sess.last)
	}
}

// Quit reports whether the client sent QUIT: the server sends the reply,
// then closes the connection.
func (sess *Session) Quit() bool { return sess.quit }

// SetNow sets the time, in Unix milliseconds, that expiry is judged by
// for the commands run until the next call: one clock read per pipelined
// batch, as Redis reads it once per command.
func (sess *Session) SetNow(ms int64) {
	sess.now = ms
	sess.active.Store(ms)
	sess.flushStats()
}

func (sess *Session) flushStats() {
	if sess.count > 0 {
		sess.store.commands.Add(sess.count)
		sess.count = 0
	}
	sess.flushCmdStats()
}

func (sess *Session) flushCmdStats() {
	if sess.statCalls > 0 {
		st := &sess.store.cmdStats[sess.statCmd.idx]
		st.calls.Add(sess.statCalls)
		st.failed.Add(sess.statErr)
		sess.statCalls, sess.statErr = 0, 0
	}
}

// reject counts a command refused before it ran (INFO commandstats).
func (sess *Session) reject(c *command) { sess.store.cmdStats[c.idx].rejected.Add(1) }

// command is one entry of the command table. arity is Redis's: n > 0
// exactly n arguments (the name included), n < 0 at least -n.
type command struct {
	name  string
	arity int
	run   func(sess *Session, out []byte, args [][]byte) []byte
	flags string // COMMAND's flags: "write", "readonly", "fast", ...
	first int    // COMMAND's first key, last key, step
	last  int
	step  int
	idx   int  // its index in Store.cmdStats (set by register)
	write bool // flags has "write" (set by register)
	oom   bool // refused past maxmemory (denyOOM, set by register)
}

// commands maps a lower-case name to its command; filled by each file's
// init, one file per kind of value.
var commands = map[string]*command{}

// commandList is every command registered, by command.idx.
var commandList []*command

func register(cmds ...*command) {
	for _, c := range cmds {
		c.idx = len(commandList)
		commandList = append(commandList, c)
		c.write = strings.Contains(c.flags, "write")
		c.oom = denyOOM[c.name]
		commands[c.name] = c
	}
}

// lookup finds the command named name, in any case, without allocating.
func (sess *Session) lookup(name []byte) *command {
	if len(name) > len(sess.lower) {
		return nil
	}
	b := sess.lower[:len(name)]
	for i, c := range name {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		b[i] = c
	}
	return commands[string(b)]
}

// Exec runs one command (args[0] its name; len(args) > 0) and appends its
// RESP2 reply to out.
func (sess *Session) Exec(out []byte, args [][]byte) []byte {
	sess.count++
	c := sess.lookup(args[0])
	if sess.multi != nil && !c.immediate() {
		return sess.queue(out, c, args)
	}
	if c == nil {
		return appendUnknown(out, args)
	}
	if c.arity > 0 && len(args) != c.arity || c.arity < 0 && len(args) < -c.arity {
		sess.reject(c)
		return appendArity(out, c.name)
	}
	if sess.subscribed() && !c.allowedSubscribed() {
		sess.reject(c)
		return appendNotSubscribedErr(out, c.name)
	}
	if c.oom && sess.store.overMaxmemory() {
		sess.reject(c)
		return appendErr(out, errOOM)
	}
	return sess.run(out, c, args)
}

// immediate reports whether c runs at once inside MULTI rather than being
// queued (Redis's EXEC, DISCARD, MULTI, WATCH, QUIT).
func (c *command) immediate() bool {
	if c == nil {
		return false
	}
	switch c.name {
	case "exec", "discard", "multi", "watch", "quit":
		return true
	}
	return false
}

// run runs c, its arguments checked.
func (sess *Session) run(out []byte, c *command, args [][]byte) []byte {
	sess.last = c
	if c.write && sess.store.watch.count.Load() != 0 {
		sess.touching, sess.touchArgs = c, args
	}
	start := len(out)
	out = c.run(sess, out, args)
	sess.touching, sess.touchArgs, sess.touchSeen, sess.touchLater = nil, nil, 0, sess.touchLater[:0]
	if sess.blk == nil { // a blocked command counts once, when it is answered
		if c != sess.statCmd {
			sess.flushCmdStats()
			sess.statCmd = c
		}
		sess.statCalls++
		if len(out) > start && out[start] == '-' {
			sess.statErr++
		}
	}
	if sess.reply != replyOn {
		out = sess.silence(out, start)
	}
	return out
}

// replyMode is CLIENT REPLY's setting.
type replyMode uint8

const (
	replyOn       replyMode = iota
	replyOff                // no replies until CLIENT REPLY ON
	replySkip               // CLIENT REPLY SKIP ran: no reply to it, nor to the next command
	replySkipNext           // no reply to this command, then on
)

// silence drops the reply appended after start, as CLIENT REPLY says.
func (sess *Session) silence(out []byte, start int) []byte {
	switch sess.reply {
	case replySkip:
		sess.reply = replySkipNext
	case replySkipNext:
		sess.reply = replyOn
	}
	return out[:start]
}

// Redis's error replies.
const (
	errWrongType  = "WRONGTYPE Operation against a key holding the wrong kind of value"
	errNotInteger = "ERR value is not an integer or out of range"
	errNotFloat   = "ERR value is not a valid float"
	errOverflow   = "ERR increment or decrement would overflow"
	errSyntax     = "ERR syntax error"
	errNotPos     = "ERR value is out of range, must be positive"
)

func appendArity(out []byte, name string) []byte {
	out = append(out, "-ERR wrong number of arguments for '"...)
	out = append(out, name...)
	return append(out, "' command\r\n"...)
}

// appendUnknown is Redis's reply to an unknown command: its name and the
// first arguments, quoted.
func appendUnknown(out []byte, args [][]byte) []byte {
	out = append(out, "-ERR unknown command '"...)
	out = appendPrintable(out, args[0], 128)
	out = append(out, "', with args beginning with: "...)
	total := 0
	for _, a := range args[1:] {
		if total += len(a); total > 128 {
			break
		}
		out = append(out, '\'')
		out = appendPrintable(out, a, 128)
		out = append(out, "' "...)
	}
	return append(out, '\r', '\n')
}

// appendPrintable appends at most max bytes of p, with CR, LF and other
// control bytes as spaces, so an error line stays one line.
func appendPrintable(out, p []byte, max int) []byte {
	for i, c := range p {
		if i == max {
			break
		}
		if c < ' ' {
			c = ' '
		}
		out = append(out, c)
	}
	return out
}

func appendErr(out []byte, msg string) []byte { return resp.AppendError(out, msg) }

// appendInvalidExpire is "ERR invalid expire time in 'cmd' command".
func appendInvalidExpire(out []byte, cmd string) []byte {
	out = append(out, "-ERR invalid expire time in '"...)
	out = append(out, cmd...)
	return append(out, "' command\r\n"...)
}

// equalFold reports whether the ASCII argument a is word, in any case.
func equalFold(a []byte, word string) bool {
	if len(a) != len(word) {
		return false
	}
	for i := range a {
		c := a[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != word[i] {
			return false
		}
	}
	return true
}

// parseFloat parses a score as Redis does: strtod's syntax, "inf",
// "+inf", "-inf"; NaN and trailing bytes are not numbers.
func parseFloat(b []byte) (float64, bool) {
	switch {
	case equalFold(b, "inf"), equalFold(b, "+inf"):
		return posInf, true
	case equalFold(b, "-inf"):
		return negInf, true
	}
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil || f != f || len(b) == 0 || b[0] == ' ' {
		return 0, false
	}
	return f, true
}

// appendFloat appends a score as a bulk string, as Redis 7.0 prints it:
// integers below 2^53 without a fraction, others with 17 digits.
func appendFloat(out []byte, f float64) []byte {
	var buf [32]byte
	var s []byte
	switch {
	case f == posInf:
		s = append(buf[:0], "inf"...)
	case f == negInf:
		s = append(buf[:0], "-inf"...)
	case f == float64(int64(f)) && f > -(1<<53) && f < 1<<53:
		s = strconv.AppendInt(buf[:0], int64(f), 10)
	default:
		s = strconv.AppendFloat(buf[:0], f, 'g', 17, 64)
	}
	return resp.AppendBulk(out, s)
}
