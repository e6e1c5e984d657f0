package iomux

import (
	"os"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/windows"
)

// pollBackend is WSAPoll
// (https://learn.microsoft.com/windows/win32/api/winsock2/nf-winsock2-wsapoll):
// no descriptor limit, but every Wait hands the whole interest array to the
// kernel and scans it back, O(registered). Level-triggered only; sockets
// only. Its documented flaw: before Windows 10 version 2004, a non-blocking
// connect that fails is never reported (no POLLERR, no POLLHUP), so a Dial
// waiting for Writable waits until its own timeout; the select and afd
// backends report it (as Error). Winsock has no POLLPRI in events; urgent
// data is POLLRDBAND, asked as Priority.
var pollBackend = backend{
	name: "poll",
	caps: Capabilities{
		Events:       wsaPollBits.accepts(),
		PeerClosed:   Readable | Hangup,
		ReaderClosed: Writable,
		ClosedFD:     ClosedInvalid,
		RegularFile:  0, // refused: not a socket
	},
	open: openPoll,
}

// WSAPoll's bits (winsock2.h).
const (
	wsaPollRdNorm = 0x0100
	wsaPollRdBand = 0x0200
	wsaPollWrNorm = 0x0010
	wsaPollErr    = 0x0001
	wsaPollHup    = 0x0002
	wsaPollNval   = 0x0004
)

var wsaPollBits = bitTable[int16]{
	{Readable, wsaPollRdNorm}, {Writable, wsaPollWrNorm}, {Priority, wsaPollRdBand},
	{Error, wsaPollErr}, {Hangup, wsaPollHup}, {Invalid, wsaPollNval},
}

// wsaPollFD is WSAPOLLFD.
type wsaPollFD struct {
	fd      windows.Handle
	events  int16
	revents int16
}

type pollMechanism struct {
	fds  []wsaPollFD // the interest set, handed to every WSAPoll
	slot []int32     // by fd: where its entry is in fds
	next int         // where the next scan starts
}

func openPoll() (mechanism, error) { return &pollMechanism{}, nil }

// set implements mechanism: Register and Modify check that fd is (still)
// a socket; the interest set is ours, so nothing else fails. An
// unregistered socket's entry is replaced by the last one.
func (m *pollMechanism) set(fd int, old, ev Events) error {
	if ev != 0 {
		if err := checkSocket("poll", fd); err != nil {
			return err
		}
	}
	switch {
	case old == 0:
		m.slot = growFD(m.slot, fd)
		m.slot[fd] = int32(len(m.fds))
		m.fds = append(m.fds, wsaPollFD{fd: socket(fd), events: wsaPollBits.toOS(ev)})
	case ev == 0:
		i, last := m.slot[fd], len(m.fds)-1
		moved := m.fds[last]
		m.fds[i] = moved
		m.slot[int(moved.fd)] = i
		m.fds = m.fds[:last]
	default:
		m.fds[m.slot[fd]].events = wsaPollBits.toOS(ev)
	}
	return nil
}

// wait implements mechanism.
func (m *pollMechanism) wait(timeout time.Duration, ready []Ready) (int, error) {
	r, _, errno := syscall.SyscallN(procWSAPoll.Addr(), uintptr(unsafe.Pointer(&m.fds[0])), uintptr(len(m.fds)), uintptr(millis(timeout)))
	if failed(r) {
		return 0, os.NewSyscallError("WSAPoll", errno)
	}
	return collectPolled(m.fds, int(int32(r)), ready, &m.next, polledFD), nil
}

// polledFD is what one entry of the interest set reports.
func polledFD(p *wsaPollFD) (int, Events) { return int(p.fd), wsaPollBits.fromOS(p.revents) }

func (m *pollMechanism) close() error { m.fds = nil; return nil }
