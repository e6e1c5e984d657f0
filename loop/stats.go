package loop

import (
	"expvar"
	"sync"
	"sync/atomic"
)

// Stats are a Server's counters, summed over its loops.
type Stats struct {
	Open         int64 // connections open now
	Total        int64 // connections accepted or dialed since Start
	BytesIn      int64 // bytes read
	BytesOut     int64 // bytes written
	Waits        int64 // Selector.Wait calls
	Wakeups      int64 // wake-ups posted from other goroutines
	Paused       int64 // connections paused by back-pressure now
	Queued       int64 // bytes of output queued now (see Options.MaxQueued)
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
	interest                                                             atomic.Int64
}

// Stats returns the server's counters.
func (s *Server) Stats() Stats {
	var st Stats
	for _, l := range s.loops {
		st.Open += l.stats.open.Load()
		st.Total += l.stats.total.Load()
		st.BytesIn += l.stats.bytesIn.Load()
		st.BytesOut += l.stats.bytesOut.Load()
		st.Waits += l.stats.waits.Load()
		st.Wakeups += l.stats.wakeups.Load()
		st.Paused += l.stats.paused.Load()
		st.Queued += l.stats.queued.Load()
		st.AcceptErrors += l.stats.acceptErrors.Load()
		st.Handshakes += l.stats.handshakes.Load()
		st.HandshakeErrors += l.stats.handshakeErrors.Load()
		st.Handshaking += l.stats.handshaking.Load()
		st.Panics += l.stats.panics.Load()
	}
	return st
}

// The running servers, published together as the expvar "iomux.loop" (a
// list of Stats, one per running server).
var (
	serversMu sync.Mutex
	servers   = map[*Server]struct{}{}
)

func init() {
	expvar.Publish("iomux.loop", expvar.Func(func() any {
		serversMu.Lock()
		defer serversMu.Unlock()
		out := make([]Stats, 0, len(servers))
		for s := range servers {
			out = append(out, s.Stats())
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
