// Package iomux waits on many file descriptors at once: select(2), poll(2),
// epoll and kqueue behind one Selector interface.
//
// A Selector watches registered descriptors for the Events asked for and
// fills a caller-owned []Ready on each Wait. Every backend keeps the same
// contract, stated once on Selector below; where the OS differs (what a
// closed descriptor looks like, which modifiers exist) the difference is
// documented on the constant or backend concerned.
//
// Select is the Python-shaped call, for porting select.select loops line by
// line. The event-loop framework built on Selector lives in package loop.
package iomux

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Events is a bit set of readiness conditions and registration modifiers.
type Events uint32

// Readiness conditions. Readable, Writable, Priority and ReadHangup may be
// asked for; Error, Hangup and Invalid are always reported when they occur
// and never need asking for.
const (
	// Readable: a read will not block (data, EOF, or a pending accept).
	Readable Events = 1 << iota
	// Writable: a write will not block.
	Writable
	// Priority: urgent (out-of-band) data; select's "exceptional" set.
	Priority
	// Error: the descriptor has a pending error; reported with Readable
	// and/or Writable (as asked) so the next read or write meets it. The
	// select backend never reports it: the fd comes as Readable (or
	// Writable) alone, and the read or write returns the error.
	Error
	// Hangup: the peer hung up; reported with Readable and/or Writable (as
	// asked) so the next read returns EOF. The select backend never reports
	// it: a closed peer comes as Readable alone, and the read returns EOF.
	// kqueue reports Hangup only for EOF on the write side (EV_EOF on
	// EVFILT_WRITE); EOF on the read side comes as Readable, plus ReadHangup
	// when asked.
	Hangup
	// Invalid: the descriptor is not open (poll's POLLNVAL). Only the poll
	// backend can see this; see Selector for the other backends.
	Invalid
	// ReadHangup: the peer shut down its writing half (EPOLLRDHUP, POLLRDHUP,
	// kqueue's EV_EOF on EVFILT_READ, which also covers a full close). Not
	// available on the select backend.
	ReadHangup
)

// Registration modifiers, combined with conditions in Register and Modify.
const (
	// EdgeTriggered reports a condition once when it arises, not for as
	// long as it holds (EPOLLET, EV_CLEAR). epoll and kqueue only.
	EdgeTriggered Events = 1 << (iota + 16)
	// OneShot reports once, then disables the descriptor until Modify re-arms
	// it (EPOLLONESHOT, EV_ONESHOT). epoll and kqueue only. On kqueue each
	// direction is its own filter, so Readable|Writable|OneShot can report
	// once per direction.
	OneShot
	// Exclusive wakes only one of several epoll instances waiting on the same
	// descriptor (EPOLLEXCLUSIVE). epoll only, and only in Register.
	Exclusive
)

const (
	interestMask = Readable | Writable | Priority | ReadHangup
	alwaysMask   = Error | Hangup | Invalid
	modifierMask = EdgeTriggered | OneShot | Exclusive
)

var eventNames = []struct {
	ev   Events
	name string
}{
	{Readable, "Readable"}, {Writable, "Writable"}, {Priority, "Priority"},
	{Error, "Error"}, {Hangup, "Hangup"}, {Invalid, "Invalid"},
	{ReadHangup, "ReadHangup"}, {EdgeTriggered, "EdgeTriggered"},
	{OneShot, "OneShot"}, {Exclusive, "Exclusive"},
}

// String prints the set as "Readable|Hangup", or "0" for the empty set.
func (ev Events) String() string {
	if ev == 0 {
		return "0"
	}
	var b strings.Builder
	for _, n := range eventNames {
		if ev&n.ev != 0 {
			if b.Len() > 0 {
				b.WriteByte('|')
			}
			b.WriteString(n.name)
			ev &^= n.ev
		}
	}
	if ev != 0 {
		if b.Len() > 0 {
			b.WriteByte('|')
		}
		fmt.Fprintf(&b, "%#x", uint32(ev))
	}
	return b.String()
}

// Ready is one descriptor's readiness, as filled in by Selector.Wait.
type Ready struct {
	FD     int    // the descriptor
	Events Events // what it is ready for, masked to what was asked (plus Error, Hangup, Invalid)
	Data   any    // the value given to Register or Modify
}

// Selector waits for readiness on registered file descriptors.
//
// Concurrency: Register, Modify, Unregister and Wait must be called from one
// goroutine at a time (the loop that owns the Selector). Wake may be called
// from any goroutine at any time, and so may Close while Wait or Wake run:
// Close wakes a concurrent Wait, which returns ErrClosed, and Close returns
// once that Wait has left the kernel. Close must not race with Register,
// Modify or Unregister (call it from the owner, or after the owner stopped).
//
// Closed descriptors: close an fd only after Unregister. If a registered fd is
// closed anyway, epoll and kqueue forget it silently (Wait never reports it
// again and Unregister just drops the bookkeeping), poll reports it as
// Invalid on every Wait, and select fails the whole Wait with EBADF.
//
// Hang-ups and errors: see Hangup and Error. In short, epoll and poll report
// Readable|Hangup when the peer closes; kqueue reports Readable (plus
// ReadHangup when asked); select reports Readable. On every backend the
// read then returns EOF (or the error), which is the portable test.
//
// Regular files: epoll refuses them; Register fails with an error wrapping
// EPERM that names epoll_ctl and the fd (Python's select.epoll does the
// same). Use the poll or select backend for them: both report a regular file
// always Readable and Writable, as the OS does. kqueue reports it Readable
// while there is data past the file offset.
type Selector interface {
	// Register starts watching fd for ev (conditions plus modifiers) and
	// associates data with it. Registering an fd twice fails with
	// ErrRegistered; ev without a condition fails with ErrBadEvents.
	Register(fd int, ev Events, data any) error
	// Modify replaces the events and data of a registered fd
	// (ErrNotRegistered otherwise). It re-arms a OneShot registration.
	Modify(fd int, ev Events, data any) error
	// Unregister stops watching fd (ErrNotRegistered if it was not watched).
	Unregister(fd int) error
	// Wait blocks until at least one fd is ready, the timeout passes, or Wake
	// is called. timeout < 0 blocks; 0 returns at once; > 0 waits at most
	// that long, rounded up to the OS's unit so it never returns early
	// (except for Wake). Signals (EINTR) are retried with the remaining time.
	// Wait fills ready without allocating and returns how many entries it
	// filled; if more fds are ready than fit, the rest come on later calls.
	// An empty ready (len 0) fails at once with ErrNoRoom; after Close, Wait
	// fails with ErrClosed.
	Wait(timeout time.Duration, ready []Ready) (int, error)
	// Wake makes a concurrent Wait, or else the next one, return at once
	// (possibly with n == 0). Calls are coalesced: many Wakes between two
	// Waits cost one system call. Safe from any goroutine.
	Wake() error
	// Len reports how many fds are registered.
	Len() int
	// Backend names the OS mechanism: "select", "poll", "epoll" or "kqueue".
	Backend() string
	// Close releases the Selector's own descriptors (not the registered
	// ones). Later calls fail with ErrClosed; a second Close returns nil.
	Close() error
}

// Errors callers branch on with errors.Is. The errors returned wrap them
// with the call and fd concerned.
var (
	// ErrRegistered: Register of an fd that is already registered.
	ErrRegistered = errors.New("iomux: fd already registered")
	// ErrNotRegistered: Modify or Unregister of an fd that is not registered.
	ErrNotRegistered = errors.New("iomux: fd not registered")
	// ErrBadEvents: Events with no condition, unknown bits, or a negative fd.
	ErrBadEvents = errors.New("iomux: invalid events")
	// ErrFDTooLarge: select cannot watch an fd at or above FD_SETSIZE (1024).
	ErrFDTooLarge = errors.New("iomux: fd too large for select")
	// ErrUnsupported: a condition or modifier this backend does not have.
	ErrUnsupported = errors.New("iomux: not supported by this backend")
	// ErrClosed: any call but Close (and Len) on a closed Selector.
	ErrClosed = errors.New("iomux: selector closed")
	// ErrUnknown: NewSelector with a backend name this OS does not offer.
	ErrUnknown = errors.New("iomux: unknown backend")
	// ErrNoRoom: Wait with a ready slice of length 0.
	ErrNoRoom = errors.New("iomux: ready slice has no room")
)

// NewSelector opens a Selector on the named backend: "select", "poll",
// "epoll", "kqueue", or "auto" (or "") for the best this OS has. An unknown
// name fails with ErrUnknown. "auto" is epoll on Linux, which refuses regular
// files (see Selector); open "poll" to watch those.
func NewSelector(backend string) (Selector, error) {
	if backend == "" || backend == "auto" {
		backend = Backends()[0]
	}
	for _, b := range backends {
		if b.name == backend {
			return b.open()
		}
	}
	return nil, fmt.Errorf("%w %q (this OS has: %s)", ErrUnknown, backend,
		strings.Join(Backends(), ", "))
}

// Backends lists the backends this OS offers, best first.
func Backends() []string {
	names := make([]string, len(backends))
	for i, b := range backends {
		names[i] = b.name
	}
	return names
}

type backend struct {
	name string
	open func() (Selector, error)
}

// validate checks the events given to Register or Modify against what the
// backend supports (modifiers and conditions it can express).
func validate(fd int, ev, supported Events) error {
	if fd < 0 {
		return fmt.Errorf("%w: negative fd %d", ErrBadEvents, fd)
	}
	if ev&interestMask == 0 {
		return fmt.Errorf("%w: %v asks for no condition (want Readable, Writable, Priority or ReadHangup)", ErrBadEvents, ev)
	}
	if unknown := ev &^ (interestMask | alwaysMask | modifierMask); unknown != 0 {
		return fmt.Errorf("%w: unknown bits %#x", ErrBadEvents, uint32(unknown))
	}
	if extra := ev & (interestMask | modifierMask) &^ supported; extra != 0 {
		return fmt.Errorf("%w: %v", ErrUnsupported, extra)
	}
	return nil
}

// deliver turns raw readiness into what the caller sees: Error and Hangup
// count as Readable and Writable (so the next read or write meets the real
// error or EOF), then everything is masked to what was asked, plus the
// conditions that are always reported.
func deliver(raw, asked Events) Events {
	if raw&(Error|Hangup) != 0 {
		raw |= Readable | Writable
	}
	return raw & (asked&interestMask | alwaysMask)
}
