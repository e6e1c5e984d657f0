package main

import (
	"sync"
	"sync/atomic"
	"time"
)

// runUpgrades keeps --upgrades connections going round connect, upgrade,
// one echo, close handshake, and counts the cycles completed in the
// window.
func runUpgrades(cfg config) (*result, error) {
	res := &result{Mode: "ws-upgrades", Conns: cfg.upgrades}
	var mu sync.Mutex
	var count atomic.Int64
	fail := func(mismatch bool, format string, args ...any) {
		mu.Lock()
		res.Note(mismatch, format, args...)
		mu.Unlock()
	}
	var noted sync.Once
	c := timed(cfg, cfg.upgrades, &count, func(i int, phase *atomic.Int32) {
		msg := make([]byte, cfg.size)
		for n := uint64(0); phase.Load() != phaseDone; n++ {
			ws, err := cfg.dialer.dial()
			if err != nil {
				fail(false, "worker %d, cycle %d: %v", i, n, err)
				return
			}
			noted.Do(func() {
				mu.Lock()
				res.Extension = ws.extension
				res.noteTLS(ws.Conn)
				mu.Unlock()
			})
			ws.SetDeadline(time.Now().Add(handshakeTimeout))
			fill(msg, uint64(i)<<32|n)
			bad, err := ws.echo(opBinary, msg)
			if err == nil && !bad {
				err = ws.close(time.Now().Add(handshakeTimeout))
			} else {
				ws.Close()
			}
			if err != nil || bad {
				fail(bad, "worker %d, cycle %d: mismatch %v, %v", i, n, bad, err)
				return
			}
			if phase.Load() == phaseMeasure {
				count.Add(1)
			}
		}
	})
	res.Seconds = c.seconds
	res.Messages = count.Load()
	res.UpgradesPerSec = float64(res.Messages) / c.seconds
	res.ServerCPUUsPerUpgrade, res.ClientCPUUsPerUpgrade = c.server, c.self
	if res.Messages == 0 && res.Errors == 0 {
		res.Note(false, "no upgrade completed in the window")
	}
	return res, nil
}
