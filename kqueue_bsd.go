//go:build darwin || dragonfly || freebsd || netbsd || openbsd

package iomux

import (
	"errors"
	"fmt"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// kqueueSelector is the BSD and macOS backend. The kernel keeps one filter
// per direction (EVFILT_READ, EVFILT_WRITE); Wait merges the two events of
// one fd into one Ready.
type kqueueSelector struct {
	registry
	kq      int
	events  []unix.Kevent_t // reused by every Wait: no allocation per call
	changes [1]unix.Kevent_t
	batch   uint32 // stamps registrations already placed in this Wait's ready
}

func openKqueue() (Selector, error) {
	kq, err := unix.Kqueue()
	if err != nil {
		return nil, os.NewSyscallError("kqueue", err)
	}
	unix.CloseOnExec(kq)
	s := &kqueueSelector{kq: kq}
	if err := s.init(Readable | Writable | ReadHangup | EdgeTriggered | OneShot); err != nil {
		unix.Close(kq)
		return nil, err
	}
	var k [1]unix.Kevent_t
	unix.SetKevent(&k[0], s.wake.fd(), unix.EVFILT_READ, unix.EV_ADD)
	if _, err := unix.Kevent(kq, k[:], nil, nil); err != nil {
		s.wake.close()
		unix.Close(kq)
		return nil, os.NewSyscallError("kevent", err)
	}
	return s, nil
}

func (s *kqueueSelector) Backend() string { return "kqueue" }

// filters says which kernel filters a registration needs. ReadHangup is
// seen as EV_EOF on the read filter, so it needs that filter too.
func filters(ev Events) (read, write bool) {
	return ev&(Readable|ReadHangup) != 0, ev&Writable != 0
}

// apply moves the kernel from the filters of old to those of ev. Each change
// is its own kevent call: with no room for receipts, kevent stops at the
// first failing change, so a delete of a filter already gone (a fired
// OneShot, ENOENT) would silently skip the add or delete after it. Such a
// delete is not an error.
func (s *kqueueSelector) apply(fd int, old, ev Events) error {
	flags := unix.EV_ADD | unix.EV_ENABLE
	if ev&EdgeTriggered != 0 {
		flags |= unix.EV_CLEAR
	}
	if ev&OneShot != 0 {
		flags |= unix.EV_ONESHOT
	}
	oldR, oldW := filters(old)
	newR, newW := filters(ev)
	for _, f := range []struct {
		filter   int
		was, now bool
	}{{unix.EVFILT_READ, oldR, newR}, {unix.EVFILT_WRITE, oldW, newW}} {
		change := s.changes[:1]
		switch {
		case f.now:
			unix.SetKevent(&change[0], fd, f.filter, flags)
		case f.was:
			unix.SetKevent(&change[0], fd, f.filter, unix.EV_DELETE)
		default:
			continue
		}
		if _, err := unix.Kevent(s.kq, change, nil, nil); err != nil {
			if !f.now && err == unix.ENOENT {
				continue
			}
			return fmt.Errorf("kevent fd %d: %w", fd, os.NewSyscallError("kevent", err))
		}
	}
	return nil
}

// Register implements Selector.
func (s *kqueueSelector) Register(fd int, ev Events, data any) error {
	if _, err := s.add(fd, ev, data); err != nil {
		return err
	}
	if err := s.apply(fd, 0, ev); err != nil {
		_ = s.apply(fd, ev, 0) // a filter added before the failure must go too
		s.drop(fd)
		return err
	}
	return nil
}

// Modify implements Selector.
func (s *kqueueSelector) Modify(fd int, ev Events, data any) error {
	reg, err := s.get("modify", fd)
	if err != nil {
		return err
	}
	if err := validate(fd, ev, s.supported); err != nil {
		return err
	}
	if reg.events != ev || ev&OneShot != 0 {
		if err := s.apply(fd, reg.events, ev); err != nil && !errors.Is(err, unix.ENOENT) {
			return err
		}
	}
	reg.events, reg.data = ev, data
	return nil
}

// Unregister implements Selector. Filters already gone (a fired OneShot, a
// closed fd) are not an error.
func (s *kqueueSelector) Unregister(fd int) error {
	reg, err := s.get("unregister", fd)
	if err != nil {
		return err
	}
	old := reg.events
	s.drop(fd)
	err = s.apply(fd, old, 0)
	if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.EBADF) {
		return nil
	}
	return err
}

func timespec(d time.Duration) *unix.Timespec {
	if d < 0 {
		return nil
	}
	ts := unix.NsecToTimespec(int64(d))
	return &ts
}

// Wait implements Selector.
func (s *kqueueSelector) Wait(timeout time.Duration, ready []Ready) (int, error) {
	if err := s.enterWait(ready); err != nil {
		return 0, err
	}
	defer s.exitWait()
	if cap(s.events) < len(ready) {
		s.events = make([]unix.Kevent_t, len(ready))
	}
	events := s.events[:len(ready)]
	clk := newClock(timeout)
	for {
		n, err := unix.Kevent(s.kq, nil, events, timespec(clk.remaining()))
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return 0, os.NewSyscallError("kevent", err)
		}
		if s.closed.Load() {
			return 0, ErrClosed
		}
		if s.batch++; s.batch == 0 {
			s.batch = 1 // 0 is the mark of a registration never reported
		}
		filled, woken := 0, false
		for i := range events[:n] {
			k := &events[i]
			fd := int(k.Ident)
			if fd == s.wake.fd() {
				s.drainWake()
				woken = true
				continue
			}
			reg := s.lookup(fd)
			if reg == nil {
				continue
			}
			var raw Events
			switch {
			case k.Flags&unix.EV_ERROR != 0:
				raw = Error
			case int(k.Filter) == unix.EVFILT_READ:
				raw = Readable
				if k.Flags&unix.EV_EOF != 0 {
					raw |= ReadHangup
				}
			case int(k.Filter) == unix.EVFILT_WRITE:
				raw = Writable
				if k.Flags&unix.EV_EOF != 0 {
					raw |= Hangup
				}
			}
			ev := deliver(raw, reg.events)
			if ev == 0 {
				// ReadHangup asked without Readable: the read filter fired
				// for data, which was not asked for.
				continue
			}
			if reg.mark == s.batch {
				ready[reg.index].Events |= ev
				continue
			}
			reg.mark, reg.index = s.batch, int32(filled)
			ready[filled] = Ready{FD: fd, Events: ev, Data: reg.data}
			filled++
		}
		if filled > 0 || woken || clk.expired() {
			return filled, nil
		}
	}
}

// Close implements Selector.
func (s *kqueueSelector) Close() error {
	return s.close(func() error { return unix.Close(s.kq) })
}
