package iomux

import (
	"errors"
	"fmt"
	"os"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/windows"
)

// Select is Python's select.select, for porting the Python select
// tutorials' loops line by line: it waits until some socket in r is
// readable, in w writable, or in x has an exceptional condition, and
// returns those subsets in the order given. timeout < 0 blocks, 0 polls,
// > 0 waits at most that long; on timeout all three results are empty. A
// socket may appear in several lists; one listed twice in a list is
// returned twice, as Python does.
//
// On Windows it is Winsock's select, as Windows Python's is: sockets only
// (anything else fails with WSAENOTSOCK), and x holds urgent data and
// failed non-blocking connects
// (https://learn.microsoft.com/windows/win32/api/winsock2/nf-winsock2-select).
// Its fd_sets are sized to the lists: no FD_SETSIZE limit. With all three
// lists empty it sleeps for timeout, where Winsock would fail.
func Select(r, w, x []int, timeout time.Duration) (rr, ww, xx []int, err error) {
	var sets [3][]uintptr
	for i, list := range [3][]int{r, w, x} {
		set := make([]uintptr, 1, 1+len(list))
		for _, fd := range list {
			if fd < 0 || fd > maxFD {
				return nil, nil, nil, fmt.Errorf("Select fd %d: want 0 to %d: %w", fd, maxFD, ErrBadFD)
			}
			if !inFDSet(set, fd) {
				set = append(set, uintptr(fd))
			}
		}
		set[0] = uintptr(len(set) - 1)
		sets[i] = set
	}
	if len(r)+len(w)+len(x) == 0 {
		if timeout < 0 {
			return nil, nil, nil, errors.New("Select: no sockets to wait for, and no timeout")
		}
		time.Sleep(timeout)
		return nil, nil, nil, nil
	}
	clk := newClock(timeout)
	var work [3][]uintptr
	for {
		var args [3]uintptr
		for i := range sets {
			work[i] = append(work[i][:0], sets[i]...) // select overwrites them
			if len(work[i]) > 1 {
				args[i] = uintptr(unsafe.Pointer(&work[i][0]))
			}
		}
		var tv windows.Timeval
		n, _, errno := syscall.SyscallN(procSelect.Addr(), 0, args[0], args[1], args[2],
			uintptr(unsafe.Pointer(selectTimeval(clk.remaining(), &tv))))
		if failed(n) {
			return nil, nil, nil, os.NewSyscallError("select", errno)
		}
		if int32(n) > 0 || clk.expired() {
			break // Windows' timers may end a wait a little early: wait the rest
		}
	}
	pick := func(list []int, set []uintptr) []int {
		var out []int
		for _, fd := range list {
			if inFDSet(set, fd) {
				out = append(out, fd)
			}
		}
		return out
	}
	return pick(r, work[0]), pick(w, work[1]), pick(x, work[2]), nil
}

// inFDSet reports whether the Winsock fd_set set (count, then sockets)
// holds fd.
func inFDSet(set []uintptr, fd int) bool {
	for _, s := range set[1 : 1+uint32(set[0])] {
		if s == uintptr(fd) {
			return true
		}
	}
	return false
}
