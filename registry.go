package iomux

import (
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// registration is what a Selector remembers about one fd.
type registration struct {
	data   any
	events Events
	index  int32 // backend-private position (poll's pollfd slot), -1 if none
	//lint:ignore U1000 used by the kqueue backend, which Linux does not build
	mark uint32 // backend-private stamp (kqueue merges a fd's filters with it)
	used bool
}

// registry is the bookkeeping every backend shares: fd → registration,
// validation, and the Close/Wake protocol. Descriptors are small dense
// integers, so a slice indexed by fd beats a map on the Wait path.
type registry struct {
	regs      []registration
	count     int
	supported Events // conditions and modifiers this backend accepts

	wake        wakeup
	wakePending atomic.Bool // a Wake is in flight: coalesces further Wakes
	// wakeMu is held shared by Wake and exclusively by close around closing
	// the wake-up fd: a Wake that passed its closed check must not write to
	// that fd number after Close freed it for reuse by someone else.
	wakeMu sync.RWMutex

	// waitMu is held for the whole of Wait, so Close can wait for a
	// concurrent Wait to leave the kernel before closing its descriptors.
	waitMu sync.Mutex
	closed atomic.Bool
}

func (r *registry) init(supported Events) error {
	r.supported = supported
	return r.wake.open()
}

func (r *registry) lookup(fd int) *registration {
	if fd >= 0 && fd < len(r.regs) && r.regs[fd].used {
		return &r.regs[fd]
	}
	return nil
}

// add records a new registration after validating it; the caller makes the
// OS call and calls drop if that fails, so the map never lies.
func (r *registry) add(fd int, ev Events, data any) (*registration, error) {
	if r.closed.Load() {
		return nil, ErrClosed
	}
	if err := validate(fd, ev, r.supported); err != nil {
		return nil, err
	}
	if r.lookup(fd) != nil || fd == r.wake.fd() {
		return nil, fmt.Errorf("register fd %d: %w", fd, ErrRegistered)
	}
	if fd >= len(r.regs) {
		n := max(2*len(r.regs), fd+1, 64)
		regs := make([]registration, n)
		copy(regs, r.regs)
		r.regs = regs
	}
	r.regs[fd] = registration{events: ev, data: data, index: -1, used: true}
	r.count++
	return &r.regs[fd], nil
}

func (r *registry) drop(fd int) {
	r.regs[fd] = registration{}
	r.count--
}

// get validates a Modify or finds the registration for Unregister.
func (r *registry) get(op string, fd int) (*registration, error) {
	if r.closed.Load() {
		return nil, ErrClosed
	}
	reg := r.lookup(fd)
	if reg == nil {
		return nil, fmt.Errorf("%s fd %d: %w", op, fd, ErrNotRegistered)
	}
	return reg, nil
}

// Len reports how many fds are registered.
func (r *registry) Len() int { return r.count }

// Wake makes a concurrent or the next Wait return at once. Only the first
// Wake since the last drain touches the kernel.
func (r *registry) Wake() error {
	r.wakeMu.RLock()
	defer r.wakeMu.RUnlock()
	if r.closed.Load() {
		return ErrClosed
	}
	if r.wakePending.CompareAndSwap(false, true) {
		return r.wake.signal()
	}
	return nil
}

// drainWake is called by Wait when the wake-up fd is readable. Draining
// before clearing the flag means a Wake racing with us either sees the flag
// still set (and we are returning anyway) or writes again for the next Wait.
func (r *registry) drainWake() {
	r.wake.drain()
	r.wakePending.Store(false)
}

// enterWait takes the wait lock; it fails once the Selector is closed.
func (r *registry) enterWait(ready []Ready) error {
	if len(ready) == 0 {
		return ErrNoRoom
	}
	r.waitMu.Lock()
	if r.closed.Load() {
		r.waitMu.Unlock()
		return ErrClosed
	}
	return nil
}

func (r *registry) exitWait() { r.waitMu.Unlock() }

// close marks the Selector closed, wakes a concurrent Wait and waits for it
// to return, then runs release (which closes the backend's descriptors).
func (r *registry) close(release func() error) error {
	if !r.closed.CompareAndSwap(false, true) {
		return nil
	}
	_ = r.wake.signal()
	r.waitMu.Lock()
	defer r.waitMu.Unlock()
	err := release()
	r.wakeMu.Lock()
	if werr := r.wake.close(); err == nil {
		err = werr
	}
	r.wakeMu.Unlock()
	r.regs = nil
	r.count = 0
	return err
}

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
