package iomux

import "time"

// clock turns a Wait timeout into successive OS timeouts, recomputing the
// remaining time after EINTR (PEP 475) and after a wake-up too early.
type clock struct {
	deadline time.Time
	block    bool // timeout < 0
	poll     bool // timeout == 0
}

func newClock(timeout time.Duration) clock {
	switch {
	case timeout < 0:
		return clock{block: true}
	case timeout == 0:
		return clock{poll: true}
	}
	return clock{deadline: time.Now().Add(timeout)}
}

// remaining is what is left of the timeout: -1 to block, 0 to poll.
func (c clock) remaining() time.Duration {
	switch {
	case c.block:
		return -1
	case c.poll:
		return 0
	}
	return max(time.Until(c.deadline), 0)
}

// expired reports whether a Wait that found nothing should return now.
func (c clock) expired() bool {
	return c.poll || (!c.block && !time.Now().Before(c.deadline))
}

// millis rounds a remaining time up to whole milliseconds (poll, epoll), so
// the OS never wakes us before the deadline.
func millis(d time.Duration) int {
	if d < 0 {
		return -1
	}
	ms := (d + time.Millisecond - 1) / time.Millisecond
	if ms > 1<<31-1 {
		ms = 1<<31 - 1
	}
	return int(ms)
}
