package iomux

import (
	"errors"
	"fmt"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// epollBackend is Linux's best: the kernel keeps the interest set, so a
// Wait costs O(ready), not O(registered).
var epollBackend = backend{
	name: "epoll",
	caps: Capabilities{
		Events:       epollBits.accepts(),
		PeerClosed:   Readable | Hangup,
		ReaderClosed: Writable | Error,
		ClosedFD:     ClosedForgotten,
		RegularFile:  0, // refused: epoll_ctl fails with EPERM
	},
	open: openEpoll,
}

var epollBits = bitTable[uint32]{
	{Readable, unix.EPOLLIN}, {Writable, unix.EPOLLOUT}, {Priority, unix.EPOLLPRI},
	{ReadHangup, unix.EPOLLRDHUP}, {Error, unix.EPOLLERR}, {Hangup, unix.EPOLLHUP},
	{EdgeTriggered, unix.EPOLLET}, {OneShot, unix.EPOLLONESHOT}, {Exclusive, unix.EPOLLEXCLUSIVE},
}

type epollMechanism struct {
	epfd   int
	events []unix.EpollEvent // reused by every Wait: no allocation per call
}

func openEpoll() (mechanism, error) {
	fd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, os.NewSyscallError("epoll_create1", err)
	}
	return &epollMechanism{epfd: fd}, nil
}

// set implements mechanism. A registered fd that was already closed is
// unknown to the kernel (EBADF or ENOENT): unregistering it is no error.
func (m *epollMechanism) set(fd int, old, ev Events) error {
	op, name := unix.EPOLL_CTL_MOD, "mod"
	switch {
	case old == 0:
		op, name = unix.EPOLL_CTL_ADD, "add"
	case ev == 0:
		op, name = unix.EPOLL_CTL_DEL, "del"
	}
	e := unix.EpollEvent{Events: epollBits.toOS(ev), Fd: int32(fd)}
	err := unix.EpollCtl(m.epfd, op, fd, &e)
	if err == nil || ev == 0 && (errors.Is(err, unix.EBADF) || errors.Is(err, unix.ENOENT)) {
		return nil
	}
	return fmt.Errorf("epoll_ctl %s fd %d: %w", name, fd, os.NewSyscallError("epoll_ctl", err))
}

// wait implements mechanism.
func (m *epollMechanism) wait(timeout time.Duration, ready []Ready) (int, error) {
	if cap(m.events) < len(ready) {
		m.events = make([]unix.EpollEvent, len(ready))
	}
	n, err := unix.EpollWait(m.epfd, m.events[:len(ready)], millis(timeout))
	if err == unix.EINTR {
		return 0, nil
	}
	if err != nil {
		return 0, os.NewSyscallError("epoll_wait", err)
	}
	for i, e := range m.events[:n] {
		ready[i] = Ready{FD: int(e.Fd), Events: epollBits.fromOS(e.Events)}
	}
	return n, nil
}

func (m *epollMechanism) close() error { return unix.Close(m.epfd) }
