//go:build unix

package iomux

import (
	"fmt"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// Select is Python's select.select for porting the seeds line by line: it
// waits until some fd in r is readable, in w writable, or in x has an
// exceptional condition (urgent data), and returns those subsets in the order
// given. timeout < 0 blocks, 0 polls, > 0 waits at most that long; on timeout
// all three results are empty. An fd may appear in several lists; one listed
// twice in a list is returned twice, as Python does.
//
// It differs from select(2) in one way: it is built on poll(2), so there is
// no FD_SETSIZE limit. Like select(2), a read hang-up or error counts as
// readable, an error as writable, and a closed fd fails the call with EBADF.
func Select(r, w, x []int, timeout time.Duration) (rr, ww, xx []int, err error) {
	fds := make([]unix.PollFd, 0, len(r)+len(w)+len(x))
	index := make(map[int]int, cap(fds))
	want := func(list []int, ev int16) error {
		for _, fd := range list {
			if fd < 0 {
				return fmt.Errorf("iomux.Select: negative fd %d", fd)
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
		if n > 0 || clk.expired() {
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
	for _, p := range fds {
		if p.Revents&unix.POLLNVAL != 0 {
			return nil, nil, nil, fmt.Errorf("iomux.Select: fd %d: %w", p.Fd, os.NewSyscallError("select", unix.EBADF))
		}
	}
	return pick(r, unix.POLLIN|unix.POLLHUP|unix.POLLERR),
		pick(w, unix.POLLOUT|unix.POLLERR),
		pick(x, unix.POLLPRI), nil
}
