package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/iomux/iomux/bench/internal/latency"
)

// The goroutine driver: one goroutine and net.Conn per connection (a
// tls.Conn with --tls), for comparison with the selector driver.

type goroutineDriver struct {
	cfg    echoConfig
	conns  []net.Conn
	pl     []byte
	phase  atomic.Int32
	count  atomic.Int64 // messages in the window, for the progress line
	mu     sync.Mutex
	st     echoStats
	errors atomic.Int64
	bad    atomic.Int64
}

func newGoroutineDriver(cfg echoConfig) (*goroutineDriver, error) {
	d := &goroutineDriver{cfg: cfg, pl: payload(cfg.size * cfg.pipeline)}
	if cfg.handshakes > 0 {
		return d, nil // each slot connects for itself
	}
	for i := range cfg.conns {
		c, err := d.dial()
		if err != nil {
			d.close()
			return nil, fmt.Errorf("connection %d of %d: %w", i+1, cfg.conns, err)
		}
		d.conns = append(d.conns, c)
	}
	return d, nil
}

// dial connects, and with --tls does the handshake, before the warmup.
func (d *goroutineDriver) dial() (net.Conn, error) {
	c, err := net.DialTimeout("tcp", d.cfg.dialAddr, dialTimeout)
	if err != nil || d.cfg.tls == nil {
		return c, err
	}
	tc := tls.Client(c, d.cfg.tls)
	tc.SetDeadline(time.Now().Add(handshakeStall))
	if err := tc.Handshake(); err != nil {
		tc.Close()
		return nil, fmt.Errorf("TLS handshake: %w", err)
	}
	tc.SetDeadline(time.Time{})
	d.noteTLS(tc.ConnectionState())
	return tc, nil
}

// noteTLS keeps the first handshake's outcome for the report.
func (d *goroutineDriver) noteTLS(st tls.ConnectionState) {
	d.mu.Lock()
	if d.st.tls == nil {
		d.st.tls = &st
	}
	d.mu.Unlock()
}

// merge adds one goroutine's figures to the driver's.
func (d *goroutineDriver) merge(msgs int64, h *latency.Histogram) {
	d.mu.Lock()
	d.st.messages += msgs
	d.st.hist.Merge(h)
	d.mu.Unlock()
}

func (d *goroutineDriver) stats() *echoStats { return &d.st }

func (d *goroutineDriver) close() {
	for _, c := range d.conns {
		c.Close()
	}
}

func (d *goroutineDriver) run(at func(phase int)) error {
	at(phaseWarmup)
	base := time.Now()
	var wg sync.WaitGroup
	for i, c := range d.conns {
		wg.Go(func() { d.serve(i, c, base) })
	}
	for i := range d.cfg.handshakes {
		wg.Go(func() { d.handshakeLoop(i, base) })
	}
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	sleep := func(t time.Duration) {
		select {
		case <-time.After(t):
		case <-ctx.Done():
		}
	}
	sleep(d.cfg.warmup)
	if ctx.Err() != nil {
		d.phase.Store(phaseDone)
		d.close()
		wg.Wait()
		return errInterrupted
	}
	d.phase.Store(phaseMeasure)
	at(phaseMeasure)
	start := time.Now()
	prog := newProgress(d.cfg.progress, &echoStats{})
	prog.begin(0)
	for deadline := start.Add(d.cfg.duration); ctx.Err() == nil && time.Now().Before(deadline); {
		sleep(min(time.Until(deadline), 200*time.Millisecond))
		prog.st.messages = d.count.Load()
		prog.tick(time.Since(start))
	}
	d.phase.Store(phaseDone)
	window := time.Since(start)
	at(phaseDone)
	prog.end()
	for _, c := range d.conns {
		c.SetDeadline(time.Now()) // unblock the readers; their errors no longer count
	}
	wg.Wait()
	d.st.window = window
	d.st.errors = d.errors.Load()
	d.st.mismatches = d.bad.Load()
	return nil
}

func (d *goroutineDriver) serve(i int, c net.Conn, base time.Time) {
	batch := d.cfg.size * d.cfg.pipeline
	buf := make([]byte, batch)
	var h latency.Histogram
	var msgs int64
	defer func() { d.merge(msgs, &h) }()
	for seq := uint64(0); d.phase.Load() != phaseDone; seq++ {
		off := batchOffset(i, seq)
		want := d.pl[off : off+batch]
		start := time.Since(base)
		if _, err := c.Write(want); err != nil {
			d.failed()
			return
		}
		if _, err := io.ReadFull(c, buf); err != nil {
			d.failed()
			return
		}
		if !bytes.Equal(buf, want) {
			d.bad.Add(1)
		}
		if d.phase.Load() == phaseMeasure {
			msgs += int64(d.cfg.pipeline)
			d.count.Add(int64(d.cfg.pipeline))
			h.Record(int64(time.Since(base) - start))
		}
	}
}

func (d *goroutineDriver) failed() {
	if d.phase.Load() != phaseDone {
		d.errors.Add(1)
	}
}
