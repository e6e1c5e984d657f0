//go:build unix

package iomux

import (
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// pollSelector is the poll(2) backend: no descriptor limit, but every Wait
// hands the whole interest array to the kernel and scans it back, so its cost
// grows with the number registered. Level-triggered only.
type pollSelector struct {
	registry
	fds  []unix.PollFd // fds[0] is the wake-up; fds[i].Fd's registration has index i
	next int           // where the next scan starts, so no fd starves the rest
}

func openPoll() (Selector, error) {
	s := &pollSelector{}
	supported := Readable | Writable | Priority
	if pollRDHUP != 0 {
		supported |= ReadHangup
	}
	if err := s.init(supported); err != nil {
		return nil, err
	}
	s.fds = append(s.fds, unix.PollFd{Fd: int32(s.wake.fd()), Events: unix.POLLIN})
	return s, nil
}

func (s *pollSelector) Backend() string { return "poll" }

func toPoll(ev Events) int16 {
	var e int16
	if ev&Readable != 0 {
		e |= unix.POLLIN
	}
	if ev&Writable != 0 {
		e |= unix.POLLOUT
	}
	if ev&Priority != 0 {
		e |= unix.POLLPRI
	}
	if ev&ReadHangup != 0 {
		e |= pollRDHUP
	}
	return e
}

func fromPoll(e int16) Events {
	var ev Events
	if e&unix.POLLIN != 0 {
		ev |= Readable
	}
	if e&unix.POLLOUT != 0 {
		ev |= Writable
	}
	if e&unix.POLLPRI != 0 {
		ev |= Priority
	}
	if e&unix.POLLERR != 0 {
		ev |= Error
	}
	if e&unix.POLLHUP != 0 {
		ev |= Hangup
	}
	if e&unix.POLLNVAL != 0 {
		ev |= Invalid
	}
	if pollRDHUP != 0 && e&pollRDHUP != 0 {
		ev |= ReadHangup
	}
	return ev
}

// Register implements Selector.
func (s *pollSelector) Register(fd int, ev Events, data any) error {
	reg, err := s.add(fd, ev, data)
	if err != nil {
		return err
	}
	reg.index = int32(len(s.fds))
	s.fds = append(s.fds, unix.PollFd{Fd: int32(fd), Events: toPoll(ev)})
	return nil
}

// Modify implements Selector.
func (s *pollSelector) Modify(fd int, ev Events, data any) error {
	reg, err := s.get("modify", fd)
	if err != nil {
		return err
	}
	if err := validate(fd, ev, s.supported); err != nil {
		return err
	}
	s.fds[reg.index].Events = toPoll(ev)
	reg.events, reg.data = ev, data
	return nil
}

// Unregister implements Selector. The last pollfd moves into the hole.
func (s *pollSelector) Unregister(fd int) error {
	reg, err := s.get("unregister", fd)
	if err != nil {
		return err
	}
	i, last := reg.index, len(s.fds)-1
	if int(i) != last {
		moved := s.fds[last]
		s.fds[i] = moved
		s.regs[moved.Fd].index = i
	}
	s.fds = s.fds[:last]
	s.drop(fd)
	return nil
}

// Wait implements Selector.
func (s *pollSelector) Wait(timeout time.Duration, ready []Ready) (int, error) {
	if err := s.enterWait(ready); err != nil {
		return 0, err
	}
	defer s.exitWait()
	clk := newClock(timeout)
	for {
		n, err := unix.Poll(s.fds, millis(clk.remaining()))
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return 0, os.NewSyscallError("poll", err)
		}
		if s.closed.Load() {
			return 0, ErrClosed
		}
		woken := false
		if n > 0 && s.fds[0].Revents != 0 {
			s.drainWake()
			woken = true
			n--
		}
		filled := s.collect(n, ready)
		if filled > 0 || woken || clk.expired() {
			return filled, nil
		}
	}
}

// collect copies up to len(ready) of the n ready pollfds into ready,
// starting where the last scan stopped.
func (s *pollSelector) collect(n int, ready []Ready) int {
	count := len(s.fds) - 1
	if n == 0 || count == 0 {
		return 0
	}
	filled := 0
	start := s.next % count
	for k := 0; k < count && filled < len(ready) && n > 0; k++ {
		i := 1 + (start+k)%count
		p := &s.fds[i]
		if p.Revents == 0 {
			continue
		}
		n--
		reg := &s.regs[p.Fd]
		ready[filled] = Ready{FD: int(p.Fd), Events: deliver(fromPoll(p.Revents), reg.events), Data: reg.data}
		filled++
		s.next = start + k + 1
	}
	return filled
}

// Close implements Selector.
func (s *pollSelector) Close() error {
	return s.close(func() error { s.fds = nil; return nil })
}
