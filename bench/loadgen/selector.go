package main

import (
	"bytes"
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"sync"
	"syscall"
	"time"

	"github.com/iomux/iomux"
	"github.com/iomux/iomux/bench/internal/procstat"
	"github.com/iomux/iomux/internal/sock"
)

// The selector driver: one thread, one iomux Selector on the "auto"
// backend (epoll on Linux, kqueue on the BSDs), every connection; TLS
// through internal/tlssession (tls.go), whose handshakes alone run on
// goroutines, fed by this thread.

type selectorConn struct {
	fd         int
	index      int
	seq        uint64
	want       []byte // the batch in flight
	sent       int    // bytes of want written (TLS: handed to the session)
	got        int    // bytes of want echoed back
	bad        bool   // this batch mismatched
	start      time.Duration
	opened     time.Duration // handshake mode: when the connect began
	wait       bool          // registered for Writable
	dead       bool
	connecting bool     // handshake mode: a non-blocking connect is under way
	tls        *tlsConn // nil on plain TCP
}

type selectorDriver struct {
	cfg    echoConfig
	sel    iomux.Selector
	ep     sock.Endpoint   // cfg.dialAddr, resolved once
	conns  []*selectorConn // indexed by fd
	live   int
	pl     []byte
	buf    []byte
	plain  []byte // TLS: the plaintext of one read
	base   time.Time
	phase  int
	once   bool // idle mode: one batch per connection
	done   int  // batches completed, all phases
	st     echoStats
	hsDone chan handshakeResult // TLS: handshake goroutines report here
	hsWG   sync.WaitGroup       // TLS: handshake goroutines running
	// lastErr is why the last handshake failed, in handshake mode, where
	// failures are counted rather than ending the run.
	lastErr error
}

func newSelectorDriver(cfg echoConfig) (*selectorDriver, error) {
	sel, err := iomux.NewSelector("auto")
	if err != nil {
		return nil, err
	}
	ep, err := sock.Resolve("tcp", cfg.dialAddr)
	if err != nil {
		sel.Close()
		return nil, err
	}
	batch := cfg.size * cfg.pipeline
	d := &selectorDriver{cfg: cfg, sel: sel, ep: ep, pl: payload(batch), buf: make([]byte, max(64<<10, batch)), base: time.Now()}
	switch {
	case cfg.handshakes > 0: // run connects
		d.plain = make([]byte, 0, 64<<10)
		d.hsDone = make(chan handshakeResult, cfg.handshakes)
	case cfg.tls != nil:
		d.plain = make([]byte, 0, max(64<<10, batch))
		d.hsDone = make(chan handshakeResult, handshakesAtOnce)
		err = d.openTLS()
	default:
		for i := 0; i < cfg.conns && err == nil; i++ {
			if _, err = d.open(i); err != nil {
				err = fmt.Errorf("connection %d of %d: %w", i+1, cfg.conns, err)
			}
		}
	}
	if err != nil {
		d.close()
		return nil, err
	}
	return d, nil
}

// open dials connection i (blocking until it is connected) and registers
// it for Readable.
func (d *selectorDriver) open(i int) (*selectorConn, error) {
	fd, err := dial(d.cfg.dialAddr)
	if err != nil {
		return nil, err
	}
	c := d.add(fd, i)
	if err := d.sel.Register(fd, iomux.Readable, nil); err != nil {
		d.drop(c)
		return nil, err
	}
	return c, nil
}

// add makes fd connection i of the driver's.
func (d *selectorDriver) add(fd, i int) *selectorConn {
	c := &selectorConn{fd: fd, index: i}
	if fd >= len(d.conns) {
		d.conns = append(d.conns, make([]*selectorConn, fd+1-len(d.conns))...)
	}
	d.conns[fd] = c
	d.live++
	return c
}

// dial connects one non-blocking socket, with TCP_NODELAY as every peer
// server sets it.
func dial(addr string) (int, error) {
	fd, err := sock.Dial("tcp", addr, dialTimeout)
	if err != nil {
		return -1, err
	}
	if err := sock.SetNoDelay(fd, true); err != nil {
		sock.Close(fd)
		return -1, err
	}
	return fd, nil
}

func (d *selectorDriver) stats() *echoStats { return &d.st }

// close ends every connection. A TLS handshake still running is
// aborted, and its goroutine waited for, before its socket is closed.
func (d *selectorDriver) close() {
	for _, c := range d.conns {
		if c != nil && c.tls != nil {
			c.tls.abort()
		}
	}
	d.hsWG.Wait()
	for _, c := range d.conns {
		switch {
		case c == nil:
		case !c.dead:
			d.sel.Unregister(c.fd)
			sock.Close(c.fd)
			c.dead = true
		case c.tls != nil && c.tls.closeLater:
			sock.Close(c.fd)
			c.tls.closeLater = false
		}
	}
	d.sel.Close()
}

func (d *selectorDriver) now() time.Duration { return time.Since(d.base) }

// run starts a batch on every connection, then serves readiness until the
// window closes. Level-triggered: one read per readiness; write interest
// only while a batch is partly written.
func (d *selectorDriver) run(at func(phase int)) error {
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(stop)
	if d.cfg.handshakes == 0 {
		// Steady state: this goroutine is all the generator runs.
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
	}

	at(phaseWarmup)
	phaseEnd := d.now() + d.cfg.warmup
	if d.cfg.warmup <= 0 {
		phaseEnd = d.now()
	}
	var measureStart time.Duration
	if d.cfg.handshakes > 0 {
		for i := range d.cfg.conns {
			d.connect(i, 0)
		}
	}
	for _, c := range d.conns {
		if c != nil && !c.dead && d.cfg.handshakes == 0 {
			d.startBatch(c)
		}
	}
	ready := make([]iomux.Ready, 256)
	prog := newProgress(d.cfg.progress, &d.st)
	for {
		now := d.now()
		if now >= phaseEnd {
			if d.phase == phaseWarmup {
				d.phase = phaseMeasure
				d.st = echoStats{errors: d.st.errors, mismatches: d.st.mismatches, tls: d.st.tls}
				at(phaseMeasure)
				measureStart = d.now()
				phaseEnd = measureStart + d.cfg.duration
				prog.begin(measureStart)
			} else {
				d.st.window = now - measureStart
				d.phase = phaseDone
				at(phaseDone)
				prog.end()
				return nil
			}
		}
		if d.live == 0 {
			if d.lastErr != nil {
				return fmt.Errorf("every connection failed (%d errors; the last: %w)", d.st.errors, d.lastErr)
			}
			return fmt.Errorf("every connection failed (%d errors)", d.st.errors)
		}
		select {
		case <-stop:
			if d.phase == phaseWarmup {
				return errInterrupted
			}
			phaseEnd = 0 // end the window now and report it
			continue
		default:
		}
		timeout := min(phaseEnd-now, 200*time.Millisecond)
		n, err := d.sel.Wait(timeout, ready)
		if err != nil {
			return err
		}
		d.serve(ready[:n])
		if d.cfg.handshakes > 0 {
			d.settleHandshakes()
			yieldToHandshakes()
		}
		prog.tick(d.now())
	}
}

func (d *selectorDriver) serve(ready []iomux.Ready) {
	for _, r := range ready {
		c := d.conns[r.FD]
		if c.connecting { // any event ends a connect
			d.connected(c)
			continue
		}
		if r.Events&iomux.Writable != 0 && c.wait {
			d.write(c)
		}
		if r.Events&iomux.Readable != 0 && !c.dead {
			if c.tls != nil {
				d.readTLS(c)
			} else {
				d.read(c)
			}
		}
	}
}

func (d *selectorDriver) startBatch(c *selectorConn) {
	batch := d.cfg.size * d.cfg.pipeline
	off := batchOffset(c.index, c.seq)
	c.want = d.pl[off : off+batch]
	c.sent, c.got, c.bad = 0, 0, false
	c.start = d.now()
	d.write(c)
}

func (d *selectorDriver) write(c *selectorConn) {
	if c.tls != nil {
		d.writeTLS(c)
		return
	}
	c.sent += d.flush(c, c.want[c.sent:])
}

// flush writes p until the socket refuses more and returns how much it
// took; it asks for Writable while some is left, and stops asking once all
// is written. A write error fails c.
func (d *selectorDriver) flush(c *selectorConn, p []byte) int {
	sent := 0
	for sent < len(p) {
		n, err := sock.Write(c.fd, p[sent:])
		if sock.WouldBlock(err) {
			d.waitWritable(c, true)
			return sent
		}
		if err != nil {
			d.fail(c)
			return sent
		}
		sent += n
	}
	d.waitWritable(c, false)
	return sent
}

// waitWritable asks for Writable (on) or stops asking, if that changes
// anything: no epoll_ctl per message while the socket takes every write.
func (d *selectorDriver) waitWritable(c *selectorConn, on bool) {
	if c.wait == on {
		return
	}
	c.wait = on
	ev := iomux.Readable
	if on {
		ev |= iomux.Writable
	}
	d.sel.Modify(c.fd, ev, nil)
}

func (d *selectorDriver) read(c *selectorConn) {
	buf := d.buf
	if rest := len(c.want) - c.got; rest > 0 && rest < len(buf) {
		buf = buf[:rest]
	}
	n, err := sock.Read(c.fd, buf)
	if sock.WouldBlock(err) {
		return
	}
	if err != nil || n == 0 {
		d.fail(c)
		return
	}
	d.check(c, buf[:n])
}

// check verifies echoed bytes (plaintext, on TLS) against the batch in
// flight and, when the batch is whole, counts it and starts the next.
func (d *selectorDriver) check(c *selectorConn, echoed []byte) {
	n := len(echoed)
	if c.got+n > len(c.want) {
		// More bytes than were sent: the server invented data.
		d.st.mismatches++
		d.fail(c)
		return
	}
	if !c.bad && !bytes.Equal(echoed, c.want[c.got:c.got+n]) {
		c.bad = true
	}
	c.got += n
	if c.got < len(c.want) {
		return
	}
	if c.sent < len(c.want) {
		return // cannot be: the server echoed bytes not yet sent
	}
	if c.bad {
		d.st.mismatches++
	}
	if d.phase == phaseMeasure {
		d.st.messages += int64(d.cfg.pipeline)
		d.st.hist.Record(int64(d.now() - c.start))
	}
	c.seq++
	d.done++
	switch {
	case d.cfg.handshakes > 0:
		d.recycle(c)
	case d.phase != phaseDone && !d.once:
		d.startBatch(c)
	}
}

// fail counts a failed connection (unless the window is over) and drops it.
func (d *selectorDriver) fail(c *selectorConn) {
	if c.dead {
		return
	}
	if d.phase != phaseDone {
		d.st.errors++
	}
	d.drop(c)
}

// drop stops serving c and closes it; a TLS handshake in progress is
// aborted, its socket closed when its goroutine has reported.
func (d *selectorDriver) drop(c *selectorConn) {
	if c.dead {
		return
	}
	d.sel.Unregister(c.fd)
	c.dead = true
	d.live--
	if t := c.tls; t != nil {
		t.abort()
		if t.handshaking {
			t.closeLater = true // the handshake's goroutine may be writing to it
			return
		}
	}
	sock.Close(c.fd)
}

// benchIdle opens cfg.conns connections, echoes once on each (verified),
// holds them, and reports how much the server's RSS grew per connection.
func benchIdle(cfg echoConfig, res *echoResult) error {
	if cfg.serverPID > 0 {
		res.IdleRSSBeforeKiB, _ = procstat.ReadRSS(cfg.serverPID)
	}
	start := time.Now()
	d, err := newSelectorDriver(cfg)
	if err != nil {
		return err
	}
	defer d.close()
	d.once, d.phase = true, phaseMeasure
	for _, c := range d.conns {
		if c != nil {
			d.startBatch(c)
		}
	}
	ready := make([]iomux.Ready, 256)
	deadline := time.Now().Add(30 * time.Second)
	for d.done+int(d.st.errors) < cfg.conns {
		if time.Now().After(deadline) {
			return fmt.Errorf("idle: only %d of %d connections echoed within 30s", d.done, cfg.conns)
		}
		n, err := d.sel.Wait(time.Second, ready)
		if err != nil {
			return err
		}
		d.serve(ready[:n])
	}
	time.Sleep(cfg.hold)
	res.Seconds = time.Since(start).Seconds()
	res.RoundTrips = d.st.messages
	res.Errors, res.Mismatches = d.st.errors, d.st.mismatches
	describeTLS(res, cfg, d.st.tls)
	if cfg.serverPID > 0 {
		res.IdleRSSAfterKiB, _ = procstat.ReadRSS(cfg.serverPID)
		res.ServerRSSKiB = res.IdleRSSAfterKiB
		res.IdleKiBPerConn = float64(res.IdleRSSAfterKiB-res.IdleRSSBeforeKiB) / float64(cfg.conns)
	}
	return nil
}
