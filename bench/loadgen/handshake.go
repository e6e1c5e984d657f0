package main

import (
	"bytes"
	"crypto/tls"
	"io"
	"net"
	"time"

	"github.com/iomux/iomux"
	"github.com/iomux/iomux/bench/internal/latency"
	"github.com/iomux/iomux/internal/sock"
)

// The handshake mode (--handshakes N): N slots, each over and over:
// connect, a full TLS handshake, one echo of --size bytes (verified),
// close_notify, close. A cycle is one "message" of the window; its latency
// runs from the connect to the verified echo. A slot whose connection
// fails is not refilled: the error is counted and the run fails.

// connect starts slot i's next connection (its cycle number seq) with a
// non-blocking connect: the driver's thread never waits for one.
func (d *selectorDriver) connect(i int, seq uint64) {
	fd, err := sock.Open(d.ep)
	if err != nil {
		d.st.errors++
		return
	}
	c := d.add(fd, i)
	c.seq, c.opened = seq, d.now()
	sock.SetNoDelay(fd, true)
	pending, err := sock.Connect(fd, d.ep)
	ev := iomux.Readable
	if pending {
		c.connecting, c.wait = true, true
		ev |= iomux.Writable
	}
	if err == nil {
		err = d.sel.Register(fd, ev, nil)
	}
	switch {
	case err != nil:
		d.fail(c)
	case !pending:
		d.startTLS(c)
	}
}

// connected ends a pending connect: the handshake starts, or it failed.
func (d *selectorDriver) connected(c *selectorConn) {
	c.connecting = false
	if err := sock.ConnectError(c.fd); err != nil {
		d.fail(c)
		return
	}
	d.waitWritable(c, false)
	d.startTLS(c)
}

// settleHandshakes takes the reports of the handshakes that ended: an
// established connection sends its echo, timed from its connect.
func (d *selectorDriver) settleHandshakes() {
	for {
		select {
		case r := <-d.hsDone:
			if err := d.handshaken(r.c, r.err); err != nil {
				d.lastErr = err
			} else if !r.c.dead {
				d.startBatch(r.c)
				r.c.start = r.c.opened
			}
		default:
			return
		}
	}
}

// recycle ends a slot's cycle, as a client's tls.Conn.Close does
// (close_notify, then close), and starts the next one.
func (d *selectorDriver) recycle(c *selectorConn) {
	c.tls.sess.CloseWrite()
	d.drop(c)
	if d.phase != phaseDone {
		d.connect(c.index, c.seq)
	}
}

// handshakeLoop is a goroutine driver's slot in handshake mode, with
// crypto/tls: dial, handshake, echo, Close, until the window is over.
func (d *goroutineDriver) handshakeLoop(i int, base time.Time) {
	want := make([]byte, d.cfg.size)
	buf := make([]byte, d.cfg.size)
	var h latency.Histogram
	var msgs int64
	defer func() { d.merge(msgs, &h) }()
	for seq := uint64(0); d.phase.Load() != phaseDone; seq++ {
		off := batchOffset(i, seq)
		copy(want, d.pl[off:off+d.cfg.size])
		start := time.Since(base)
		st, err := d.cycle(want, buf)
		if err != nil {
			d.failed()
			return
		}
		if !bytes.Equal(buf, want) {
			d.bad.Add(1)
		}
		d.noteTLS(st)
		if d.phase.Load() == phaseMeasure {
			msgs++
			d.count.Add(1)
			h.Record(int64(time.Since(base) - start))
		}
	}
}

// cycle is one connection of handshakeLoop; buf gets the echo of want.
func (d *goroutineDriver) cycle(want, buf []byte) (tls.ConnectionState, error) {
	nc, err := net.DialTimeout("tcp", d.cfg.dialAddr, dialTimeout)
	if err != nil {
		return tls.ConnectionState{}, err
	}
	c := tls.Client(nc, d.cfg.tls)
	defer c.Close()
	c.SetDeadline(time.Now().Add(handshakeStall))
	if err := c.Handshake(); err != nil {
		return tls.ConnectionState{}, err
	}
	if _, err := c.Write(want); err != nil {
		return tls.ConnectionState{}, err
	}
	_, err = io.ReadFull(c, buf)
	return c.ConnectionState(), err
}
