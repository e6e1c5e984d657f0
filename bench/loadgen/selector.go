package main

import (
	"bytes"
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"syscall"
	"time"

	"github.com/iomux/iomux"
	"github.com/iomux/iomux/internal/sock"
)

// The selector driver: one thread, one iomux Selector on the "auto"
// backend (epoll on Linux, kqueue on the BSDs), every connection.

type selectorConn struct {
	fd    int
	index int
	seq   uint64
	want  []byte // the batch in flight
	sent  int    // bytes of want written
	got   int    // bytes of want echoed back
	bad   bool   // this batch mismatched
	start time.Duration
	wait  bool // registered for Writable
	dead  bool
}

type selectorDriver struct {
	cfg   echoConfig
	sel   iomux.Selector
	conns []*selectorConn // indexed by fd
	live  int
	pl    []byte
	buf   []byte
	base  time.Time
	phase int
	once  bool // idle mode: one batch per connection
	done  int  // batches completed, all phases
	st    echoStats
}

func newSelectorDriver(cfg echoConfig) (*selectorDriver, error) {
	sel, err := iomux.NewSelector("auto")
	if err != nil {
		return nil, err
	}
	batch := cfg.size * cfg.pipeline
	d := &selectorDriver{cfg: cfg, sel: sel, pl: payload(batch), buf: make([]byte, max(64<<10, batch)), base: time.Now()}
	for i := range cfg.conns {
		fd, err := dial(cfg.dialAddr)
		if err != nil {
			d.close()
			return nil, fmt.Errorf("connection %d of %d: %w", i+1, cfg.conns, err)
		}
		c := &selectorConn{fd: fd, index: i}
		if fd >= len(d.conns) {
			d.conns = append(d.conns, make([]*selectorConn, fd+1-len(d.conns))...)
		}
		d.conns[fd] = c
		d.live++
		if err := sel.Register(fd, iomux.Readable, nil); err != nil {
			d.close()
			return nil, err
		}
	}
	return d, nil
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

func (d *selectorDriver) close() {
	for _, c := range d.conns {
		if c != nil && !c.dead {
			d.sel.Unregister(c.fd)
			sock.Close(c.fd)
			c.dead = true
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
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()

	at(phaseWarmup)
	phaseEnd := d.now() + d.cfg.warmup
	if d.cfg.warmup <= 0 {
		phaseEnd = d.now()
	}
	var measureStart time.Duration
	for _, c := range d.conns {
		if c != nil {
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
				d.st = echoStats{errors: d.st.errors, mismatches: d.st.mismatches}
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
		prog.tick(d.now())
	}
}

func (d *selectorDriver) serve(ready []iomux.Ready) {
	for _, r := range ready {
		c := d.conns[r.FD]
		if r.Events&iomux.Writable != 0 && c.wait {
			d.write(c)
		}
		if r.Events&iomux.Readable != 0 && !c.dead {
			d.read(c)
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
	for c.sent < len(c.want) {
		n, err := sock.Write(c.fd, c.want[c.sent:])
		if sock.WouldBlock(err) {
			if !c.wait {
				c.wait = true
				d.sel.Modify(c.fd, iomux.Readable|iomux.Writable, nil)
			}
			return
		}
		if err != nil {
			d.fail(c)
			return
		}
		c.sent += n
	}
	if c.wait {
		c.wait = false
		d.sel.Modify(c.fd, iomux.Readable, nil)
	}
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
	if c.got+n > len(c.want) {
		// More bytes than were sent: the server invented data.
		d.st.mismatches++
		d.fail(c)
		return
	}
	if !c.bad && !bytes.Equal(buf[:n], c.want[c.got:c.got+n]) {
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
		d.st.hist.record(int64(d.now() - c.start))
	}
	c.seq++
	d.done++
	if d.phase != phaseDone && !d.once {
		d.startBatch(c)
	}
}

func (d *selectorDriver) fail(c *selectorConn) {
	if c.dead {
		return
	}
	if d.phase != phaseDone {
		d.st.errors++
	}
	d.sel.Unregister(c.fd)
	sock.Close(c.fd)
	c.dead = true
	d.live--
}

// benchIdle opens cfg.conns connections, echoes once on each (verified),
// holds them, and reports how much the server's RSS grew per connection.
func benchIdle(cfg echoConfig, res *echoResult) error {
	if cfg.serverPID > 0 {
		res.IdleRSSBeforeKiB, _ = readProcRSS(cfg.serverPID)
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
	if cfg.serverPID > 0 {
		res.IdleRSSAfterKiB, _ = readProcRSS(cfg.serverPID)
		res.ServerRSSKiB = res.IdleRSSAfterKiB
		res.IdleKiBPerConn = float64(res.IdleRSSAfterKiB-res.IdleRSSBeforeKiB) / float64(cfg.conns)
	}
	return nil
}
