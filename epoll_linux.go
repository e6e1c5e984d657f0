package iomux

import (
	"errors"
	"fmt"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// epollSelector is the Linux backend: the kernel keeps the interest set, so a
// Wait costs O(ready), not O(registered).
type epollSelector struct {
	registry
	epfd   int
	events []unix.EpollEvent // reused by every Wait: no allocation per call
}

func openEpoll() (Selector, error) {
	fd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, os.NewSyscallError("epoll_create1", err)
	}
	s := &epollSelector{epfd: fd}
	if err := s.init(interestMask | modifierMask); err != nil {
		unix.Close(fd)
		return nil, err
	}
	wev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(s.wake.fd())}
	if err := unix.EpollCtl(fd, unix.EPOLL_CTL_ADD, s.wake.fd(), &wev); err != nil {
		s.wake.close()
		unix.Close(fd)
		return nil, os.NewSyscallError("epoll_ctl", err)
	}
	return s, nil
}

func (s *epollSelector) Backend() string { return "epoll" }

func toEpoll(ev Events) uint32 {
	var e uint32
	if ev&Readable != 0 {
		e |= unix.EPOLLIN
	}
	if ev&Writable != 0 {
		e |= unix.EPOLLOUT
	}
	if ev&Priority != 0 {
		e |= unix.EPOLLPRI
	}
	if ev&ReadHangup != 0 {
		e |= unix.EPOLLRDHUP
	}
	if ev&EdgeTriggered != 0 {
		e |= unix.EPOLLET
	}
	if ev&OneShot != 0 {
		e |= unix.EPOLLONESHOT
	}
	if ev&Exclusive != 0 {
		e |= unix.EPOLLEXCLUSIVE
	}
	return e
}

func fromEpoll(e uint32) Events {
	var ev Events
	if e&unix.EPOLLIN != 0 {
		ev |= Readable
	}
	if e&unix.EPOLLOUT != 0 {
		ev |= Writable
	}
	if e&unix.EPOLLPRI != 0 {
		ev |= Priority
	}
	if e&unix.EPOLLERR != 0 {
		ev |= Error
	}
	if e&unix.EPOLLHUP != 0 {
		ev |= Hangup
	}
	if e&unix.EPOLLRDHUP != 0 {
		ev |= ReadHangup
	}
	return ev
}

func (s *epollSelector) ctl(op, fd int, ev Events) error {
	e := unix.EpollEvent{Events: toEpoll(ev), Fd: int32(fd)}
	if err := unix.EpollCtl(s.epfd, op, fd, &e); err != nil {
		name := map[int]string{unix.EPOLL_CTL_ADD: "add", unix.EPOLL_CTL_MOD: "mod", unix.EPOLL_CTL_DEL: "del"}[op]
		return fmt.Errorf("epoll_ctl %s fd %d: %w", name, fd, os.NewSyscallError("epoll_ctl", err))
	}
	return nil
}

// Register implements Selector.
func (s *epollSelector) Register(fd int, ev Events, data any) error {
	if _, err := s.add(fd, ev, data); err != nil {
		return err
	}
	if err := s.ctl(unix.EPOLL_CTL_ADD, fd, ev); err != nil {
		s.drop(fd)
		return err
	}
	return nil
}

// Modify implements Selector. EPOLLEXCLUSIVE cannot be modified: the kernel
// refuses it with EINVAL, which Modify returns as ErrUnsupported.
func (s *epollSelector) Modify(fd int, ev Events, data any) error {
	reg, err := s.get("modify", fd)
	if err != nil {
		return err
	}
	if err := validate(fd, ev, s.supported); err != nil {
		return err
	}
	if ev&Exclusive != 0 || reg.events&Exclusive != 0 {
		return fmt.Errorf("modify fd %d: %w: Exclusive registrations cannot be modified (unregister and register again)", fd, ErrUnsupported)
	}
	// Skip the system call when only data changes: the loop relies on this.
	if reg.events != ev || ev&OneShot != 0 {
		if err := s.ctl(unix.EPOLL_CTL_MOD, fd, ev); err != nil {
			return err
		}
	}
	reg.events, reg.data = ev, data
	return nil
}

// Unregister implements Selector. A registered fd that was already closed is
// unknown to the kernel (EBADF or ENOENT); the bookkeeping is dropped anyway.
func (s *epollSelector) Unregister(fd int) error {
	if _, err := s.get("unregister", fd); err != nil {
		return err
	}
	s.drop(fd)
	err := s.ctl(unix.EPOLL_CTL_DEL, fd, 0)
	if errors.Is(err, unix.EBADF) || errors.Is(err, unix.ENOENT) {
		return nil
	}
	return err
}

// Wait implements Selector.
func (s *epollSelector) Wait(timeout time.Duration, ready []Ready) (int, error) {
	if err := s.enterWait(ready); err != nil {
		return 0, err
	}
	defer s.exitWait()
	if cap(s.events) < len(ready) {
		s.events = make([]unix.EpollEvent, len(ready))
	}
	events := s.events[:len(ready)]
	clk := newClock(timeout)
	for {
		n, err := unix.EpollWait(s.epfd, events, millis(clk.remaining()))
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return 0, os.NewSyscallError("epoll_wait", err)
		}
		filled, woken := 0, false
		for _, e := range events[:n] {
			fd := int(e.Fd)
			if fd == s.wake.fd() {
				s.drainWake()
				woken = true
				continue
			}
			reg := s.lookup(fd)
			if reg == nil {
				continue // unregistered by the caller since the kernel queued it
			}
			ready[filled] = Ready{FD: fd, Events: deliver(fromEpoll(e.Events), reg.events), Data: reg.data}
			filled++
		}
		if filled > 0 || woken || s.closed.Load() || clk.expired() {
			if s.closed.Load() {
				return 0, ErrClosed
			}
			return filled, nil
		}
	}
}

// Close implements Selector.
func (s *epollSelector) Close() error {
	return s.close(func() error { return unix.Close(s.epfd) })
}
