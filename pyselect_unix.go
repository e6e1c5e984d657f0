//go:build unix

package iomux

import (
	"fmt"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// Select is Python's select.select, for porting the Python select
// tutorials' loops line by line: it waits until some fd in r is readable,
// in w writable, or in x has an exceptional condition (urgent data), and
// returns those subsets in the order given. timeout < 0 blocks, 0 polls,
// > 0 waits at most that long; on timeout all three results are empty. An fd may appear in several lists; one listed
// twice in a list is returned twice, as Python does.
//
// It differs from select(2) in one way: it is built on poll(2), so there is
// no FD_SETSIZE limit. Like select(2), a read hang-up or error counts as
// readable, an error as writable, and a closed fd fails the call with EBADF;
// a hang-up on an fd listed only as writable or exceptional is not reported
// and does not end the wait.
func Select(r, w, x []int, timeout time.Duration) (rr, ww, xx []int, err error) {
	fds := make([]unix.PollFd, 0, len(r)+len(w)+len(x))
	index := make(map[int]int, cap(fds))
	want := func(list []int, ev int16) error {
		for _, fd := range list {
			if fd < 0 || fd > maxFD {
				return fmt.Errorf("Select fd %d: want 0 to %d: %w", fd, maxFD, ErrBadFD)
			}
			i, ok := index[fd]
			if !ok {
				i = len(fds)
				index[fd] = i
				fds = append(fds, unix.PollFd{Fd: int32(fd)})
			}
			fds[i].Events |= ev
		}
		return nil
	}
	for _, l := range []struct {
		fds []int
		ev  int16
	}{{r, unix.POLLIN}, {w, unix.POLLOUT}, {x, unix.POLLPRI}} {
		if err := want(l.fds, l.ev); err != nil {
			return nil, nil, nil, err
		}
	}
	clk := newClock(timeout)
	for {
		n, err := unix.Poll(fds, millis(clk.remaining()))
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, nil, nil, os.NewSyscallError("poll", err)
		}
		found := false
		for i := range fds {
			p := &fds[i]
			switch {
			case n == 0 || p.Revents == 0:
			case p.Revents&unix.POLLNVAL != 0:
				return nil, nil, nil, fmt.Errorf("Select fd %d: %w", p.Fd, os.NewSyscallError("select", unix.EBADF))
			case selectable(*p):
				found = true
			default:
				// poll reports hang-ups and errors whatever was asked;
				// select(2) would not report this fd in the lists it is in
				// and would keep waiting. A hang-up stays, so stop polling
				// the fd for this call (poll skips negative fds) rather
				// than spin on it.
				p.Fd = -1
			}
		}
		if found || clk.expired() {
			break
		}
	}
	pick := func(list []int, mask int16) []int {
		var out []int
		for _, fd := range list {
			if fds[index[fd]].Revents&mask != 0 {
				out = append(out, fd)
			}
		}
		return out
	}
	return pick(r, readSet), pick(w, writeSet), pick(x, exceptSet), nil
}

// What select(2) counts as readable, writable and exceptional (Linux's
// POLLIN_SET, POLLOUT_SET and POLLEX_SET).
const (
	readSet   = unix.POLLIN | unix.POLLHUP | unix.POLLERR
	writeSet  = unix.POLLOUT | unix.POLLERR
	exceptSet = unix.POLLPRI
)

// selectable reports whether select(2) would report p in one of the lists
// it was asked for.
func selectable(p unix.PollFd) bool {
	var mask int16
	if p.Events&unix.POLLIN != 0 {
		mask |= readSet
	}
	if p.Events&unix.POLLOUT != 0 {
		mask |= writeSet
	}
	if p.Events&unix.POLLPRI != 0 {
		mask |= exceptSet
	}
	return p.Revents&mask != 0
}
