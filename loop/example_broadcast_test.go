package loop_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"

	"github.com/iomux/iomux/loop"
)

// hub is a line pub/sub server, the recipe for a broadcast across loops.
// A client's first line says what it is: "sub" (it is sent every line
// published) or "pub" (its lines are published). Each loop keeps its own
// subscribers (per-loop state, made in OnLoopStart), so a
// publisher's batch of lines is Posted once to each loop, which writes it
// to its subscribers: the same buffer, shared and never changed, is
// written to all. The publisher is not read while a batch is out: each
// loop says it is done once its subscribers' queues are below HighWater
// again, so the publisher goes at the pace of the slowest reader, nobody
// is dropped for reading slowly, and the output queued is bounded by
// subscribers x (HighWater + one batch).
type hub struct {
	loop.BaseHandler
	srv *loop.Server
}

// hubLoop is one loop's share of the hub.
type hubLoop struct {
	subs    map[*loop.Conn]bool
	waiting []func() // batches written here, to acknowledge once no subscriber is paused
}

// hubPub is a publisher's state: how many loops still write its batch.
type hubPub struct{ out int }

func newHub(opts loop.Options) *loop.Server {
	h := &hub{}
	h.srv = loop.NewServer(h, opts)
	return h.srv
}

// OnLoopStart makes each loop's share (hub is a loop.LoopStartHandler).
func (h *hub) OnLoopStart(l *loop.Loop) { l.SetContext(&hubLoop{subs: map[*loop.Conn]bool{}}) }

func (h *hub) OnData(c *loop.Conn) {
	switch c.Context().(type) {
	case nil: // the first line says what the client is
		i := bytes.IndexByte(c.Peek(-1), '\n')
		if i < 0 {
			return
		}
		switch string(c.Next(i + 1)) {
		case "sub\n":
			c.SetContext(true)
			c.Loop().Context().(*hubLoop).subs[c] = true
			c.Write([]byte("subscribed\n"))
		case "pub\n":
			c.SetContext(&hubPub{})
			h.publish(c)
		default:
			c.Close()
		}
	case *hubPub:
		h.publish(c)
	default: // a subscriber's input is ignored
		c.Discard(-1)
	}
}

// publish sends the publisher's complete lines to every loop, and stops
// reading it until every loop has written them.
func (h *hub) publish(c *loop.Conn) {
	p := c.Context().(*hubPub)
	in := c.Peek(-1)
	end := bytes.LastIndexByte(in, '\n') + 1
	if p.out > 0 || end == 0 {
		return
	}
	batch := append([]byte(nil), in[:end]...) // Peek's bytes are valid only in OnData; the copy is shared by all
	c.Discard(end)
	c.PauseRead()
	p.out = len(h.srv.Loops())
	pubLoop := c.Loop()
	done := func() { // on pubLoop
		if p.out--; p.out == 0 && !c.Closed() {
			c.ResumeRead()
			h.publish(c) // lines that came meanwhile
		}
	}
	for _, l := range h.srv.Loops() {
		// Post fails only while Options.MaxPosts functions wait: with
		// one batch out per publisher, that takes 65536 publishers.
		l.Post(func() {
			st := l.Context().(*hubLoop)
			for sub := range st.subs {
				sub.Write(batch)
			}
			st.waiting = append(st.waiting, func() { pubLoop.Post(done) })
			st.acknowledge()
		})
	}
}

// acknowledge tells the publishers their batches are written, once no
// subscriber of the loop is paused (its queue past HighWater).
func (st *hubLoop) acknowledge() {
	for sub := range st.subs {
		if sub.Congested() {
			return // OnResume or OnClose comes back here
		}
	}
	for _, ack := range st.waiting {
		ack()
	}
	st.waiting = st.waiting[:0]
}

// The hub's optional Handler methods (see loop.Handler).
var (
	_ loop.LoopStartHandler = (*hub)(nil)
	_ loop.ResumeHandler    = (*hub)(nil)
)

func (h *hub) OnResume(c *loop.Conn) { c.Loop().Context().(*hubLoop).acknowledge() }

func (h *hub) OnClose(c *loop.Conn, err error) {
	st := c.Loop().Context().(*hubLoop)
	if st.subs[c] {
		delete(st.subs, c)
		st.acknowledge()
	}
}

// ExampleLoop_Post is a broadcast across loops: lines a publisher sends
// reach every subscriber, whichever loop serves it.
func ExampleLoop_Post() {
	s := newHub(loop.Options{Loops: 2})
	s.Listen("tcp", "127.0.0.1:0")
	if err := s.Start(); err != nil {
		fmt.Println(err)
		return
	}
	defer s.Stop(context.Background())
	addr := s.Addrs()[0].String()

	var subs []*bufio.Reader
	for range 3 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			fmt.Println(err)
			return
		}
		defer c.Close()
		c.Write([]byte("sub\n"))
		r := bufio.NewReader(c)
		r.ReadString('\n') // "subscribed": it gets what is published from now on
		subs = append(subs, r)
	}
	pub, err := net.Dial("tcp", addr)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer pub.Close()
	pub.Write([]byte("pub\nhello\nworld\n"))
	for i, r := range subs {
		a, _ := r.ReadString('\n')
		b, _ := r.ReadString('\n')
		fmt.Printf("subscriber %d: %q %q\n", i, a, b)
	}
	// Output:
	// subscriber 0: "hello\n" "world\n"
	// subscriber 1: "hello\n" "world\n"
	// subscriber 2: "hello\n" "world\n"
}
