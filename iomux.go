// Package iomux waits on many file descriptors at once: select(2), poll(2),
// epoll and kqueue behind one Selector interface, and on Windows sockets
// Winsock's select, WSAPoll and AFD polls on a completion port.
//
// A Selector watches registered descriptors for the Events asked for and
// fills a caller-owned []Ready on each Wait. Every backend keeps the same
// contract, stated once on Selector below; where the OS differs (which
// modifiers exist, what a closed peer or a closed descriptor looks like) each
// backend declares the difference as data, in its Capabilities.
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
	// and/or Writable (as asked) so the next read or write meets it. Not
	// every backend can see it (Capabilities.ReaderClosed).
	Error
	// Hangup: the peer hung up; reported with Readable and/or Writable (as
	// asked) so the next read returns EOF. Not every backend can see it
	// (Capabilities.PeerClosed); the EOF is the portable test.
	Hangup
	// Invalid: the descriptor is not open (poll's POLLNVAL); see
	// Capabilities.ClosedFD.
	Invalid
	// ReadHangup: the peer shut down its writing half (EPOLLRDHUP, POLLRDHUP,
	// kqueue's EV_EOF on EVFILT_READ, which also covers a full close).
	ReadHangup
)

// Registration modifiers, combined with conditions in Register and Modify.
// Which conditions and modifiers a backend has is in Capabilities.Events.
const (
	// EdgeTriggered reports a condition once when it arises, not for as
	// long as it holds (EPOLLET, EV_CLEAR).
	EdgeTriggered Events = 1 << (iota + 16)
	// OneShot reports once, then disables the descriptor until Modify re-arms
	// it (EPOLLONESHOT, EV_ONESHOT). On kqueue each direction is its own
	// filter, so Readable|Writable|OneShot can report once per direction.
	OneShot
	// Exclusive wakes only one of several Selectors waiting on the same
	// descriptor (EPOLLEXCLUSIVE). Register only: Modify of an Exclusive
	// registration fails with ErrUnsupported.
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
// Errors and hang-ups are reported as Readable and Writable too, masked to
// what was asked, so the read or write meets the real error or EOF: that
// read or write is the portable test. What differs between backends (the
// Events they accept, an fd limit, how a closed peer, a registered fd closed
// before Unregister and a regular file look) is in Capabilities, declared
// by each backend and held to by the conformance suite.
type Selector interface {
	// Register starts watching fd for ev (conditions plus modifiers) and
	// associates data with it. Registering an fd twice fails with
	// ErrRegistered; a number no descriptor can have with ErrBadFD; ev
	// without a condition with ErrBadEvents; a condition or modifier not in
	// Capabilities().Events with ErrUnsupported, an fd at or above
	// Capabilities().FDLimit with ErrFDTooLarge. If the OS refuses fd,
	// nothing is registered.
	Register(fd int, ev Events, data any) error
	// Modify replaces the events and data of a registered fd
	// (ErrNotRegistered otherwise). It re-arms a OneShot registration. If the
	// OS refuses the change, the registration stays as it was.
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
	// Backend names the OS mechanism: "select", "poll", "epoll", "kqueue" or
	// "afd" (Windows).
	Backend() string
	// Capabilities reports what this backend accepts and how it differs.
	Capabilities() Capabilities
	// Close releases the Selector's own descriptors (not the registered
	// ones). Later calls fail with ErrClosed; a second Close returns nil.
	Close() error
}

// Capabilities is what a backend accepts, and what it reports where the
// OSes differ. Each backend declares its own; the field comments list them.
type Capabilities struct {
	// Events are the conditions and modifiers Register and Modify accept.
	// epoll: all; kqueue: all but Priority and Exclusive; poll: Readable,
	// Writable, Priority, and ReadHangup on Linux; select: Readable,
	// Writable, Priority; afd (Windows): Readable, Writable, Priority,
	// ReadHangup, OneShot.
	Events Events
	// FDLimit is the lowest fd the backend cannot watch, 0 if there is none.
	// select on Unix: FD_SETSIZE (1024); NewSelector fails with
	// ErrFDTooLarge too when the Selector's own wake-up fd would be past it.
	// No Windows backend has one.
	FDLimit int
	// PeerClosed is what Wait reports, exactly, for a pipe or stream socket
	// registered for Readable once its peer has closed: Readable|Hangup on
	// epoll and poll, Readable on kqueue (plus ReadHangup if asked) and
	// select.
	PeerClosed Events
	// ReaderClosed is what Wait reports, exactly, for a pipe's write end
	// registered for Writable once the read end has closed: Writable|Error
	// on epoll and Linux's poll, Writable|Hangup on kqueue and other
	// systems' poll, Writable on select. The write then fails with EPIPE.
	ReaderClosed Events
	// ClosedFD is what a backend does with a registered fd closed before
	// Unregister (close an fd only after Unregister).
	ClosedFD ClosedFD
	// RegularFile is what Wait reports for a regular file registered for
	// Readable|Writable with data past its offset: Readable|Writable on
	// poll and select (always ready, as the OS says), Readable on kqueue.
	// 0 means Register refuses regular files with an error wrapping EPERM
	// that names the call and fd (epoll, as Python's select.epoll); open
	// "poll" to watch them.
	RegularFile Events
}

// Supports reports whether Register and Modify accept every bit of ev,
// that is, whether ev is within c.Events.
func (c Capabilities) Supports(ev Events) bool { return ev&^c.Events == 0 }

// ClosedFD says what Wait does with a registered fd that was closed without
// Unregister. Unregister then succeeds on every backend.
type ClosedFD uint8

const (
	// ClosedForgotten: the OS drops the fd; Wait never reports it again
	// (epoll, kqueue).
	ClosedForgotten ClosedFD = iota
	// ClosedInvalid: every Wait reports the fd as Invalid (poll).
	ClosedInvalid
	// ClosedFailsWait: every Wait fails with an error wrapping EBADF
	// (select).
	ClosedFailsWait
)

// Errors callers branch on with errors.Is.
//
// Every error of this package reads as Go's own do: what was being done
// first (the call and fd), then what was wrong, and the error it wraps last:
// "register fd 7: iomux: fd already registered", "epoll_ctl add fd 7:
// epoll_ctl: operation not permitted". Only these sentinels begin with
// "iomux: "; no message that wraps one says it again.
var (
	// ErrRegistered: Register of an fd that is already registered.
	ErrRegistered = errors.New("iomux: fd already registered")
	// ErrNotRegistered: Modify or Unregister of an fd that is not registered.
	ErrNotRegistered = errors.New("iomux: fd not registered")
	// ErrBadEvents: Events with no condition, or unknown bits.
	ErrBadEvents = errors.New("iomux: invalid events")
	// ErrBadFD: an fd no descriptor can have: negative (Windows'
	// INVALID_SOCKET among them) or past a C int. A number past a backend's
	// FDLimit is ErrFDTooLarge; one that is not open is the OS's error
	// (EBADF; WSAENOTSOCK on Windows).
	ErrBadFD = errors.New("iomux: not a descriptor number")
	// ErrFDTooLarge: an fd at or above the backend's Capabilities.FDLimit
	// (select's FD_SETSIZE, 1024).
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
// "epoll", "kqueue", "afd", or "auto" (or "") for the best this OS has. An
// unknown name fails with ErrUnknown. "auto" is epoll on Linux, which refuses
// regular files (Capabilities.RegularFile); open "poll" to watch those. On
// Windows "auto" is afd, and every backend watches sockets only.
func NewSelector(backend string) (Selector, error) {
	if backend == "" || backend == "auto" {
		backend = Backends()[0]
	}
	for _, b := range backends {
		if b.name == backend {
			return openSelector(b)
		}
	}
	return nil, fmt.Errorf("backend %q (this OS has %s): %w", backend,
		strings.Join(Backends(), ", "), ErrUnknown)
}

// Backends lists the backends this OS offers, best first.
func Backends() []string {
	names := make([]string, len(backends))
	for i, b := range backends {
		names[i] = b.name
	}
	return names
}
