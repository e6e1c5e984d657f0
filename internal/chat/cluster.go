package chat

// The nodes of one room, joined through NATS (core publish/subscribe,
// github.com/nats-io/nats.go; the only file of the package, and of the
// binary, that imports it). This file is the link: the connection, what
// goes out (an outbox that a publisher goroutine empties, so the loop never
// waits on the network) and what comes in (an inbox that reaches the loop
// through Loop.Post, one wake-up per burst). cluster_room.go is what the
// room does with it: the other nodes' members, their lines and notices,
// heartbeats, splits and merges.

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
	// DefaultNodeTimeout is ClusterConfig.NodeTimeout's default.
	DefaultNodeTimeout = 3 * time.Second
	// DefaultRoom is ClusterConfig.Room's default.
	DefaultRoom = "chat"

	// splitBuffer is what nats.go keeps of this node's output while NATS
	// is out of reach, sent when it is back (the rest is lost, counted and
	// said).
	splitBuffer = 1 << 20
	// outHigh: past this much output waiting for NATS, the node's senders
	// are held (as for a member's full queue) until it is below queueLow.
	outHigh = 1 << 20
	// inMax bounds what waits for the loop from NATS; past it, messages
	// are dropped, counted and said (the others hold their senders long
	// before, see node.busy).
	inMax = 16 << 20
	// sayMax bounds the lines of one message between nodes: a NATS
	// server's max_payload must be above it (and above a heartbeat, some
	// 40 bytes a member).
	sayMax = 60 << 10
	// stopWait bounds the goodbye at shutdown.
	stopWait = time.Second
)

// ClusterConfig makes a chat server one node of a room spread over
// several, joined through NATS (chat-server's --nats, --room, --node and
// --node-timeout). Every node given the same NATS server(s) and Room is a
// node of one room: a line said on any node reaches every member of every
// node once, in the order it was said.
type ClusterConfig struct {
	// URLs are the NATS server(s), "nats://host:4222[,nats://...]";
	// empty: the room is this server's alone.
	URLs string
	// Room is the room's name (CheckName's rules); "": DefaultRoom.
	Room string
	// Node is this node's name (CheckName's rules), unique in the room:
	// when two nodes granted one member name at once, the member on the
	// node whose name sorts first keeps it. "": HOST-PID.
	Node string
	// NodeTimeout: a node not heard from for this long is lost, its
	// members announced offline; nodes beat three times per timeout, and
	// a write to NATS that waits this long is a broken link. 0:
	// DefaultNodeTimeout.
	NodeTimeout time.Duration
}

// event is one message between nodes: a header in JSON, then, after a
// newline, Text as it is (for "say": the lines and notices of one turn,
// formatted and escaped by the node that sent them).
type event struct {
	Kind string `json:"k"`           // hello, beat, join, nick, leave, say, bye
	Node string `json:"n"`           // the sender's name (ClusterConfig.Node)
	Inst uint64 `json:"i"`           // the sender's instance, new at each start
	Seq  uint64 `json:"s"`           // the sender's events, counted from 1
	Said uint64 `json:"l,omitempty"` // lines the sender has said, this event's included
	// Lines in this event (say); with Said, what a gap lost.
	Lines   uint64   `json:"nl,omitempty"`
	ID      uint64   `json:"m,omitempty"`  // join, nick, leave: the member
	Name    string   `json:"nm,omitempty"` // join, nick: their name
	Members []remote `json:"ms,omitempty"` // hello, beat: every member of the node
	Busy    bool     `json:"b,omitempty"`  // hello, beat: a member's queue is past queueHigh
	Text    []byte   `json:"-"`
	size    int      // bytes on the wire, for the inbox's bound
}

// remote is a member as the other nodes know it.
type remote struct {
	ID   uint64 `json:"i"`
	Name string `json:"n"`
}

var eventKinds = []string{"hello", "beat", "join", "nick", "leave", "say", "bye"}

func (ev *event) encode() []byte {
	head, _ := json.Marshal(ev) // plain fields: cannot fail
	return append(append(head, '\n'), ev.Text...)
}

func decodeEvent(data []byte) (event, error) {
	var ev event
	head, text, _ := bytes.Cut(data, []byte{'\n'})
	if err := json.Unmarshal(head, &ev); err != nil {
		return ev, err
	}
	switch {
	case !slices.Contains(eventKinds, ev.Kind):
		return ev, fmt.Errorf("unknown kind %q", ev.Kind)
	case ev.Inst == 0 || ev.Seq == 0:
		return ev, errors.New("no instance or sequence number")
	case CheckName(ev.Node) != nil:
		return ev, fmt.Errorf("node name %q", ev.Node)
	}
	ev.Text, ev.size = text, len(data)
	return ev, nil
}

// defaultNode is ClusterConfig.Node's default: HOST-PID, letters, digits,
// '-', '_' and '.' only.
func defaultNode() string {
	host, _ := os.Hostname()
	host = strings.Map(func(ch rune) rune {
		if ch == '-' || ch == '_' || ch == '.' || 'a' <= ch && ch <= 'z' || 'A' <= ch && ch <= 'Z' || '0' <= ch && ch <= '9' {
			return ch
		}
		return -1
	}, host)
	name := fmt.Sprintf("%s-%d", host, os.Getpid())
	return name[max(0, len(name)-MaxName):]
}

// outgoing is an encoded event waiting for the publisher.
type outgoing struct {
	data  []byte
	lines uint64
}

// cluster is one node's link to the others. The loop owns everything
// but what the mutexes guard: the inbox (NATS's goroutines add, the loop
// takes) and the outbox (the loop adds, the publisher takes).
type cluster struct {
	cfg     ClusterConfig // its defaults filled in
	subject string
	inst    uint64
	nc      *nats.Conn
	log     io.Writer // the room's notes

	// The loop's: set by start, then owned by the loop (cluster_room.go).
	room  *room
	l     *loop.Loop
	state clusterState

	inMu      sync.Mutex
	inbox     []event
	inBytes   int
	inDropped uint64 // messages dropped for a full inbox, not yet said
	started   bool   // start ran: the inbox may be posted

	outMu    sync.Mutex
	outbox   []outgoing
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
func (c *cluster) linkUp(nc *nats.Conn) {
	c.connected.Store(true)
	url := nc.ConnectedUrlRedacted()
	c.post(func() { c.merged(url) })
}

// newCluster checks cfg and fills in its defaults, connects to NATS (or
// keeps trying in the background: the node starts split) and subscribes to
// the room. The link is idle until start gives it the room's loop.
func newCluster(cfg ClusterConfig, log io.Writer) (*cluster, error) {
	if cfg.Room == "" {
		cfg.Room = DefaultRoom
	}
	if cfg.Node == "" {
		cfg.Node = defaultNode()
	}
	if cfg.NodeTimeout == 0 {
		cfg.NodeTimeout = DefaultNodeTimeout
	}
	if err := CheckName(cfg.Room); err != nil {
		return nil, fmt.Errorf("chat: room %q: %w", cfg.Room, err)
	}
	if err := CheckName(cfg.Node); err != nil {
		return nil, fmt.Errorf("chat: node %q: %w", cfg.Node, err)
	}
	if cfg.NodeTimeout < 0 {
		return nil, fmt.Errorf("chat: node timeout %v: must not be negative", cfg.NodeTimeout)
	}
	var instance [8]byte
	_, _ = rand.Read(instance[:])
	c := &cluster{
		cfg:      cfg,
		subject:  "iomux.chat." + cfg.Room,
		inst:     binary.BigEndian.Uint64(instance[:]) | 1,
		log:      log,
		outWake:  make(chan struct{}, 1),
		outDone:  make(chan struct{}),
		pubEnded: make(chan struct{}),
	}
	c.state.init()
	nc, err := nats.Connect(cfg.URLs,
		nats.Name("iomux chat-server "+cfg.Node),
		nats.NoEcho(), // a node's own events are not sent back to it
		nats.RetryOnFailedConnect(true),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(250*time.Millisecond),
		nats.ReconnectJitter(250*time.Millisecond, time.Second),
		nats.ReconnectBufSize(splitBuffer),
		nats.Timeout(2*time.Second),
		nats.PingInterval(cfg.NodeTimeout/3), // a cut link is noticed in about a node timeout
		nats.MaxPingsOutstanding(3),
		nats.FlusherTimeout(cfg.NodeTimeout), // a write that waits this long: the link is broken (nats.go's default is a minute)
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
		return nil, fmt.Errorf("chat: NATS at %s: %w", cfg.URLs, err)
	}
	c.nc = nc
	c.connected.Store(nc.IsConnected())
	if _, err := nc.Subscribe(c.subject, c.received); err != nil {
		nc.Close()
		return nil, fmt.Errorf("chat: NATS at %s: subscribe %s: %w", cfg.URLs, c.subject, err)
	}
	go c.publisher()
	return c, nil
}

// start joins the room on l; called on the loop as it starts.
func (c *cluster) start(r *room, l *loop.Loop) {
	c.room, c.l = r, l
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
func (c *cluster) post(fn func()) {
	c.inMu.Lock()
	started := c.started
	c.inMu.Unlock()
	if started {
		_ = c.l.Post(fn) // refused only once the server stopped
	}
}

// received runs on nats.go's goroutine: it decodes a message and queues
// it for the loop, waking the loop only if the inbox was empty.
func (c *cluster) received(msg *nats.Msg) {
	ev, err := decodeEvent(msg.Data)
	if err != nil {
		fmt.Fprintf(c.log, "NATS: a message on %s that is not a node's: %v\n", c.subject, err)
		return
	}
	c.inMu.Lock()
	if c.inBytes+ev.size > inMax {
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
func (c *cluster) take(buf []event, limit int) ([]event, uint64) {
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
func (c *cluster) more() bool {
	c.inMu.Lock()
	defer c.inMu.Unlock()
	return len(c.inbox) > 0
}

// send queues ev for the other nodes: the loop only appends to the
// outbox; the publisher goroutine hands it to nats.go, which may wait on
// the network.
func (c *cluster) send(ev *event) {
	out := outgoing{data: ev.encode(), lines: ev.Lines}
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
// and a flush of at most stopWait.
func (c *cluster) publisher() {
	defer close(c.pubEnded)
	var batch []outgoing
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
			batch[i] = outgoing{}
		}
		if done {
			_ = c.nc.FlushTimeout(stopWait)
			return
		}
	}
}

// close sends what is queued (the goodbye among it), then leaves NATS.
// Called once the server has stopped (Server.Close), once.
func (c *cluster) close() {
	close(c.outDone)
	<-c.pubEnded
	c.nc.Close()
}
