package main

import (
	"sync"

	"github.com/iomux/iomux/loop"
)

// kvOutbox is a loop's state beside its connections: its clients woken on
// it (see kv.ConnInfo.WakeLocal), and its pub/sub messages not yet written: PUBLISH, on any
// loop, appends a message to each subscriber's pending list, and the first
// message since the last flush posts one flush to the loop, which writes
// each subscriber's messages in one Writev. So a pipelined burst of
// PUBLISHes costs a subscriber one write, not one per message, and a loop
// one wake-up, not one per subscriber (as Redis writes a client's replies
// once per event-loop turn). The message buffers are shared by every
// subscriber: PUBLISH encodes a message once.
type kvOutbox struct {
	loop      *loop.Loop
	highWater int // a subscriber with more than this queued after a flush is dropped

	// Blocked clients of this loop woken by a command run on it, to run
	// once the callback is done (kvHandler.runWoken); loop-owned, no lock.
	woken   []*kvConn
	running bool

	mu        sync.Mutex
	dirty     []*kvConn // subscribers with pending messages
	scheduled bool      // a flush is posted
	spare     []*kvConn
}

// push queues p for kc's connection, from any goroutine.
func (ob *kvOutbox) push(kc *kvConn, p []byte) {
	ob.mu.Lock()
	if len(kc.pending) == 0 {
		ob.dirty = append(ob.dirty, kc)
	}
	kc.pending = append(kc.pending, p)
	post := !ob.scheduled
	ob.scheduled = true
	ob.mu.Unlock()
	if post && ob.loop.Post(ob.flush) != nil {
		ob.mu.Lock()
		ob.scheduled = false // the loop is behind or gone: the next push tries again
		ob.mu.Unlock()
	}
}

// flush writes every subscriber's pending messages (on the loop). A
// subscriber whose output then queues past highWater does not read: it is
// disconnected at once, its queue dropped (Redis's client-output-buffer-
// limit for pubsub clients; see README).
func (ob *kvOutbox) flush() {
	ob.mu.Lock()
	dirty := ob.dirty
	ob.dirty, ob.spare = ob.spare[:0], nil
	ob.scheduled = false
	batches := make([][][]byte, len(dirty))
	for i, kc := range dirty {
		batches[i], kc.pending = kc.pending, nil
	}
	ob.mu.Unlock()
	for i, kc := range dirty {
		c := kc.conn
		if c.Closed() {
			continue
		}
		if _, err := c.Writev(batches[i]); err == nil && c.Outbound() > ob.highWater {
			c.CloseNow()
		}
		dirty[i] = nil
	}
	ob.mu.Lock()
	if ob.spare == nil {
		ob.spare = dirty[:0]
	}
	ob.mu.Unlock()
}
