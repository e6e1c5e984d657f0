//go:build unix

package iomux

import (
	"fmt"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// fdSetSize is FD_SETSIZE: select(2) cannot watch a descriptor this large.
const fdSetSize = len(unix.FdSet{}.Bits) * unix.NFDBITS

// selectSelector is the select(2) backend: the most portable and the most
// limited. Descriptors must be below FD_SETSIZE (1024), every Wait copies
// three bit sets in and out of the kernel, and it cannot tell a hang-up or
// an error from plain readability (you see Readable and meet EOF or the
// error on read). Level-triggered only.
type selectSelector struct {
	registry
	read, write, except unix.FdSet // the interest sets; copied before each call
	maxFD               int
	next                int // where the next scan starts, so no fd starves the rest
}

func errFDTooLarge(fd int) error {
	return fmt.Errorf("%w: fd %d is at or above FD_SETSIZE (%d), the limit of select(2); use the poll or epoll backend",
		ErrFDTooLarge, fd, fdSetSize)
}

func openSelect() (Selector, error) {
	s := &selectSelector{}
	if err := s.init(Readable | Writable | Priority); err != nil {
		return nil, err
	}
	if fd := s.wake.fd(); fd >= fdSetSize {
		s.wake.close()
		return nil, errFDTooLarge(fd)
	}
	s.read.Set(s.wake.fd())
	s.maxFD = s.wake.fd()
	return s, nil
}

func (s *selectSelector) Backend() string { return "select" }

func (s *selectSelector) apply(fd int, ev Events) {
	for _, x := range []struct {
		set  *unix.FdSet
		cond Events
	}{{&s.read, Readable}, {&s.write, Writable}, {&s.except, Priority}} {
		if ev&x.cond != 0 {
			x.set.Set(fd)
		} else {
			x.set.Clear(fd)
		}
	}
}

// Register implements Selector. Descriptors at or above FD_SETSIZE fail
// with ErrFDTooLarge: writing them into an fd_set would corrupt memory.
func (s *selectSelector) Register(fd int, ev Events, data any) error {
	if fd >= fdSetSize {
		return errFDTooLarge(fd)
	}
	if _, err := s.add(fd, ev, data); err != nil {
		return err
	}
	s.apply(fd, ev)
	s.maxFD = max(s.maxFD, fd)
	return nil
}

// Modify implements Selector.
func (s *selectSelector) Modify(fd int, ev Events, data any) error {
	reg, err := s.get("modify", fd)
	if err != nil {
		return err
	}
	if err := validate(fd, ev, s.supported); err != nil {
		return err
	}
	s.apply(fd, ev)
	reg.events, reg.data = ev, data
	return nil
}

// Unregister implements Selector.
func (s *selectSelector) Unregister(fd int) error {
	if _, err := s.get("unregister", fd); err != nil {
		return err
	}
	s.apply(fd, 0)
	s.drop(fd)
	for s.maxFD > s.wake.fd() && s.lookup(s.maxFD) == nil {
		s.maxFD--
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

// Wait implements Selector. A registered fd that was closed makes select(2)
// fail, so Wait returns an error wrapping EBADF until it is unregistered.
func (s *selectSelector) Wait(timeout time.Duration, ready []Ready) (int, error) {
	if err := s.enterWait(ready); err != nil {
		return 0, err
	}
	defer s.exitWait()
	clk := newClock(timeout)
	for {
		r, w, x := s.read, s.write, s.except // the kernel overwrites its arguments
		n, err := unix.Select(s.maxFD+1, &r, &w, &x, timeval(clk.remaining()))
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return 0, os.NewSyscallError("select", err)
		}
		if s.closed.Load() {
			return 0, ErrClosed
		}
		woken := false
		if n > 0 && r.IsSet(s.wake.fd()) {
			s.drainWake()
			r.Clear(s.wake.fd())
			woken = true
		}
		filled := 0
		if n > 0 {
			filled = s.collect(&r, &w, &x, ready)
		}
		if filled > 0 || woken || clk.expired() {
			return filled, nil
		}
	}
}

// collect turns the returned sets into Ready entries, starting the scan
// where the last one stopped.
func (s *selectSelector) collect(r, w, x *unix.FdSet, ready []Ready) int {
	filled, span := 0, s.maxFD+1
	start := s.next % span
	for k := 0; k < span && filled < len(ready); k++ {
		fd := (start + k) % span
		word := fd / unix.NFDBITS
		if fd%unix.NFDBITS == 0 && r.Bits[word]|w.Bits[word]|x.Bits[word] == 0 {
			k += min(unix.NFDBITS, span-fd) - 1 // skip an empty word, not past the wrap
			continue
		}
		var ev Events
		if r.IsSet(fd) {
			ev |= Readable
		}
		if w.IsSet(fd) {
			ev |= Writable
		}
		if x.IsSet(fd) {
			ev |= Priority
		}
		if ev == 0 {
			continue
		}
		reg := s.lookup(fd)
		if reg == nil {
			continue
		}
		ready[filled] = Ready{FD: fd, Events: ev & reg.events, Data: reg.data}
		filled++
		s.next = fd + 1
	}
	return filled
}

// Close implements Selector.
func (s *selectSelector) Close() error {
	return s.close(func() error { return nil })
}
