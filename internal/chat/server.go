// Package chat is chat-server's room: members on TCP (or TLS) connections
// send lines, and every line goes to every other member after its
// sender's name; /nick, /who and /quit are the members' commands. With a
// ClusterConfig, several servers (nodes) are one room, joined through NATS.
//
// What the room promises, each rule kept in one place:
//
//   - Nobody can pass for someone else: every line from a member starts
//     with "[NAME] ", every notice of the server with "* ", and a member's
//     controls, line separators and bidi controls reach the others
//     escaped (room.go's message, with internal/safetext).
//   - Lines are at most MaxLine bytes; a longer one is refused with a
//     notice, never buffered (room.go's read).
//   - Nobody's pace stops the room: what one read of a member brings goes
//     to each of the others in one write; while a member's queue is past
//     256 KiB the senders are held, not read, until every queue is below
//     64 KiB, and only a member who takes nothing for Config.WriteTimeout
//     is dropped (flow.go).
//   - A join storm does not stop the room either: a member's welcome is
//     written at once, and joins and leaves are told in batches, one write
//     per member per batch, a batch of many told as one line ("* 2500
//     members entered room"; notices.go).
//   - Names are unique without regard to case, in the whole room
//     (room.go's nick, and cluster_names.go across nodes).
//
// A Server is a loop.Server of one loop whose handler is the room:
//
//	srv, err := chat.NewServer(chat.Config{}, loop.Options{})
//	if err != nil {
//		return err
//	}
//	defer srv.Close() // after Stop: leaves NATS, with a cluster
//	if err := srv.Listen("tcp", "127.0.0.1:8002"); err != nil {
//		return err
//	}
//	if err := srv.Start(); err != nil {
//		return err
//	}
//	defer srv.Stop(ctx) // the members are told the server is shutting down
//
// Only cluster.go imports NATS's client, github.com/nats-io/nats.go.
package chat

import (
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/iomux/iomux/loop"
)

// Limits and defaults of a room.
const (
	// MaxLine is the longest line a member may send, in bytes, its "\n"
	// (or "\r\n") not counted.
	MaxLine = 4096
	// MaxName is the longest name of a member, a node or a room.
	MaxName = 32
	// DefaultWriteTimeout is Config.WriteTimeout's default.
	DefaultWriteTimeout = 10 * time.Second
)

// Config is what a chat server is made from. The zero value is a room on
// one server, with the defaults.
type Config struct {
	// WriteTimeout drops a member who takes nothing of what is queued for
	// them for this long, and tells the others ("* [NAME] was
	// disconnected: took nothing for 10s"); until then the room waits for
	// them (senders are held while their queue is full). 0:
	// DefaultWriteTimeout; negative: never, as for loop.Options.
	WriteTimeout time.Duration
	// Log receives the server's notes, a line each ("Client
	// 127.0.0.1:55821 connected", and with a cluster the link's state).
	// It is written on the loop, so it must not block: chat-server's
	// drops what its reader does not take. nil: the notes are discarded.
	Log io.Writer
	// Cluster, when its URLs are set, makes the server one node of a room
	// spread over several.
	Cluster ClusterConfig
}

// Server is a chat room on a loop.Server of one loop, embedded: Listen (or
// ListenTLS), Start and Stop it as any loop.Server. Stop tells the members,
// and the other nodes, that the server is shutting down before it closes
// the connections. Close it once it has stopped.
type Server struct {
	*loop.Server
	room    *room
	cluster *cluster // nil without Config.Cluster.URLs
	closed  sync.Once
}

// NewServer makes a chat server from cfg, on a loop.Server made with opts
// (its backend, logger, Observe and so on are the caller's), except that
// it has one loop and cfg's WriteTimeout. The room runs on a single loop:
// membership, names and the order of messages are one piece of state that
// every line touches, and one loop owns it without locks and gives every
// member the same order of messages. Chat is light work (a broadcast is
// one non-blocking write per member), so one core serves a large room.
//
// With cfg.Cluster.URLs set, NewServer connects to NATS, or keeps trying
// in the background if NATS is out of reach (the room then starts split),
// and the node joins the room when its loop starts. It fails on a room or node name that CheckName
// refuses, a negative NodeTimeout, or URLs nats.go cannot use.
func NewServer(cfg Config, opts loop.Options) (*Server, error) {
	if cfg.WriteTimeout == 0 {
		cfg.WriteTimeout = DefaultWriteTimeout
	}
	if cfg.Log == nil {
		cfg.Log = io.Discard
	}
	r := &room{log: cfg.Log, writeTimeout: cfg.WriteTimeout}
	s := &Server{room: r}
	if cfg.Cluster.URLs != "" {
		c, err := newCluster(cfg.Cluster, cfg.Log)
		if err != nil {
			return nil, err
		}
		s.cluster, r.cluster = c, c
	}
	opts.Loops = 1
	opts.WriteTimeout = cfg.WriteTimeout
	s.Server = loop.NewServer(r, opts)
	return s, nil
}

// Close leaves NATS: it sends what is still queued for the other nodes
// (the goodbye that Stop queued among it), waiting at most a second, and
// closes the connection. Call it once the Server has stopped, or if it
// never started; without a cluster it does nothing. Later calls do
// nothing.
func (s *Server) Close() {
	if s.cluster != nil {
		s.closed.Do(s.cluster.close)
	}
}

var (
	errNameLength = fmt.Errorf("a name is 1 to %d characters long", MaxName)
	errNameChars  = errors.New("a name may hold letters, digits, - _ and . only")
)

// CheckName returns an error, worded for the person who chose the name,
// unless name may be a member's, a node's or a room's: 1 to MaxName
// letters, digits, '-', '_' and '.'.
func CheckName(name string) error {
	if name == "" || len(name) > MaxName {
		return errNameLength
	}
	for _, ch := range name {
		ok := ch == '-' || ch == '_' || ch == '.' ||
			'a' <= ch && ch <= 'z' || 'A' <= ch && ch <= 'Z' || '0' <= ch && ch <= '9'
		if !ok {
			return errNameChars
		}
	}
	return nil
}
