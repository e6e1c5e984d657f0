package iomux

import (
	"math"
	"os"
	"slices"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/windows"
)

// selectBackend is Winsock's select
// (https://learn.microsoft.com/windows/win32/api/winsock2/nf-winsock2-select).
// A Winsock fd_set is a count and an array of sockets, not a bit set, so it
// is sized here to what is registered: no FD_SETSIZE limit (Python's stops
// at 512). Every Wait hands all registered sockets to the kernel and scans
// them back: O(registered). A socket watched for Writable is in the
// exception set too, where Winsock reports a failed non-blocking connect;
// it shows as Error, that is Writable (and Readable if asked), so the write
// or SO_ERROR meets the failure, as Python's selectors does on Windows.
// Hang-ups look like plain readiness. Level-triggered only; sockets only.
var selectBackend = backend{
	name: "select",
	caps: Capabilities{
		Events:       Readable | Writable | Priority,
		PeerClosed:   Readable,
		ReaderClosed: Writable,
		ClosedFD:     ClosedFailsWait,
		RegularFile:  0, // refused: not a socket
	},
	open: openSelect,
}

type selectMechanism struct {
	fds  []int    // registered sockets, dense
	ev   []Events // their interest, by index in fds
	slot []int32  // by fd: its index in fds
	// sets are the fd_sets handed to select, rebuilt every Wait: element 0
	// is the u_int count (padded to a SOCKET's size), then the sockets.
	sets [3][]uintptr
	got  []Events // what select reported, by index in fds
	hits []int32  // indexes in fds with something reported, in order
	next int      // rotates where the report starts
}

func openSelect() (mechanism, error) { return &selectMechanism{}, nil }

// set implements mechanism: Register and Modify check that fd is (still)
// a socket; the interest is ours, so nothing else fails. An unregistered
// socket's entry is replaced by the last one.
func (m *selectMechanism) set(fd int, old, ev Events) error {
	if ev != 0 {
		if err := checkSocket("select", fd); err != nil {
			return err
		}
	}
	switch {
	case old == 0:
		m.slot = growFD(m.slot, fd)
		m.slot[fd] = int32(len(m.fds))
		m.fds = append(m.fds, fd)
		m.ev = append(m.ev, ev)
		m.got = append(m.got, 0)
		m.hits = slices.Grow(m.hits, len(m.fds))
		for i := range m.sets { // room for all, so that Wait allocates nothing
			m.sets[i] = slices.Grow(m.sets[i][:0], 1+len(m.fds))
		}
	case ev == 0:
		i, last := m.slot[fd], len(m.fds)-1
		m.fds[i], m.ev[i] = m.fds[last], m.ev[last]
		m.slot[m.fds[i]] = i
		m.fds, m.ev, m.got = m.fds[:last], m.ev[:last], m.got[:last]
	default:
		m.ev[m.slot[fd]] = ev
	}
	return nil
}

// selectTimeval is d as select's timeval, rounded up to whole microseconds;
// nil blocks.
func selectTimeval(d time.Duration, tv *windows.Timeval) *windows.Timeval {
	if d < 0 {
		return nil
	}
	us := min((d+time.Microsecond-1)/time.Microsecond, math.MaxInt32*1e6)
	tv.Sec, tv.Usec = int32(us/1e6), int32(us%1e6)
	return tv
}

// wait implements mechanism. A registered socket that was closed makes
// select fail with WSAENOTSOCK.
func (m *selectMechanism) wait(timeout time.Duration, ready []Ready) (int, error) {
	var args [3]uintptr // the sets' addresses; 0 (NULL) for an empty one
	for i := range m.sets {
		set := append(m.sets[i][:0], 0)
		for k, fd := range m.fds {
			if m.ev[k]&selectInterest[i] != 0 {
				set = append(set, uintptr(fd))
			}
		}
		set[0] = uintptr(len(set) - 1)
		m.sets[i] = set
		if len(set) > 1 {
			args[i] = uintptr(unsafe.Pointer(&set[0]))
		}
	}
	var tv windows.Timeval
	r, _, errno := syscall.SyscallN(procSelect.Addr(), 0, args[0], args[1], args[2],
		uintptr(unsafe.Pointer(selectTimeval(timeout, &tv))))
	if failed(r) {
		return 0, os.NewSyscallError("select", errno)
	}
	if int32(r) == 0 {
		return 0, nil // timed out
	}
	return m.collect(ready), nil
}

// selectInterest is what puts a socket in each of select's sets: read,
// write, exception (urgent data, and a failed connect for writers).
var selectInterest = [3]Events{Readable, Writable, Priority | Writable}

// collect turns the sets select returned into ready entries, one per
// socket, rotating where the report starts so that none starves.
func (m *selectMechanism) collect(ready []Ready) int {
	m.hits = m.hits[:0]
	for i, set := range m.sets {
		for _, s := range set[1 : 1+uint32(set[0])] {
			k := m.slot[int(s)]
			if m.got[k] == 0 {
				m.hits = append(m.hits, k)
			}
			m.got[k] |= selectReported(i, m.ev[k])
		}
	}
	filled := 0
	start := m.next
	for j := range m.hits {
		k := m.hits[(start+j)%len(m.hits)]
		if filled < len(ready) {
			ready[filled] = Ready{FD: m.fds[k], Events: m.got[k]}
			filled++
		}
		m.got[k] = 0
	}
	m.next = start + filled
	return filled
}

// selectReported is what membership in set i means for a socket asked for
// ev.
func selectReported(i int, ev Events) Events {
	switch {
	case i < 2:
		return selectInterest[i]
	case ev&Priority != 0:
		return Priority
	default:
		return Error // a writer in the exception set: its connect failed
	}
}

func (m *selectMechanism) close() error { return nil }
