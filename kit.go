package iomux

// The backend kit: one Selector type, selector, serves every OS mechanism.
// It keeps the bookkeeping (registry.go), checks calls against the backend's
// Capabilities, runs the Wait loop and the Wake and Close protocol; behind
// it a mechanism does only what its OS does its own way.
//
// Writing a backend, for example for a new OS (epoll_linux.go is a whole
// one, about eighty lines):
//
//   - A file of its own named after the mechanism, with build constraints
//     for the systems that have it.
//   - A type implementing mechanism: set, wait and close, and nothing more.
//     Per-fd state it needs it keeps itself, in a slice indexed by fd
//     (growFD), as poll keeps each fd's pollfd slot.
//   - A backend value beside it: the name, the Capabilities (the Events it
//     accepts, FDLimit, and what a closed peer, a registered fd closed
//     before Unregister and a regular file look like), and open.
//   - One entry in the OS's list (backends_<os>.go), best first.
//
// The kit does the rest, once for all: validation (ErrBadFD, ErrBadEvents,
// ErrUnsupported, ErrFDTooLarge, ErrRegistered, ErrNotRegistered), no OS call
// when Modify changes only the data, rolling the bookkeeping back when the
// OS refuses, the Wait loop (timeout, EINTR retried with the time left,
// ErrClosed, masking with deliver, dropping fds unregistered since the OS
// queued them), and the wake-up: it registers the wake-up fd through set
// like any other, finds it among what wait reports and drains it, coalesces
// Wakes and keeps Close safe against a running Wait.
//
// TestSelector then runs the conformance suite on it with no test edit. It
// reads the Capabilities for what may differ and holds the backend to them
// exactly, and to the Selector contract for the rest: timeouts rounded up,
// signals, Wake, Close during Wait, fairness when ready is short, no
// allocation in Wait, no descriptor leaked.
//
// This file stays free of golang.org/x/sys/unix, so that backends of other
// systems can plug in with their own wake-up (the wakeup type of their OS,
// wakeup_unix.go says what it provides).

import (
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// mechanism is the part of a Selector that talks to the OS. The kit calls
// set and wait from the owner's goroutine only, and close once, after any
// Wait has returned. The first set is the wake-up fd's, for Readable; it is
// never unregistered.
type mechanism interface {
	// set moves the OS's interest in fd from old to ev: old == 0 is a
	// Register, ev == 0 an Unregister, both non-zero a Modify (old == ev:
	// a OneShot re-arm). If set fails the OS must stay as it was; the kit
	// then keeps its bookkeeping as it was too, except that Unregister
	// drops it whatever set returns (so an fd the OS already forgot is no
	// error). Errors name the call and fd: "epoll_ctl add fd 7: ...".
	set(fd int, old, ev Events) error
	// wait waits once in the OS: timeout < 0 blocks, 0 polls, > 0 is at
	// most that long, rounded up to the OS's unit. It writes raw readiness
	// into ready, one entry per fd (FD, and the conditions the OS reported
	// as Events; at most len(ready), a scan starting where the last one
	// stopped so that no fd starves the rest) and returns how many. A
	// signal (EINTR) is (0, nil): the kit waits again with the time left.
	wait(timeout time.Duration, ready []Ready) (n int, err error)
	// close releases the mechanism's own descriptors.
	close() error
}

// backend is one entry of an OS's list of backends (backends_<os>.go).
type backend struct {
	name        string
	caps        Capabilities
	fdLimitName string // what the OS calls caps.FDLimit, if there is one ("FD_SETSIZE")
	open        func() (mechanism, error)
}

// fits checks fd, given to op, against the backend's FDLimit; the error
// names the limit and this OS's backends that have none, the most portable
// first.
func (b *backend) fits(op string, fd int) error {
	limit := b.caps.FDLimit
	if limit == 0 || fd < limit {
		return nil
	}
	var unlimited []string
	for i := len(backends) - 1; i >= 0; i-- {
		if o := backends[i]; o.caps.FDLimit == 0 {
			unlimited = append(unlimited, o.name)
		}
	}
	return fmt.Errorf("%s fd %d: %s is %d (use the %s backend): %w",
		op, fd, b.fdLimitName, limit, strings.Join(unlimited, " or "), ErrFDTooLarge)
}

// selector is the Selector of every backend.
type selector struct {
	b    *backend
	mech mechanism
	registry

	wake        wakeup
	wakePending atomic.Bool // a Wake is in flight: coalesces further Wakes
	// wakeMu is held shared by Wake and exclusively by Close around closing
	// the wake-up fd: a Wake that passed its closed check must not write to
	// that fd number after Close freed it for reuse by someone else.
	wakeMu sync.RWMutex

	// waitMu is held for the whole of Wait, so Close can wait for a
	// concurrent Wait to leave the kernel before closing its descriptors.
	waitMu sync.Mutex
	closed atomic.Bool
}

func openSelector(b *backend) (Selector, error) {
	s := &selector{b: b}
	if err := s.wake.open(); err != nil {
		return nil, err
	}
	err := b.fits("wake-up", s.wake.fd())
	if err == nil {
		s.mech, err = b.open()
	}
	if err == nil {
		if err = s.mech.set(s.wake.fd(), 0, Readable); err != nil {
			s.mech.close()
		}
	}
	if err != nil {
		s.wake.close()
		return nil, err
	}
	return s, nil
}

// Register implements Selector.
func (s *selector) Register(fd int, ev Events, data any) error {
	if s.closed.Load() {
		return ErrClosed
	}
	if err := validate(s.b, "register", fd, ev); err != nil {
		return err
	}
	if s.lookup(fd) != nil || fd == s.wake.fd() {
		return fmt.Errorf("register fd %d: %w", fd, ErrRegistered)
	}
	if fd >= len(s.regs) {
		// The tables grow to fd+1 (epoll's and kqueue's refusal of a bad
		// fd would come too late): make sure fd is real first.
		if err := checkOpen("register", fd); err != nil {
			return err
		}
	}
	s.add(fd, ev, data)
	if err := s.mech.set(fd, 0, ev); err != nil {
		s.drop(fd)
		return err
	}
	return nil
}

// Modify implements Selector.
func (s *selector) Modify(fd int, ev Events, data any) error {
	if s.closed.Load() {
		return ErrClosed
	}
	reg, err := s.get("modify", fd)
	if err != nil {
		return err
	}
	if err := validate(s.b, "modify", fd, ev); err != nil {
		return err
	}
	if ev&Exclusive != 0 || reg.events&Exclusive != 0 {
		// epoll refuses EPOLL_CTL_MOD of EPOLLEXCLUSIVE with EINVAL.
		return fmt.Errorf("modify fd %d: an Exclusive registration cannot be modified (unregister and register again): %w", fd, ErrUnsupported)
	}
	// Skip the OS call when only data changes: the loop relies on this. A
	// OneShot must reach the OS, to be re-armed.
	if reg.events != ev || ev&OneShot != 0 {
		if err := s.mech.set(fd, reg.events, ev); err != nil {
			return err
		}
	}
	reg.events, reg.data = ev, data
	return nil
}

// Unregister implements Selector.
func (s *selector) Unregister(fd int) error {
	if s.closed.Load() {
		return ErrClosed
	}
	reg, err := s.get("unregister", fd)
	if err != nil {
		return err
	}
	old := reg.events
	s.drop(fd)
	return s.mech.set(fd, old, 0)
}

// Wait implements Selector: the Wait loop of every backend.
func (s *selector) Wait(timeout time.Duration, ready []Ready) (int, error) {
	if len(ready) == 0 {
		return 0, ErrNoRoom
	}
	s.waitMu.Lock()
	defer s.waitMu.Unlock()
	if s.closed.Load() {
		return 0, ErrClosed
	}
	clk := newClock(timeout)
	for {
		n, err := s.mech.wait(clk.remaining(), ready)
		if err != nil {
			return 0, err
		}
		if s.closed.Load() { // Close woke us
			return 0, ErrClosed
		}
		n, woken := s.report(ready[:n], s.wake.fd())
		if woken {
			// Draining before clearing the flag means a Wake racing with us
			// either sees the flag still set (and we are returning anyway)
			// or writes again for the next Wait.
			s.wake.drain()
			s.wakePending.Store(false)
		}
		if n > 0 || woken || clk.expired() {
			return n, nil
		}
	}
}

// Wake implements Selector. Only the first Wake since the last drain
// touches the kernel.
func (s *selector) Wake() error {
	s.wakeMu.RLock()
	defer s.wakeMu.RUnlock()
	if s.closed.Load() {
		return ErrClosed
	}
	if s.wakePending.CompareAndSwap(false, true) {
		return s.wake.signal()
	}
	return nil
}

// Len implements Selector.
func (s *selector) Len() int { return s.count }

// Backend implements Selector.
func (s *selector) Backend() string { return s.b.name }

// Capabilities implements Selector.
func (s *selector) Capabilities() Capabilities { return s.b.caps }

// Close implements Selector: it marks the Selector closed, wakes a
// concurrent Wait and waits for it to return, then closes the mechanism
// and the wake-up.
func (s *selector) Close() error {
	if !s.closed.CompareAndSwap(false, true) {
		return nil
	}
	_ = s.wake.signal()
	s.waitMu.Lock()
	defer s.waitMu.Unlock()
	err := s.mech.close()
	s.wakeMu.Lock()
	if werr := s.wake.close(); err == nil {
		err = werr
	}
	s.wakeMu.Unlock()
	s.registry = registry{}
	return err
}

// bitTable translates Events to an OS's bits and back, one row per bit, so
// that a backend writes its translation as data (see epollBits). A row
// whose OS bit is 0 is a condition that OS does not have.
type bitTable[T ~uint32 | ~int16] []struct {
	ev Events
	os T
}

// toOS is the OS's form of the conditions and modifiers asked for in ev.
func (t bitTable[T]) toOS(ev Events) T {
	var bits T
	for _, row := range t {
		if ev&row.ev&^alwaysMask != 0 {
			bits |= row.os
		}
	}
	return bits
}

// fromOS is the conditions the OS reported in bits.
func (t bitTable[T]) fromOS(bits T) Events {
	var ev Events
	for _, row := range t {
		if bits&row.os != 0 && row.ev&modifierMask == 0 {
			ev |= row.ev
		}
	}
	return ev
}

// accepts is what can be asked for through the table: the backend's
// Capabilities.Events.
func (t bitTable[T]) accepts() Events {
	var ev Events
	for _, row := range t {
		if row.os != 0 {
			ev |= row.ev &^ alwaysMask
		}
	}
	return ev
}

// collectPolled is the scan of poll on every OS: it copies up to len(ready)
// of the n entries of fds that report something (polled gives an entry's
// fd and raw Events, 0 for nothing) into ready, starting where the last
// scan stopped (*next), so that no fd starves the rest.
func collectPolled[P any](fds []P, n int, ready []Ready, next *int, polled func(*P) (int, Events)) int {
	count := len(fds)
	if n == 0 || count == 0 {
		return 0
	}
	filled := 0
	start := *next % count
	for k := 0; k < count && filled < len(ready) && n > 0; k++ {
		fd, ev := polled(&fds[(start+k)%count])
		if ev == 0 {
			continue
		}
		n--
		ready[filled] = Ready{FD: fd, Events: ev}
		filled++
		*next = start + k + 1
	}
	return filled
}
