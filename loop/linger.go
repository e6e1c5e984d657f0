package loop

import (
	"github.com/iomux/iomux"
	"github.com/iomux/iomux/internal/sock"
)

// lingerer holds the socket of a connection that Close ended while its
// peer was still sending (see Conn.Close): the FIN is sent after the data,
// and what the peer sends is read and dropped until its EOF, an error or
// Options.LingerTimeout. The Handler is done with it; only the loop knows
// it, and Stop does not wait for it.
type lingerer struct {
	fd    int
	timer *Timer
}

// linger shuts down fd's writing half and watches it for the peer's EOF;
// fd is no longer a Conn's.
func (l *Loop) linger(fd int) {
	g := &lingerer{fd: fd}
	if sock.CloseWrite(fd) != nil || l.register(fd, iomux.Readable, g) != nil {
		sock.Close(fd) // the peer is gone already, or the Selector refuses: nothing to wait for
		return
	}
	g.timer = l.AfterFunc(l.srv.opts.LingerTimeout, func() { g.end(l) })
	if l.lingering == nil {
		l.lingering = map[*lingerer]struct{}{}
	}
	l.lingering[g] = struct{}{}
	l.stats.Lingering.Add(1)
}

// drain reads what the peer sent, one read per readiness report, and ends
// at its EOF or an error.
func (g *lingerer) drain(l *Loop) {
	n, err := sock.Read(g.fd, l.buf)
	switch {
	case sock.WouldBlock(err):
	case err == nil && n > 0:
		l.stats.BytesIn.Add(int64(n))
	default:
		g.end(l)
	}
}

// end closes the socket, once.
func (g *lingerer) end(l *Loop) {
	if g.fd < 0 {
		return
	}
	_ = l.unregister(g.fd)
	sock.Close(g.fd)
	g.fd = -1
	g.timer.Stop()
	delete(l.lingering, g)
	l.stats.Lingering.Add(-1)
}

// endLingering closes every socket still lingering (the loop is ending).
func (l *Loop) endLingering() {
	for g := range l.lingering {
		g.end(l)
	}
}
