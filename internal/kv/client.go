package kv

import (
	"slices"
	"strconv"
	"strings"

	"github.com/iomux/iomux/internal/resp"
)

// CLIENT: a connection's own id and name, and the list of every client
// (on any loop) with Redis's fields, and CLIENT KILL.

func init() {
	register(&command{name: "client", arity: -2, run: cmdClient, flags: ""})
}

// clientSubcommands are CLIENT's subcommands and their arities (Redis's:
// n exactly, -n at least n, the words CLIENT and the subcommand included).
var clientSubcommands = map[string]int{
	"id": 2, "getname": 2, "setname": 3, "setinfo": 4, "no-evict": 3, "info": 2, "list": -2,
	"kill": -3, "help": 2, "unblock": -3, "reply": 3,
}

// cmdClient is CLIENT ID, GETNAME, SETNAME, SETINFO, NO-EVICT, INFO,
// LIST [TYPE t] [ID id...], KILL, UNBLOCK, REPLY, HELP.
func cmdClient(sess *Session, out []byte, args [][]byte) []byte {
	sub := strings.ToLower(string(args[1]))
	arity, ok := clientSubcommands[sub]
	switch {
	case !ok:
		return unknownSubcommand(out, args[1], "CLIENT")
	case arity > 0 && len(args) != arity, arity < 0 && len(args) < -arity:
		return appendErr(out, "ERR wrong number of arguments for 'client|"+sub+"' command")
	}
	switch sub {
	case "id":
		return resp.AppendInt(out, sess.id)
	case "getname":
		if len(sess.name) == 0 {
			return resp.AppendNull(out)
		}
		return resp.AppendBulk(out, sess.name)
	case "setname":
		for _, c := range args[2] {
			if c <= ' ' || c > '~' {
				return appendErr(out, "ERR Client names cannot contain spaces, newlines or special characters.")
			}
		}
		sess.setName(args[2])
		return resp.AppendOK(out)
	case "setinfo", "no-evict":
		return resp.AppendOK(out)
	case "info":
		return resp.AppendBulk(out, sess.line(nil, sess, "client|info"))
	case "list":
		return clientList(sess, out, args[2:])
	case "kill":
		return clientKill(sess, out, args[2:])
	case "unblock":
		return clientUnblock(sess, out, args[2:])
	case "reply":
		switch {
		case equalFold(args[2], "on"):
			sess.reply = replyOn
		case equalFold(args[2], "off"):
			sess.reply = replyOff
		case equalFold(args[2], "skip"):
			if sess.reply != replyOff {
				sess.reply = replySkip
			}
		default:
			return appendErr(out, errSyntax)
		}
		return resp.AppendOK(out)
	}
	return appendHelp(out, "CLIENT", "ID", "GETNAME", "SETNAME <name>", "SETINFO <attr> <value>", "INFO",
		"LIST [TYPE NORMAL|PUBSUB] [ID <id> [<id> ...]]", "KILL <ip:port> | <filter> <value> [...]",
		"UNBLOCK <id> [TIMEOUT|ERROR]", "REPLY ON|OFF|SKIP")
}

func (sess *Session) setName(name []byte) {
	sess.nameMu.Lock()
	sess.name = append(sess.name[:0:0], name...) // a new array: CLIENT LIST may hold the old one
	sess.nameMu.Unlock()
}

// clientList returns every connected session, in the order they connected.
func (s *Store) clientList() []*Session {
	s.sessMu.Lock()
	list := make([]*Session, 0, len(s.sessions))
	for _, c := range s.sessions {
		list = append(list, c)
	}
	s.sessMu.Unlock()
	slices.SortFunc(list, func(a, b *Session) int { return int(a.id - b.id) })
	return list
}

// line appends c's line of CLIENT LIST, as seen by sess (the caller,
// whose running command is cmd), with Redis 7.0's fields in its order.
// What kv-server has no counterpart for is Redis's figure for an idle
// client (qbuf-free=0, obl=0, ...).
func (sess *Session) line(b []byte, c *Session, cmd string) []byte {
	c.nameMu.Lock()
	name := c.name
	c.nameMu.Unlock()
	qbuf := 0
	if c == sess {
		qbuf = sess.qbuf
	} else if last := c.shown.Load(); last != nil {
		cmd = last.name
	} else {
		cmd = "NULL"
	}
	flags := "N"
	if c.conn.Unix {
		flags = "U"
	}
	if c.blockedFlag() {
		flags = "b"
	}
	nch, npat := c.subs.nch.Load(), c.subs.npat.Load()
	if nch+npat > 0 {
		flags = "P"
	}
	b = append(b, "id="...)
	b = strconv.AppendInt(b, c.id, 10)
	b = append(b, " addr="...)
	b = append(b, c.conn.Addr...)
	b = append(b, " laddr="...)
	b = append(b, c.conn.LocalAddr...)
	b = append(b, " fd="...)
	b = strconv.AppendInt(b, int64(c.conn.FD), 10)
	b = append(b, " name="...)
	b = append(b, name...)
	b = append(b, " age="...)
	b = strconv.AppendInt(b, (sess.now-c.since)/1000, 10)
	b = append(b, " idle="...)
	b = strconv.AppendInt(b, max(0, sess.now-c.active.Load())/1000, 10)
	b = append(b, " flags="...)
	b = append(b, flags...)
	b = append(b, " db=0 sub="...)
	b = strconv.AppendInt(b, int64(nch), 10)
	b = append(b, " psub="...)
	b = strconv.AppendInt(b, int64(npat), 10)
	b = append(b, " ssub=0 multi=-1 qbuf="...)
	b = strconv.AppendInt(b, int64(qbuf), 10)
	b = append(b, " qbuf-free=0 argv-mem=0 multi-mem=0 rbs=16384 rbp=0 obl=0 oll=0 omem=0 tot-mem=0 events=r cmd="...)
	b = append(b, cmd...)
	b = append(b, " user=default redir=-1 resp=2\n"...)
	return b
}

// clientList is CLIENT LIST [TYPE normal|master|replica|pubsub] [ID id ...].
func clientList(sess *Session, out []byte, args [][]byte) []byte {
	var ids []int64
	typ := ""
	for i := 0; i < len(args); i++ {
		switch {
		case equalFold(args[i], "type") && i+1 < len(args):
			i++
			typ = strings.ToLower(string(args[i]))
			if !validClientType(typ) {
				return appendErr(out, "ERR Unknown client type '"+string(args[i])+"'")
			}
		case equalFold(args[i], "id") && i+1 < len(args):
			for i++; i < len(args); i++ {
				id, ok := resp.ParseInt(args[i])
				if !ok || id <= 0 {
					return appendErr(out, "ERR Invalid client ID")
				}
				ids = append(ids, id)
			}
		default:
			return appendErr(out, errSyntax)
		}
	}
	var b []byte
	for _, c := range sess.store.clientList() {
		if ids != nil && !slices.Contains(ids, c.id) || typ != "" && typ != c.clientType() {
			continue
		}
		b = sess.line(b, c, "client|list")
	}
	return resp.AppendBulk(out, b)
}

func validClientType(t string) bool {
	switch t {
	case "normal", "master", "replica", "slave", "pubsub":
		return true
	}
	return false
}

// clientKill is CLIENT KILL ip:port (OK, or an error if there is no such
// client) and CLIENT KILL filter value ... (ID, ADDR, LADDR, TYPE, USER,
// SKIPME; the number killed). A client is closed after the replies it
// was already sent, as Redis does; the caller too, with SKIPME no.
func clientKill(sess *Session, out []byte, args [][]byte) []byte {
	if len(args) == 1 { // the old form
		for _, c := range sess.store.clientList() {
			if c.conn.Addr == string(args[0]) {
				c.kill()
				return resp.AppendOK(out)
			}
		}
		return appendErr(out, "ERR No such client")
	}
	if len(args)%2 != 0 {
		return appendErr(out, errSyntax)
	}
	var id int64
	var addr, laddr, typ string
	skipMe := true
	for i := 0; i < len(args); i += 2 {
		v := args[i+1]
		switch {
		case equalFold(args[i], "id"):
			n, ok := resp.ParseInt(v)
			if !ok || n <= 0 {
				return appendErr(out, "ERR client-id should be greater than 0")
			}
			id = n
		case equalFold(args[i], "addr"):
			addr = string(v)
		case equalFold(args[i], "laddr"):
			laddr = string(v)
		case equalFold(args[i], "type"):
			typ = strings.ToLower(string(v))
			if !validClientType(typ) {
				return appendErr(out, "ERR Unknown client type '"+string(v)+"'")
			}
		case equalFold(args[i], "user"):
			if !equalFold(v, "default") {
				return appendErr(out, "ERR No such user '"+string(v)+"'")
			}
		case equalFold(args[i], "skipme"):
			switch {
			case equalFold(v, "yes"):
				skipMe = true
			case equalFold(v, "no"):
				skipMe = false
			default:
				return appendErr(out, errSyntax)
			}
		default:
			return appendErr(out, errSyntax)
		}
	}
	n := 0
	for _, c := range sess.store.clientList() {
		switch {
		case id != 0 && c.id != id, addr != "" && c.conn.Addr != addr, laddr != "" && c.conn.LocalAddr != laddr,
			typ != "" && typ != c.clientType(), skipMe && c == sess:
			continue
		}
		c.kill()
		n++
	}
	return resp.AppendInt(out, int64(n))
}

// clientType is CLIENT LIST's and KILL's TYPE of c: pubsub while it is
// subscribed, else normal.
func (c *Session) clientType() string {
	if c.subs.nch.Load()+c.subs.npat.Load() > 0 {
		return "pubsub"
	}
	return "normal"
}

// kill closes c's connection, from any loop.
func (c *Session) kill() {
	if c.conn.Close != nil {
		c.conn.Close()
	}
}
