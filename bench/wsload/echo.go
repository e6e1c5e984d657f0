package main

import (
	"fmt"
	"math/rand/v2"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/iomux/iomux/bench/internal/latency"
	"github.com/iomux/iomux/bench/internal/procstat"
)

// Phases of a timed run.
const (
	phaseWarmup = iota
	phaseMeasure
	phaseDone
)

// window is the measured part of a run: when it began and the CPU time
// the server and this process had used by then.
type window struct {
	pid          int
	start        time.Time
	server, self procstat.CPU
}

func openWindow(pid int) window {
	w := window{pid: pid, start: time.Now()}
	w.self, _ = procstat.ReadCPU(os.Getpid())
	if pid > 0 {
		w.server, _ = procstat.ReadCPU(pid)
	}
	return w
}

// cost is the CPU the server and this process spent since w opened, in µs
// per unit of work done (n units), and the seconds it lasted.
type cost struct {
	seconds                    float64
	server, user, system, self float64
}

func (w window) close(n int64) cost {
	c := cost{seconds: time.Since(w.start).Seconds()}
	if n <= 0 {
		return c
	}
	per := func(d time.Duration) float64 { return float64(d.Microseconds()) / float64(n) }
	self, _ := procstat.ReadCPU(os.Getpid())
	u, s := self.Sub(w.self)
	c.self = per(u + s)
	if w.pid > 0 {
		if now, err := procstat.ReadCPU(w.pid); err == nil {
			u, s := now.Sub(w.server)
			c.server, c.user, c.system = per(u+s), per(u), per(s)
		}
	}
	return c
}

// timed runs work on each of n goroutines through the warmup and the
// window (work gets the phase pointer and reports its own counts), and
// returns the window's cost per unit counted.
func timed(cfg config, n int, count *atomic.Int64, work func(i int, phase *atomic.Int32)) cost {
	var phase atomic.Int32
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { work(i, &phase) })
	}
	time.Sleep(cfg.warmup)
	w := openWindow(cfg.serverPID)
	phase.Store(phaseMeasure)
	time.Sleep(cfg.duration)
	phase.Store(phaseDone)
	c := w.close(count.Load())
	wg.Wait()
	return c
}

// runEcho plays ping-pong with binary messages on --conns connections.
func runEcho(cfg config) (*result, error) {
	res := &result{Mode: "ws-echo", Conns: cfg.conns}
	conns := make([]*wsConn, cfg.conns)
	for i := range conns {
		c, err := cfg.dialer.dial()
		if err != nil {
			for _, c := range conns[:i] {
				c.Close()
			}
			return nil, fmt.Errorf("connection %d of %d: %w", i+1, cfg.conns, err)
		}
		conns[i] = c
	}
	res.Extension = conns[0].extension
	res.noteTLS(conns[0].Conn)
	var mu sync.Mutex
	var hist latency.Histogram
	var count atomic.Int64
	c := timed(cfg, cfg.conns, &count, func(i int, phase *atomic.Int32) {
		ws := conns[i]
		defer ws.Close()
		var h latency.Histogram
		defer func() {
			mu.Lock()
			hist.Merge(&h)
			mu.Unlock()
		}()
		msg := make([]byte, cfg.size)
		for n := uint64(0); phase.Load() != phaseDone; n++ {
			fill(msg, uint64(i)<<32|n)
			ws.SetDeadline(time.Now().Add(handshakeTimeout))
			start := time.Now()
			bad, err := ws.echo(opBinary, msg)
			if err != nil || bad {
				mu.Lock()
				res.Note(bad, "connection %d, message %d: mismatch %v, %v", i, n, bad, err)
				mu.Unlock()
				return
			}
			if phase.Load() == phaseMeasure {
				count.Add(1)
				h.Record(int64(time.Since(start)))
			}
		}
	})
	res.Seconds = c.seconds
	res.Messages = count.Load()
	res.RTPerSec = float64(res.Messages) / c.seconds
	res.P50us, res.P99us = hist.Quantile(0.50)/1e3, hist.Quantile(0.99)/1e3
	res.ServerCPUUsPerRT, res.ServerUserUsPerRT, res.ServerSysUsPerRT, res.ClientCPUUsPerRT = c.server, c.user, c.system, c.self
	if cfg.serverPID > 0 {
		res.ServerRSSKiB, _ = procstat.ReadRSS(cfg.serverPID)
	}
	if res.Messages == 0 && res.Errors == 0 {
		res.Note(false, "no message came back in the window")
	}
	return res, nil
}

// fill makes p a message of random bytes drawn from n: each message its
// own, so that an echo of an earlier one is a mismatch.
func fill(p []byte, n uint64) {
	r := rand.NewPCG(n, n^0x9e3779b97f4a7c15)
	for i := 0; i < len(p); i += 8 {
		v := r.Uint64()
		for j := i; j < len(p) && j < i+8; j++ {
			p[j] = byte(v)
			v >>= 8
		}
	}
}
