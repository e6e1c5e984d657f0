//go:build unix

package iomux

import (
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// selectBackend is select(2): the most portable and the most limited.
// Descriptors must be below FD_SETSIZE (writing a larger one into an fd_set
// would corrupt memory), every Wait copies three bit sets in and out of the
// kernel, and it cannot tell a hang-up or an error from plain readiness.
// Level-triggered only.
var selectBackend = backend{
	name: "select",
	caps: Capabilities{
		Events:       Readable | Writable | Priority,
		FDLimit:      len(unix.FdSet{}.Bits) * unix.NFDBITS,
		PeerClosed:   Readable,
		ReaderClosed: Writable,
		ClosedFD:     ClosedFailsWait,
		RegularFile:  Readable | Writable,
	},
	fdLimitName: "FD_SETSIZE",
	open:        openSelect,
}

// selectSets are the conditions of select's three sets, in its order.
var selectSets = [3]Events{Readable, Writable, Priority}

type selectMechanism struct {
	sets  [3]unix.FdSet // the interest, as selectSets; copied before each call
	maxFD int
	next  int // where the next scan starts
}

func openSelect() (mechanism, error) { return &selectMechanism{}, nil }

// set implements mechanism. The sets are ours, so nothing fails; every
// registered fd is in at least one of them.
func (m *selectMechanism) set(fd int, _, ev Events) error {
	for i, cond := range selectSets {
		if ev&cond != 0 {
			m.sets[i].Set(fd)
		} else {
			m.sets[i].Clear(fd)
		}
	}
	if ev != 0 {
		m.maxFD = max(m.maxFD, fd)
	}
	for m.maxFD > 0 && !m.sets[0].IsSet(m.maxFD) && !m.sets[1].IsSet(m.maxFD) && !m.sets[2].IsSet(m.maxFD) {
		m.maxFD--
	}
	return nil
}

// timeval rounds up to whole microseconds; nil blocks.
func timeval(d time.Duration) *unix.Timeval {
	if d < 0 {
		return nil
	}
	tv := unix.NsecToTimeval(int64((d + time.Microsecond - 1) / time.Microsecond * time.Microsecond))
	return &tv
}

// wait implements mechanism. A registered fd that was closed makes select(2)
// fail with EBADF.
func (m *selectMechanism) wait(timeout time.Duration, ready []Ready) (int, error) {
	sets := m.sets // the kernel overwrites its arguments
	n, err := unix.Select(m.maxFD+1, &sets[0], &sets[1], &sets[2], timeval(timeout))
	if err == unix.EINTR {
		return 0, nil
	}
	if err != nil {
		return 0, os.NewSyscallError("select", err)
	}
	if n == 0 {
		return 0, nil // timed out: nothing to scan for
	}
	return m.collect(&sets, ready), nil
}

// collect turns the returned sets into ready entries, starting the scan
// where the last one stopped.
func (m *selectMechanism) collect(sets *[3]unix.FdSet, ready []Ready) int {
	filled, span := 0, m.maxFD+1
	start := m.next % span
	for k := 0; k < span && filled < len(ready); k++ {
		fd := (start + k) % span
		word := fd / unix.NFDBITS
		if fd%unix.NFDBITS == 0 && sets[0].Bits[word]|sets[1].Bits[word]|sets[2].Bits[word] == 0 {
			k += min(unix.NFDBITS, span-fd) - 1 // skip an empty word, not past the wrap
			continue
		}
		var ev Events
		for i, cond := range selectSets {
			if sets[i].IsSet(fd) {
				ev |= cond
			}
		}
		if ev == 0 {
			continue
		}
		ready[filled] = Ready{FD: fd, Events: ev}
		filled++
		m.next = fd + 1
	}
	return filled
}

func (m *selectMechanism) close() error { return nil }
