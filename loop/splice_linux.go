package loop

import (
	"errors"

	"github.com/iomux/iomux/internal/sock"
)

const spliceSupported = true

// errSplicePipe closes a sink whose bytes were lost in the loop's pipe (a read
// from the pipe failed: it should not happen).
var errSplicePipe = errors.New("loop: splice: the pipe could not be read")

// splicePipe is a loop's pipe for its spliced relays: one per loop (two
// descriptors), made on first use, empty between two splices: what a
// sink does not take is read out of it into the sink's output queue at
// once. So a spliced connection costs no descriptor and no kernel buffer
// of its own, and Close, CloseWrite and linger work on the output queue
// alone, as for any connection.
type splicePipe struct{ r, w int }

// splicer returns the loop's pipe, made on first use; nil if it cannot be
// made (out of descriptors: the relay copies meanwhile).
func (l *Loop) splicer() *splicePipe {
	if l.pipe == nil {
		r, w, err := sock.Pipe(len(l.buf))
		if err != nil {
			return nil
		}
		l.pipe = &splicePipe{r, w}
	}
	return l.pipe
}

// closePipe closes the loop's pipe, if it made one.
func (l *Loop) closePipe() {
	if p := l.pipe; p != nil {
		sock.Close(p.r)
		sock.Close(p.w)
		l.pipe = nil
	}
}

// spliceRead is read for a connection of a spliced relay: it moves what
// c received (at most one read buffer's worth, one splice per readiness
// report, as read) into the pipe, and from there to the sink in one
// splice; what the sink's socket does not take is read out of the pipe
// into the sink's output queue, behind which what comes next waits (it
// goes through OnData). It reports false when it does not splice now
// (see spliceSink): read then reads as usual.
func (c *Conn) spliceRead() bool {
	sink := c.spliceSink()
	if sink == nil {
		return false
	}
	l := c.loop
	p := l.splicer()
	if p == nil {
		return false
	}
	n, err := sock.Splice(int(c.fd), p.w, len(l.buf))
	switch {
	case sock.WouldBlock(err):
		return true
	case sock.SpliceUnsupported(err):
		c.extra.spliced = false // nothing moved: copy from now on
		return false
	case err != nil:
		c.closeWith(ioError(err))
		return true
	case n == 0:
		c.peerEOF()
		return true
	}
	l.stats.BytesIn.Add(int64(n))
	if t := c.limitsIfSet(); t != nil {
		t.lastRead = l.now()
	}
	sent, err := ignoreWouldBlock(sock.Splice(p.r, int(sink.fd), n))
	if err != nil {
		l.emptyPipe(n)
		sink.closeWith(ioError(err))
		return true
	}
	sink.wrote(sent)
	l.stats.Spliced.Add(int64(sent))
	if rest := n - sent; rest > 0 {
		// The sink's socket is full: the rest is queued, as a Write
		// queues what the socket does not take.
		buf := l.buf[:rest]
		if !l.emptyPipe(rest) {
			sink.closeWith(errSplicePipe)
			return true
		}
		sink.queue(buf)
	} else {
		sink.emptied()
	}
	return true
}

// emptyPipe reads the n bytes left in the loop's pipe into the loop's
// buffer. If that fails the pipe is dropped (the next splice makes
// another), and it reports false.
func (l *Loop) emptyPipe(n int) bool {
	p := l.pipe
	for got := 0; got < n; {
		m, err := sock.Read(p.r, l.buf[got:n])
		if err != nil || m == 0 {
			l.closePipe()
			return false
		}
		got += m
	}
	return true
}

// spliceSink returns where the loop may splice c's input now (nil: read
// it as usual): the other end of c's spliced relay, if c has no input
// buffered (it goes first, through OnData) and the sink is writable with
// nothing queued (what is queued goes first).
func (c *Conn) spliceSink() *Conn {
	sink := c.extra.source
	if sink == nil || sink.extra.source != c || !sink.extra.spliced || len(c.view) > 0 ||
		c.state != stateOpen || !sink.writable() || sink.Outbound() > 0 {
		return nil
	}
	return sink
}
