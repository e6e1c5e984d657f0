package loop

import (
	"expvar"
	"sync"
	"sync/atomic"
)

// Stats are a Server's counters, summed over its loops, or one loop's
// (Loop.Stats).
type Stats struct {
	Name string // Options.Name

	Open         int64 // connections open now
	Total        int64 // connections accepted or dialed since Start
	BytesIn      int64 // bytes read
	BytesOut     int64 // bytes written
	Waits        int64 // Selector.Wait calls
	Wakeups      int64 // wake-ups posted from other goroutines
	Paused       int64 // connections paused by back-pressure now
	Queued       int64 // bytes of output queued now (see Options.MaxQueued)
	Posted       int64 // functions posted and waiting for their loop now (Post, AsyncWrite; see Options.MaxPosts)
	Refused      int64 // Posts and AsyncWrites refused with ErrQueueFull
	AcceptErrors int64 // failed accepts (EMFILE and others), and accepted connections the Selector refused

	Handshakes      int64 // TLS handshakes done
	HandshakeErrors int64 // TLS handshakes failed, timed out or cut short
	Handshaking     int64 // TLS handshakes running or waiting for a turn now

	Panics int64 // handler panics recovered (each logged at Error with its stack)
}

// loopStats are one loop's counters: written by the loop, read by anyone.
// interest (Selector Register/Modify/Unregister calls) is for tests and is
// not in Stats.
type loopStats struct {
	open, total, bytesIn, bytesOut, waits, wakeups, paused, acceptErrors atomic.Int64
	handshakes, handshakeErrors, handshaking, panics, queued             atomic.Int64
	posted, refused                                                      atomic.Int64
	interest                                                             atomic.Int64
}

// Stats returns the server's counters (Loop.Stats has each loop's).
func (s *Server) Stats() Stats {
	st := Stats{Name: s.opts.Name}
	for _, l := range s.loops {
		ls := l.Stats()
		st.Open += ls.Open
		st.Total += ls.Total
		st.BytesIn += ls.BytesIn
		st.BytesOut += ls.BytesOut
		st.Waits += ls.Waits
		st.Wakeups += ls.Wakeups
		st.Paused += ls.Paused
		st.Queued += ls.Queued
		st.Posted += ls.Posted
		st.Refused += ls.Refused
		st.AcceptErrors += ls.AcceptErrors
		st.Handshakes += ls.Handshakes
		st.HandshakeErrors += ls.HandshakeErrors
		st.Handshaking += ls.Handshaking
		st.Panics += ls.Panics
	}
	return st
}

// Stats returns the loop's own counters (Name is the Server's): where
// the load and the queues are.
func (l *Loop) Stats() Stats {
	return Stats{
		Name:            l.srv.opts.Name,
		Open:            l.stats.open.Load(),
		Total:           l.stats.total.Load(),
		BytesIn:         l.stats.bytesIn.Load(),
		BytesOut:        l.stats.bytesOut.Load(),
		Waits:           l.stats.waits.Load(),
		Wakeups:         l.stats.wakeups.Load(),
		Paused:          l.stats.paused.Load(),
		Queued:          l.stats.queued.Load(),
		Posted:          l.stats.posted.Load(),
		Refused:         l.stats.refused.Load(),
		AcceptErrors:    l.stats.acceptErrors.Load(),
		Handshakes:      l.stats.handshakes.Load(),
		HandshakeErrors: l.stats.handshakeErrors.Load(),
		Handshaking:     l.stats.handshaking.Load(),
		Panics:          l.stats.panics.Load(),
	}
}

// The running servers, published together as the expvar "iomux.loop": a
// list with one entry per running server, its Stats (Name tells them
// apart) and "Loops", each loop's.
var (
	serversMu sync.Mutex
	servers   = map[*Server]struct{}{}
)

// publishedStats is a server's entry in the expvar list.
type publishedStats struct {
	Stats
	Loops []Stats
}

func init() {
	expvar.Publish("iomux.loop", expvar.Func(func() any {
		serversMu.Lock()
		defer serversMu.Unlock()
		out := make([]publishedStats, 0, len(servers))
		for s := range servers {
			p := publishedStats{Stats: s.Stats()}
			for _, l := range s.loops {
				p.Loops = append(p.Loops, l.Stats())
			}
			out = append(out, p)
		}
		return out
	}))
}

// publish adds a started Server to the expvar list; unpublish removes it.
func publish(s *Server) {
	serversMu.Lock()
	servers[s] = struct{}{}
	serversMu.Unlock()
}

func unpublish(s *Server) {
	serversMu.Lock()
	delete(servers, s)
	serversMu.Unlock()
}
