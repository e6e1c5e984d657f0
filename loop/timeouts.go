package loop

import (
	"fmt"
	"time"
)

// limits are a connection's optional timeouts and deadline, checked by one
// loop timer that is moved lazily: activity only updates timestamps, and
// the timer, when it fires, either closes the connection or re-arms for the
// earliest remaining limit. So a busy connection costs no timer work per
// message.
type limits struct {
	idle, read, write   time.Duration
	deadline            instant // 0: none
	lastRead, lastWrite instant // lastWrite: last progress, or when output was queued
	writeSet            bool    // write came from SetWriteTimeout or Options.WriteTimeout
	timer               *Timer
}

func (t *limits) wrote(now instant) { t.lastWrite = now }

func (c *Conn) limits() *limits {
	x := c.extraState()
	if x.limits == nil {
		now := c.loop.refreshNow() // not the batch's cached time: never start a limit early
		x.limits = &limits{lastRead: now, lastWrite: now}
	}
	return x.limits
}

// SetIdleTimeout closes the connection (OnClose gets an ErrTimeout) after d
// without reads or writes. 0 removes the limit.
func (c *Conn) SetIdleTimeout(d time.Duration) { c.limits().idle = d; c.armTimeouts() }

// SetReadTimeout closes the connection after d without receiving anything.
func (c *Conn) SetReadTimeout(d time.Duration) { c.limits().read = d; c.armTimeouts() }

// SetWriteTimeout closes the connection when queued output makes no
// progress for d (a peer that stopped reading).
func (c *Conn) SetWriteTimeout(d time.Duration) {
	t := c.limits()
	t.write, t.writeSet = d, true
	c.armTimeouts()
}

// SetDeadline closes the connection at t (the zero Time removes it).
func (c *Conn) SetDeadline(t time.Time) {
	if t.IsZero() && c.limitsIfSet() == nil {
		return // nothing to remove: an idle connection stays without a limits record
	}
	d := instant(0)
	if !t.IsZero() {
		d = max(instantOf(t), 1) // 0 is none
	}
	c.limits().deadline = d
	c.armTimeouts()
}

// armTimeouts checks the limits now and schedules the next check.
func (c *Conn) armTimeouts() {
	if c.Closed() {
		return
	}
	t := c.extra.limits
	now := c.loop.now()
	next, err := t.check(now, c.Outbound() > 0)
	if err != nil {
		c.closeWith(err)
		return
	}
	if next < 0 {
		if t.timer != nil {
			t.timer.Stop()
		}
		return
	}
	if t.timer == nil {
		t.timer = c.loop.AfterFunc(next, c.armTimeouts)
		return
	}
	t.timer.Reset(next)
}

// check returns the error of a limit passed, or how long until the next
// limit could pass (-1: no limit set).
func (t *limits) check(now instant, pending bool) (time.Duration, error) {
	next := time.Duration(-1)
	consider := func(at instant) bool {
		left := at.sub(now)
		if left <= 0 {
			return true
		}
		if next < 0 || left < next {
			next = left
		}
		return false
	}
	if t.deadline != 0 && consider(t.deadline) {
		at := epoch.Add(time.Duration(t.deadline))
		return 0, fmt.Errorf("deadline %s passed: %w", at.Format(time.RFC3339Nano), ErrTimeout)
	}
	if t.idle > 0 && consider(max(t.lastRead, t.lastWrite).add(t.idle)) {
		return 0, fmt.Errorf("idle for %v: %w", t.idle, ErrTimeout)
	}
	if t.read > 0 && consider(t.lastRead.add(t.read)) {
		return 0, fmt.Errorf("nothing read for %v: %w", t.read, ErrTimeout)
	}
	if t.write > 0 && pending && consider(t.lastWrite.add(t.write)) {
		return 0, fmt.Errorf("output stalled for %v: %w", t.write, ErrTimeout)
	}
	if t.write > 0 && !pending && (next < 0 || t.write < next) {
		// Nothing queued now: look again within t.write, so output
		// queued later cannot stall for longer unseen (a far deadline
		// or idle limit must not push this check out).
		next = t.write
	}
	return next, nil
}
