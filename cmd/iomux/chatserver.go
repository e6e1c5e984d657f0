package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/iomux/iomux/internal/chat"
	"github.com/iomux/iomux/loop"
	"github.com/iomux/iomux/loophttp"
)

// chat-server: the flags, the help and the wiring; the room itself, and
// its nodes over NATS, are internal/chat.

// chatServerProgram is iomux chat-server.
func chatServerProgram() *command {
	return &command{
		name:    "chat-server",
		summary: "a chat room: every line a member sends goes to every other member (the tutorials' chat server)",
		usage: `Usage: iomux chat-server [--addr 127.0.0.1:8002] [--http 127.0.0.1:8080] [--write-timeout 10s] [--tls-cert FILE --tls-key FILE] [--backend auto] [-v]
                        [--nats nats://HOST:4222[,...] [--room chat] [--node NAME] [--node-timeout 3s]]

The Python select tutorials' chat server, made safe. Every line a member
sends goes to every other member, prefixed with the sender's name:
"[127.0.0.1:55821] hello". The server's own notices start with "* ":
"* [127.0.0.1:55821] entered room", "* [name] left the room", "* [name] is
offline", "* [old] is now known as [new]", and the answers to commands.

What a member types cannot pass for a notice or for another member: every
line from a member starts with "[NAME] ", NAME being who sent it, and their
text follows on that line. Control bytes reach the others as escapes
(\x1b, \r), never as terminal commands, and so do the characters that
would start a line of their own on some screens (U+2028, U+2029) or
reorder what is shown (the bidi controls, U+202A to U+202E, U+2066 to
U+2069, U+200E, U+200F, U+061C).

Commands (a line that starts with "/"):
  /nick NAME   be called NAME instead of host:port (letters, digits, - _ .);
               names are unique without regard to case
  /who         list the members
  /quit        leave

Lines longer than 4096 bytes are refused with a notice, not buffered.

In a browser (--http ADDR): the server also serves a web page at
http://ADDR/ (in the binary: plain HTML, CSS and JavaScript, nothing
loaded from elsewhere) that joins the same room over a WebSocket at /ws.
Each text message is one line, in and out: what a TCP member sends and
gets, without the newline (a newline in a message ends a line, as it
would over TCP); /nick, /who and /quit work the same, and browser and TCP
members see each other's lines, joins and leaves (with --nats, across
nodes). The page lists the members, shows the notices, reconnects after a
drop (waiting 0.5 s, then twice as long each time, up to 15 s) and shows
everything as text: a line of HTML is shown, never run. Its
Content-Security-Policy allows its own script and style and its own
WebSocket, nothing else. With --tls-cert, the page is served over HTTPS
(wss:// for the WebSocket) with the same certificate.

Nobody's pace stops the room. The lines that one read from a member
brings (up to 256 KiB of what they make) go out to each of the others in
one write, so a flood of short lines costs each member a write per read,
not one per line, and the others are not kept waiting.

Nor does a join storm: a new member's welcome is written at once, and
joins and leaves are told in batches, each one write per member, written
with the room's next line or after a wait of 10µs a member of the room
(250ms at most); a batch of more than 8 joins is told as one line ("* 2500
members entered room (/who lists them)"), and so are its leaves ("* 40
members left"). After 2,500 connections joined at once, a new member is
welcomed in some 15 ms (it was 17 s when each join was one write to every
member).

When a member's queue passes 256 KiB (they read slower than the room
talks), whoever sends is held, their lines left unread, until every queue
is below 64 KiB: the room goes at the pace of its slowest reader, and a
slow reader is never dropped for it. Only a member who takes nothing of
what is queued for them for --write-timeout (default 10s) is
disconnected, and the others told: "* [name] was disconnected: took
nothing for 10s"; until then the room waits for them. (The tutorial's
broadcast blocked the whole room on one slow member.)

One room on several machines (--nats): every chat-server given the same
NATS server(s) and --room is a node of one room. A line said on any node
reaches every member of every node once, in the order it was said; joins,
nick changes, leaves and offline notices cross too; /who lists every
member by node ("* 60 in the room, 3 nodes: n0: [a] [b]; n1: [c] ...").
Names are unique in the whole room without regard to case: /nick refuses
a name taken on any node. Two nodes can grant one name at once (within
the moment a message takes between them, or while the room is split);
when they learn it, the member on the node whose --node sorts first keeps
it and the other becomes NAME@NODE, and is told. --node (default
HOST-PID) must be unique in the room. A node not heard from for
--node-timeout (default 3s; nodes beat three times per timeout) is lost:
its members are announced offline; it rejoins when it is back. When NATS
is out of reach, each node serves its own members and tells them the room
is split; when it is back, the room merges and says so. What a node says
while split (up to 1 MiB) reaches the others after the merge; past that,
and what the others said meanwhile, is lost, and the members are told how
many lines. The loop never waits on NATS: a publisher goroutine sends,
and what arrives reaches the loop as posted work. When output waits for
NATS past 1 MiB, or a member on another node reads slower than the room
talks, this node's senders are held as for a full queue here. What waits
for the loop from NATS is bounded at 16 MiB (past it, messages are
dropped and the members told); one message carries at most 60 KiB of
lines, and a heartbeat some 40 bytes a member: the NATS server's
max_payload (1 MiB by default) must be above both.

Notes go to stdout ("Client 127.0.0.1:55821 connected"); they never hold
the room up: if stdout is not read, notes past 256 KiB are dropped and
counted, with a warning on stderr at most once a second.

Example:
  $ iomux chat-server
  starting up on 127.0.0.1 port 8002
  $ iomux chat-client            # in two or more other terminals
  $ nc 127.0.0.1 8002            # or any line-based client

  $ iomux chat-server --http 127.0.0.1:8080
  starting up on 127.0.0.1 port 8002
  the room's web page: http://127.0.0.1:8080/

  $ nats-server -a 127.0.0.1 &   # a room on two nodes
  $ iomux chat-server --nats nats://127.0.0.1:4222 --node n1 --addr :8002
  $ iomux chat-server --nats nats://127.0.0.1:4222 --node n2 --addr :8003
`,
		run: runChatServer,
	}
}

func runChatServer(e *env, args []string) error {
	fs := newFlags(chatServerProgram())
	var opt serverOptions
	opt.bind(fs, "127.0.0.1:8002", false)
	var cfg chat.Config
	httpAddr := fs.String("http", "", "also serve the room's web page and its WebSocket (/ws) on `addr` (host:port)")
	fs.DurationVar(&cfg.WriteTimeout, "write-timeout", chat.DefaultWriteTimeout,
		"drop a member who takes nothing of what is queued for them for this long")
	fs.StringVar(&cfg.Cluster.URLs, "nats", "", "join the room to the other nodes through the NATS server(s) at `url[,url...]` (nats://host:4222)")
	fs.StringVar(&cfg.Cluster.Room, "room", chat.DefaultRoom, "with --nats: the room's `name`; nodes with the same one form one room")
	fs.StringVar(&cfg.Cluster.Node, "node", "", "with --nats: this node's `name`, unique in the room (default HOST-PID)")
	fs.DurationVar(&cfg.Cluster.NodeTimeout, "node-timeout", chat.DefaultNodeTimeout,
		"with --nats: a node not heard from for this long is lost, its members announced offline")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := opt.check(fs); err != nil {
		return err
	}
	if cfg.WriteTimeout <= 0 {
		return fmt.Errorf("%w: --write-timeout must be positive", errUsage)
	}
	if cfg.Cluster.NodeTimeout <= 0 {
		return fmt.Errorf("%w: --node-timeout must be positive", errUsage)
	}
	if cfg.Cluster.URLs != "" {
		if err := chat.CheckName(cfg.Cluster.Room); err != nil {
			return fmt.Errorf("%w: --room: %v", errUsage, err)
		}
		if err := chat.CheckName(cfg.Cluster.Node); cfg.Cluster.Node != "" && err != nil {
			return fmt.Errorf("%w: --node: %v", errUsage, err)
		}
	}
	cfg.Log = opt.openOutputs(e)
	srv, err := chat.NewServer(cfg, opt.loopOptions())
	if err != nil {
		return err
	}
	defer srv.Close()
	if *httpAddr == "" {
		return opt.serve(e, srv.Server)
	}
	lopts := opt.loopOptions()
	return opt.run(e, &chatRunner{srv: srv, httpAddr: *httpAddr, stderr: opt.stderr, web: &loophttp.Server{
		ReadHeaderTimeout: 5 * time.Second,
		IdleTimeout:       2 * time.Minute,
		Loop:              loop.Options{Loops: 1, Backend: lopts.Backend, Logger: lopts.Logger, WriteTimeout: cfg.WriteTimeout},
	}})
}

// chatRunner is chat-server with --http as serve runs it: the room, and
// its web page on loophttp (one loop: the room has one too), started
// after the room (the page's WebSocket joins it) and stopped after it
// (the room tells its web members it is shutting down).
type chatRunner struct {
	srv      *chat.Server
	httpAddr string
	stderr   io.Writer
	web      *loophttp.Server
}

func (c *chatRunner) Start(network, address string, config *tls.Config) error {
	if err := (loopServer{c.srv.Server}).Start(network, address, config); err != nil {
		return err
	}
	c.web.Handler = c.srv.WebHandler()
	if err := c.web.Start("tcp", c.httpAddr, config); err != nil {
		c.srv.Stop(context.Background())
		return fmt.Errorf("--http: %w", err)
	}
	scheme := "http"
	if config != nil {
		scheme = "https"
	}
	fmt.Fprintf(c.stderr, "the room's web page: %s://%s/\n", scheme, c.web.Addrs()[0])
	return nil
}

func (c *chatRunner) Addrs() []net.Addr     { return c.srv.Addrs() }
func (c *chatRunner) Done() <-chan struct{} { return c.srv.Done() }

func (c *chatRunner) Stop(ctx context.Context) error {
	err := c.srv.Stop(ctx)
	if werr := c.web.Shutdown(ctx); werr != nil && !errors.Is(werr, loophttp.ErrServerClosed) {
		c.web.Close()
		err = errors.Join(err, werr)
	}
	return err
}
