package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// The goroutine driver: one goroutine and net.Conn per connection, for
// comparison with the selector driver.

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
	for i := range cfg.conns {
		c, err := net.DialTimeout("tcp", cfg.dialAddr, dialTimeout)
		if err != nil {
			d.close()
			return nil, fmt.Errorf("connection %d of %d: %w", i+1, cfg.conns, err)
		}
		d.conns = append(d.conns, c)
	}
	return d, nil
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
		wg.Add(1)
		go func() {
			defer wg.Done()
			d.serve(i, c, base)
		}()
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
	var h histogram
	var msgs int64
	defer func() {
		d.mu.Lock()
		d.st.messages += msgs
		d.st.hist.merge(&h)
		d.mu.Unlock()
	}()
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
			h.record(int64(time.Since(base) - start))
		}
	}
}

func (d *goroutineDriver) failed() {
	if d.phase.Load() != phaseDone {
		d.errors.Add(1)
	}
}
