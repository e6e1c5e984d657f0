package main

// chat-server --nats: the nodes of one room, joined through NATS (core
// publish/subscribe, github.com/nats-io/nats.go; the only file of the
// binary that imports it). This file is the link: the connection, what
// goes out (an outbox that a publisher goroutine empties, so the loop never
// waits on the network) and what comes in (an inbox that reaches the loop
// through Loop.Post, one wake-up per burst). chatcluster_room.go is what
// the room does with it: the other nodes' members, their lines and
// notices, heartbeats, splits and merges.

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/iomux/iomux/loop"
	"github.com/nats-io/nats.go"
)

// Limits and defaults of a room across nodes.
const (
	// chatClusterNodeTimeout is --node-timeout's default: a node not heard
	// from for this long is lost, its members announced offline. Nodes
	// beat three times per timeout.
	chatClusterNodeTimeout = 3 * time.Second
	// chatClusterSplitBuffer is what nats.go keeps of this node's output
	// while NATS is out of reach, sent when it is back (the rest is lost,
	// counted and said).
	chatClusterSplitBuffer = 1 << 20
	// chatClusterOutHigh: past this much output waiting for NATS, the
	// node's senders are held (as for a member's full queue) until it is
	// below chatServerLow.
	chatClusterOutHigh = 1 << 20
	// chatClusterInMax bounds what waits for the loop from NATS; past it,
	// messages are dropped, counted and said (the others hold their
	// senders long before, see chatNode.busy).
	chatClusterInMax = 16 << 20
	// chatClusterSayMax bounds the lines of one message between nodes:
	// a NATS server's max_payload must be above it (and above a
	// heartbeat, some 40 bytes a member).
	chatClusterSayMax = 60 << 10
	// chatClusterStopWait bounds the goodbye at shutdown.
	chatClusterStopWait = time.Second
)

// chatEvent is one message between nodes: a header in JSON, then, after a
// newline, Text as it is (for "say": the lines and notices of one turn,
// formatted and escaped by the node that sent them).
type chatEvent struct {
	Kind string `json:"k"`           // hello, beat, join, nick, leave, say, bye
	Node string `json:"n"`           // the sender's --node
	Inst uint64 `json:"i"`           // the sender's instance, new at each start
	Seq  uint64 `json:"s"`           // the sender's events, counted from 1
	Said uint64 `json:"l,omitempty"` // lines the sender has said, this event's included
	// Lines in this event (say); with Said, what a gap lost.
	Lines   uint64       `json:"nl,omitempty"`
	ID      uint64       `json:"m,omitempty"`  // join, nick, leave: the member
	Name    string       `json:"nm,omitempty"` // join, nick: their name
	Members []chatRemote `json:"ms,omitempty"` // hello, beat: every member of the node
	Busy    bool         `json:"b,omitempty"`  // hello, beat: a member's queue is past chatServerHigh
	Text    []byte       `json:"-"`
	size    int          // bytes on the wire, for the inbox's bound
}

// chatRemote is a member as the other nodes know it.
type chatRemote struct {
	ID   uint64 `json:"i"`
	Name string `json:"n"`
}

var chatEventKinds = []string{"hello", "beat", "join", "nick", "leave", "say", "bye"}

func (ev *chatEvent) encode() []byte {
	head, _ := json.Marshal(ev) // plain fields: cannot fail
	return append(append(head, '\n'), ev.Text...)
}

func decodeChatEvent(data []byte) (chatEvent, error) {
	var ev chatEvent
	head, text, _ := bytes.Cut(data, []byte{'\n'})
	if err := json.Unmarshal(head, &ev); err != nil {
		return ev, err
	}
	switch {
	case !slices.Contains(chatEventKinds, ev.Kind):
		return ev, fmt.Errorf("unknown kind %q", ev.Kind)
	case ev.Inst == 0 || ev.Seq == 0:
		return ev, errors.New("no instance or sequence number")
	case chatServerCheckNick(ev.Node) != nil:
		return ev, fmt.Errorf("node name %q", ev.Node)
	}
	ev.Text, ev.size = text, len(data)
	return ev, nil
}

// chatClusterDefaultNode is --node's default: HOST-PID, letters, digits,
// '-', '_' and '.' only.
func chatClusterDefaultNode() string {
	host, _ := os.Hostname()
	host = strings.Map(func(ch rune) rune {
		if ch == '-' || ch == '_' || ch == '.' || 'a' <= ch && ch <= 'z' || 'A' <= ch && ch <= 'Z' || '0' <= ch && ch <= '9' {
			return ch
		}
		return -1
	}, host)
	name := fmt.Sprintf("%s-%d", host, os.Getpid())
	return name[max(0, len(name)-chatServerMaxNick):]
}

// chatOut is an encoded event waiting for the publisher.
type chatOut struct {
	data  []byte
	lines uint64
}

// chatClusterConfig is what --nats, --room, --node and --node-timeout say.
type chatClusterConfig struct {
	urls    string
	room    string
	node    string
	timeout time.Duration
}

// chatCluster is one node's link to the others. The loop owns everything
// but what the mutexes guard: the inbox (NATS's goroutines add, the loop
// takes) and the outbox (the loop adds, the publisher takes).
type chatCluster struct {
	cfg     chatClusterConfig
	subject string
	inst    uint64
	nc      *nats.Conn
	log     io.Writer // the room's notes

	// The loop's: set by start, then owned by the loop (chatcluster_room.go).
	room  *chatRoom
	l     *loop.Loop
	state chatClusterState

	inMu      sync.Mutex
	inbox     []chatEvent
	inBytes   int
	inDropped uint64 // messages dropped for a full inbox, not yet said
	started   bool   // start ran: the inbox may be posted

	outMu    sync.Mutex
	outbox   []chatOut
	outBytes atomic.Int64
	outWake  chan struct{} // a byte: the outbox has something
	outDone  chan struct{} // closed by close: publish what is left and end
	pubEnded chan struct{}
	lost     atomic.Uint64 // lines nats.go refused (split buffer full)
	// connected is what nats.go said last of the link; the loop reads
	// it, not nc (whose lock a blocked write may hold).
	connected atomic.Bool
}

// linkUp runs on nats.go's goroutine when the link is up.
func (c *chatCluster) linkUp(nc *nats.Conn) {
	c.connected.Store(true)
	url := nc.ConnectedUrlRedacted()
	c.post(func() { c.merged(url) })
}

// newChatCluster checks cfg, connects to NATS (or keeps trying in the
// background: the node starts split) and subscribes to the room. The link
// is idle until start gives it the room's loop.
func newChatCluster(cfg chatClusterConfig, log io.Writer) (*chatCluster, error) {
	if err := chatServerCheckNick(cfg.room); err != nil {
		return nil, fmt.Errorf("%w: --room: %v", errUsage, strings.TrimPrefix(err.Error(), "usage: /nick NAME "))
	}
	if err := chatServerCheckNick(cfg.node); err != nil {
		return nil, fmt.Errorf("%w: --node: %v", errUsage, strings.TrimPrefix(err.Error(), "usage: /nick NAME "))
	}
	var instance [8]byte
	_, _ = rand.Read(instance[:])
	c := &chatCluster{
		cfg:      cfg,
		subject:  "iomux.chat." + cfg.room,
		inst:     binary.BigEndian.Uint64(instance[:]) | 1,
		log:      log,
		outWake:  make(chan struct{}, 1),
		outDone:  make(chan struct{}),
		pubEnded: make(chan struct{}),
	}
	c.state.init()
	nc, err := nats.Connect(cfg.urls,
		nats.Name("iomux chat-server "+cfg.node),
		nats.NoEcho(), // a node's own events are not sent back to it
		nats.RetryOnFailedConnect(true),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(250*time.Millisecond),
		nats.ReconnectJitter(250*time.Millisecond, time.Second),
		nats.ReconnectBufSize(chatClusterSplitBuffer),
		nats.Timeout(2*time.Second),
		nats.PingInterval(cfg.timeout/3), // a cut link is noticed in about a node timeout
		nats.MaxPingsOutstanding(3),
		nats.FlusherTimeout(cfg.timeout), // a write that waits this long: the link is broken (nats.go's default is a minute)
		nats.ConnectHandler(c.linkUp),
		nats.ReconnectHandler(c.linkUp),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			c.connected.Store(false)
			c.post(func() { c.splitNow(err) })
		}),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
			fmt.Fprintf(log, "NATS: %v\n", err)
		}),
	)
	if err != nil {
		return nil, fmt.Errorf("--nats %s: %w", cfg.urls, err)
	}
	c.nc = nc
	c.connected.Store(nc.IsConnected())
	if _, err := nc.Subscribe(c.subject, c.received); err != nil {
		nc.Close()
		return nil, fmt.Errorf("--nats: subscribe %s: %w", c.subject, err)
	}
	go c.publisher()
	return c, nil
}

// start joins the room on l; called on the loop once the server runs.
func (c *chatCluster) start(r *chatRoom, l *loop.Loop) {
	c.room, c.l = r, l
	r.cluster = c
	c.inMu.Lock()
	c.started = true
	pending := len(c.inbox) > 0
	c.inMu.Unlock()
	if pending {
		l.Post(c.drain)
	}
	c.begin()
}

// post runs fn on the room's loop, once it has one (before, a link event
// is moot: begin reads the connection's state).
func (c *chatCluster) post(fn func()) {
	c.inMu.Lock()
	started := c.started
	c.inMu.Unlock()
	if started {
		_ = c.l.Post(fn) // refused only once the server stopped
	}
}

// received runs on nats.go's goroutine: it decodes a message and queues
// it for the loop, waking the loop only if the inbox was empty.
func (c *chatCluster) received(msg *nats.Msg) {
	ev, err := decodeChatEvent(msg.Data)
	if err != nil {
		fmt.Fprintf(c.log, "NATS: a message on %s that is not a node's: %v\n", c.subject, err)
		return
	}
	c.inMu.Lock()
	if c.inBytes+ev.size > chatClusterInMax {
		c.inDropped++
		c.inMu.Unlock()
		return
	}
	first := len(c.inbox) == 0 && c.started
	c.inbox = append(c.inbox, ev)
	c.inBytes += ev.size
	c.inMu.Unlock()
	if first {
		_ = c.l.Post(c.drain)
	}
}

// take removes and returns up to limit events from the inbox, and how many
// were dropped since the last take.
func (c *chatCluster) take(buf []chatEvent, limit int) ([]chatEvent, uint64) {
	c.inMu.Lock()
	defer c.inMu.Unlock()
	n := min(limit, len(c.inbox))
	buf = append(buf[:0], c.inbox[:n]...)
	for _, ev := range buf {
		c.inBytes -= ev.size
	}
	clear(c.inbox[:n]) // what they hold is the loop's now
	c.inbox = c.inbox[n:]
	if len(c.inbox) == 0 {
		c.inbox, c.inBytes = nil, 0
	}
	dropped := c.inDropped
	c.inDropped = 0
	return buf, dropped
}

// more reports whether the inbox has events (the loop then posts itself
// another drain).
func (c *chatCluster) more() bool {
	c.inMu.Lock()
	defer c.inMu.Unlock()
	return len(c.inbox) > 0
}

// send queues ev for the other nodes: the loop only appends to the
// outbox; the publisher goroutine hands it to nats.go, which may wait on
// the network.
func (c *chatCluster) send(ev *chatEvent) {
	out := chatOut{data: ev.encode(), lines: ev.Lines}
	c.outMu.Lock()
	c.outbox = append(c.outbox, out)
	c.outMu.Unlock()
	c.outBytes.Add(int64(len(out.data)))
	select {
	case c.outWake <- struct{}{}:
	default:
	}
}

// publisher hands the outbox to nats.go until close; then what is left,
// and a flush of at most chatClusterStopWait.
func (c *chatCluster) publisher() {
	defer close(c.pubEnded)
	var batch []chatOut
	for {
		var done bool
		select {
		case <-c.outWake:
		case <-c.outDone:
			done = true
		}
		c.outMu.Lock()
		batch, c.outbox = c.outbox, batch[:0]
		c.outMu.Unlock()
		for i, out := range batch {
			if err := c.nc.Publish(c.subject, out.data); err != nil {
				c.lost.Add(out.lines) // the split buffer is full (or the link closed)
			}
			c.outBytes.Add(-int64(len(out.data)))
			batch[i] = chatOut{}
		}
		if done {
			_ = c.nc.FlushTimeout(chatClusterStopWait)
			return
		}
	}
}

// close sends what is queued (the goodbye among it), then leaves NATS.
// Called once the server has stopped.
func (c *chatCluster) close() {
	close(c.outDone)
	<-c.pubEnded
	c.nc.Close()
}
