package loop

import (
	"reflect"
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
	Spliced      int64 // bytes a spliced relay moved socket to socket in the kernel (Conn.Splice): counted in BytesIn and BytesOut too
	SentFile     int64 // bytes sent from files with sendfile(2) (Conn.AsyncSendFile): counted in BytesOut too
	Waits        int64 // Selector.Wait calls
	Wakeups      int64 // wake-ups posted from other goroutines
	Congested    int64 // connections not read because their output is congested, now (see Conn.Congested)
	Queued       int64 // bytes of output queued now (see Options.MaxQueued)
	Posted       int64 // functions posted and waiting for their loop now (Post, AsyncWrite; see Options.MaxPosts)
	Refused      int64 // Posts and AsyncWrites refused with ErrQueueFull
	AcceptErrors int64 // failed accepts (EMFILE and others), and accepted connections the Selector refused
	Lingering    int64 // sockets of connections Close ended, waiting for the peer's EOF now (see Conn.Close)

	Handshakes      int64 // Transport handshakes (TLS's) done
	HandshakeErrors int64 // handshakes failed, timed out or cut short
	Handshaking     int64 // handshakes running now (TLS's: or waiting for a turn)

	Panics int64 // handler panics recovered (each logged at Error with its stack)
}

// loopStats are one loop's counters: written by the loop, read by anyone.
// Each is named as its Stats field (counters reads them by name).
// interest (Selector Register/Modify/Unregister calls) is for tests and
// is not in Stats.
type loopStats struct {
	Open, Total, BytesIn, BytesOut, Waits, Wakeups, Congested, Queued atomic.Int64
	Spliced, SentFile, Posted, Refused, AcceptErrors, Lingering       atomic.Int64
	Handshakes, HandshakeErrors, Handshaking, Panics                  atomic.Int64
	interest                                                          atomic.Int64
}

// counters copies each counter of ls into the Stats field of its name.
func (ls *loopStats) counters() Stats {
	var st Stats
	src, dst := reflect.ValueOf(ls).Elem(), reflect.ValueOf(&st).Elem()
	for i := range dst.NumField() {
		if f := dst.Type().Field(i); f.Type.Kind() == reflect.Int64 {
			dst.Field(i).SetInt(src.FieldByName(f.Name).Addr().Interface().(*atomic.Int64).Load())
		}
	}
	return st
}

// add adds o's counters to st's.
func (st *Stats) add(o Stats) {
	dst, src := reflect.ValueOf(st).Elem(), reflect.ValueOf(o)
	for i := range dst.NumField() {
		if dst.Field(i).Kind() == reflect.Int64 {
			dst.Field(i).SetInt(dst.Field(i).Int() + src.Field(i).Int())
		}
	}
}

// Stats returns the server's counters (Loop.Stats has each loop's).
func (s *Server) Stats() Stats {
	st := Stats{Name: s.opts.Name}
	for _, l := range s.loops {
		st.add(l.Stats())
	}
	return st
}

// Stats returns the loop's own counters (Name is the Server's): where
// the load and the queues are.
func (l *Loop) Stats() Stats {
	st := l.stats.counters()
	st.Name = l.srv.opts.Name
	return st
}

// ServerStats are a running Server's Stats and each of its loops'.
type ServerStats struct {
	Stats
	Loops []Stats
}

// AllStats returns the Stats of every running Server in the process (from
// Start until Stop has finished), each with its loops': what a program
// publishes to watch them, for example with expvar:
//
//	expvar.Publish("iomux.loop", expvar.Func(func() any { return loop.AllStats() }))
//
// The package publishes nothing itself: importing it registers no
// handler and no variable.
func AllStats() []ServerStats {
	serversMu.Lock()
	defer serversMu.Unlock()
	out := make([]ServerStats, 0, len(servers))
	for s := range servers {
		p := ServerStats{Stats: s.Stats()}
		for _, l := range s.loops {
			p.Loops = append(p.Loops, l.Stats())
		}
		out = append(out, p)
	}
	return out
}

// The running servers, for AllStats.
var (
	serversMu sync.Mutex
	servers   = map[*Server]struct{}{}
)

// track adds a started Server to AllStats; untrack removes it.
func (s *Server) track() {
	serversMu.Lock()
	servers[s] = struct{}{}
	serversMu.Unlock()
}

func (s *Server) untrack() {
	serversMu.Lock()
	delete(servers, s)
	serversMu.Unlock()
}
