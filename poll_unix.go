//go:build unix

package iomux

import (
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// pollBackend is poll(2), on every Unix: no descriptor limit, but every Wait
// hands the whole interest array to the kernel and scans it back, so its
// cost grows with the number registered. Level-triggered only.
var pollBackend = backend{
	name: "poll",
	caps: Capabilities{
		Events:       pollBits.accepts(),
		PeerClosed:   Readable | Hangup,
		ReaderClosed: pollReaderClosed,
		ClosedFD:     ClosedInvalid,
		RegularFile:  Readable | Writable,
	},
	open: openPoll,
}

// pollBits: where pollRDHUP is 0, ReadHangup is not among what poll accepts.
var pollBits = bitTable[int16]{
	{Readable, unix.POLLIN}, {Writable, unix.POLLOUT}, {Priority, unix.POLLPRI},
	{ReadHangup, pollRDHUP}, {Error, unix.POLLERR}, {Hangup, unix.POLLHUP}, {Invalid, unix.POLLNVAL},
}

type pollMechanism struct {
	fds  []unix.PollFd // the interest set, handed to every poll(2)
	slot []int32       // by fd: where its pollfd is in fds
	next int           // where the next scan starts
}

func openPoll() (mechanism, error) { return &pollMechanism{}, nil }

// set implements mechanism. The interest set is ours, so nothing fails; an
// unregistered fd's pollfd is replaced by the last one.
func (m *pollMechanism) set(fd int, old, ev Events) error {
	switch {
	case old == 0:
		m.slot = growFD(m.slot, fd)
		m.slot[fd] = int32(len(m.fds))
		m.fds = append(m.fds, unix.PollFd{Fd: int32(fd), Events: pollBits.toOS(ev)})
	case ev == 0:
		i, last := m.slot[fd], len(m.fds)-1
		moved := m.fds[last]
		m.fds[i] = moved
		m.slot[moved.Fd] = i
		m.fds = m.fds[:last]
	default:
		m.fds[m.slot[fd]].Events = pollBits.toOS(ev)
	}
	return nil
}

// wait implements mechanism.
func (m *pollMechanism) wait(timeout time.Duration, ready []Ready) (int, error) {
	n, err := unix.Poll(m.fds, millis(timeout))
	if err == unix.EINTR {
		return 0, nil
	}
	if err != nil {
		return 0, os.NewSyscallError("poll", err)
	}
	return collectPolled(m.fds, n, ready, &m.next, polledFD), nil
}

// polledFD is what one entry of the interest set reports.
func polledFD(p *unix.PollFd) (int, Events) { return int(p.Fd), pollBits.fromOS(p.Revents) }

func (m *pollMechanism) close() error { m.fds = nil; return nil }
