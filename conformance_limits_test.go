package iomux

import (
	"errors"
	"fmt"
	"math"
	"runtime"
	"strconv"
	"strings"
	"testing"
)

// This file holds the conformance cases about errors and limits: bad
// arguments, rolled-back OS failures, FD_SETSIZE, 10,000 fds, closed fds.

func testErrors(t *testing.T, open opener) {
	s := mustOpen(t, open)
	r, w := pipe(t)
	register(t, s, r, Readable, nil)
	expectWraps(t, "second Register", s.Register(r, Readable, nil), "register", r, ErrRegistered)
	if s.Len() != 1 {
		t.Errorf("Len = %d, want 1", s.Len())
	}
	expectWraps(t, "Modify of unknown fd", s.Modify(w, Readable, nil), "modify", w, ErrNotRegistered)
	expectWraps(t, "Unregister of unknown fd", s.Unregister(w), "unregister", w, ErrNotRegistered)
	expectWraps(t, "Unregister of huge fd", s.Unregister(1<<20), "unregister", 1<<20, ErrNotRegistered)
	for _, c := range []struct {
		fd int
		ev Events
	}{
		{w, 0}, {w, Hangup | Error}, {w, EdgeTriggered}, {w, Readable | 1<<12},
	} {
		expectWraps(t, fmt.Sprintf("Register(%d, %v)", c.fd, c.ev), s.Register(c.fd, c.ev, nil), "register", c.fd, ErrBadEvents)
	}
	expectWraps(t, "Modify to 0 events", s.Modify(r, 0, nil), "modify", r, ErrBadEvents)
	if s.Len() != 1 {
		t.Errorf("Len = %d after failed calls, want 1", s.Len())
	}
	write(t, w, "x") // the failed Modify left the registration as it was
	waitOne(t, s, r, Readable)
	if err := s.Unregister(r); err != nil {
		t.Fatalf("Unregister: %v", err)
	}
	if err := s.Unregister(r); !errors.Is(err, ErrNotRegistered) {
		t.Errorf("second Unregister: %v, want ErrNotRegistered", err)
	}
	if _, err := s.Wait(0, nil); !errors.Is(err, ErrNoRoom) {
		t.Errorf("Wait with no room: %v, want ErrNoRoom", err)
	}
}

// testBadFD: a number no descriptor can have (negative, Windows'
// INVALID_SOCKET among them, or past a C int) is ErrBadFD, not the events'
// fault (ErrBadEvents) nor the OS's, on every backend; Modify and
// Unregister of it find nothing registered.
func testBadFD(t *testing.T, open opener) {
	s := mustOpen(t, open)
	for _, fd := range []int{-1, -2, math.MinInt, maxFD + 1, math.MaxInt} {
		err := s.Register(fd, Readable, nil)
		expectWraps(t, fmt.Sprintf("Register(%d)", fd), err, "register", fd, ErrBadFD)
		if errors.Is(err, ErrBadEvents) {
			t.Errorf("Register(%d): %v is also ErrBadEvents", fd, err)
		}
		if err := s.Modify(fd, Readable, nil); !errors.Is(err, ErrNotRegistered) {
			t.Errorf("Modify(%d): %v, want ErrNotRegistered", fd, err)
		}
		if err := s.Unregister(fd); !errors.Is(err, ErrNotRegistered) {
			t.Errorf("Unregister(%d): %v, want ErrNotRegistered", fd, err)
		}
	}
	if s.Len() != 0 {
		t.Errorf("Len = %d, want 0", s.Len())
	}
}

// expectWraps checks that err, what call returned, wraps want and reads as
// every error of the package does (iomux.go): op and fd first, want last.
func expectWraps(t *testing.T, call string, err error, op string, fd int, want error) {
	t.Helper()
	prefix := fmt.Sprintf("%s fd %d: ", op, fd)
	if !errors.Is(err, want) {
		t.Errorf("%s: %v, want %v", call, err, want)
	} else if msg := err.Error(); !strings.HasPrefix(msg, prefix) || !strings.HasSuffix(msg, ": "+want.Error()) {
		t.Errorf("%s: %q, want %q first and %q last", call, msg, prefix, want)
	}
}

// testRollback: a Register whose OS call fails leaves no trace. A backend
// that refuses regular files (Capabilities.RegularFile 0, EPERM) has an OS
// call that fails here; the same fd then registers on every backend that
// accepts them.
func testRollback(t *testing.T, open opener) {
	s := mustOpen(t, open)
	file := regularFile(t)
	if s.Capabilities().RegularFile != 0 {
		t.Skip("the backend accepts regular files: no OS call fails here")
	}
	for range 2 { // twice: the first failure must not leave ErrRegistered behind
		if err := s.Register(file, Readable, nil); !errors.Is(err, errNotWatched) {
			t.Fatalf("%s Register of a regular file: %v, want EPERM", s.Backend(), err)
		}
		if s.Len() != 0 {
			t.Fatalf("Len = %d after a failed Register, want 0", s.Len())
		}
	}
	if err := s.Modify(file, Readable, nil); !errors.Is(err, ErrNotRegistered) {
		t.Errorf("Modify after failed Register: %v, want ErrNotRegistered", err)
	}
	closed, closeNow := closedFD(t)
	closeNow()
	if err := s.Register(closed, Readable, nil); !errors.Is(err, errNotOpen) || s.Len() != 0 {
		t.Errorf("Register of a closed fd: %v (Len %d), want EBADF and Len 0", err, s.Len())
	}
	// A failed Modify keeps the registration as it was.
	r, _, closeR, _ := closablePipe(t)
	register(t, s, r, Readable, "kept")
	closeR()
	if err := s.Modify(r, Writable, "lost"); !errors.Is(err, errNotOpen) {
		t.Errorf("Modify of a closed fd: %v, want EBADF", err)
	}
	if err := s.Unregister(r); err != nil || s.Len() != 0 {
		t.Errorf("Unregister after failed Modify: %v (Len %d)", err, s.Len())
	}
	accepted := 0
	for _, name := range Backends() {
		p := mustOpen(t, backendOpener(name))
		if p.Capabilities().RegularFile != 0 {
			register(t, p, file, Readable, nil)
			waitOne(t, p, file, Readable)
			accepted++
		}
	}
	if accepted == 0 && hasRegularFileBackend {
		t.Errorf("no backend of %v accepts regular files", Backends())
	}
}

// unlimitedBackends names this OS's backends that have no FDLimit.
func unlimitedBackends(t *testing.T) []string {
	var names []string
	for _, name := range Backends() {
		s := mustOpen(t, backendOpener(name))
		if s.Capabilities().FDLimit == 0 {
			names = append(names, name)
		}
		s.Close()
	}
	return names
}

// closedFD returns a pipe's read end and a func that closes it.
func closedFD(t *testing.T) (int, func()) {
	r, _, closeR, _ := closablePipe(t)
	return r, closeR
}

// testFDAbove1024: a backend with an FDLimit (select: FD_SETSIZE, 1024)
// refuses fds at or above it with an error that names the limit and the way
// out (this OS's backends without a limit); the others watch them normally.
func testFDAbove1024(t *testing.T, open opener) {
	s := mustOpen(t, open)
	ways := unlimitedBackends(t) // before the pipes: a limited one could not open after
	fds := manyPipes(t, 550)
	r, w := fds[len(fds)-2], fds[len(fds)-1]
	if r < 1024 {
		t.Fatalf("highest pipe read end is fd %d, want >= 1024", r)
	}
	limit := s.Capabilities().FDLimit
	if limit == 0 || r < limit {
		register(t, s, r, Readable, nil)
		write(t, w, "x")
		waitOne(t, s, r, Readable)
		return
	}
	err := s.Register(r, Readable, nil)
	if !errors.Is(err, ErrFDTooLarge) {
		t.Fatalf("%s Register(fd %d): %v, want ErrFDTooLarge", s.Backend(), r, err)
	}
	expectWraps(t, s.Backend()+" Register", err, "register", r, ErrFDTooLarge)
	for _, word := range append([]string{strconv.Itoa(limit)}, ways...) {
		if !strings.Contains(err.Error(), word) {
			t.Errorf("error %q does not mention %q", err, word)
		}
	}
	if s.Len() != 0 {
		t.Errorf("Len = %d, want 0", s.Len())
	}
	// A Selector cannot even start when its own wake-up fd would be past
	// the limit.
	if _, err := open(); !errors.Is(err, ErrFDTooLarge) {
		t.Errorf("opening %s with %d fds open: %v, want ErrFDTooLarge", s.Backend(), len(fds), err)
	}
	lr, lw := fds[0], fds[1] // still works below the limit
	register(t, s, lr, Readable, nil)
	write(t, lw, "x")
	waitOne(t, s, lr, Readable)
}

// test10000FDs: 10,000 registered pipe fds (both ends of 5,000 pipes, all
// watched for Readable), exactly one ready, is found.
func test10000FDs(t *testing.T, open opener) {
	s := mustOpen(t, open)
	fds := manyPipes(t, 5000)
	if limit := s.Capabilities().FDLimit; limit != 0 && fds[len(fds)-1] >= limit {
		t.Skipf("%s stops at fd %d (fd-above-1024 covers it)", s.Backend(), limit)
	}
	for _, fd := range fds {
		register(t, s, fd, Readable, nil)
	}
	if s.Len() != len(fds) {
		t.Fatalf("Len = %d, want %d", s.Len(), len(fds))
	}
	waitNone(t, s)
	mid := len(fds) / 2 // a read end: fds alternate read, write
	write(t, fds[mid+1], "x")
	waitOne(t, s, fds[mid], Readable)
}

// testClosedFD checks what the Selector doc comment promises for a
// registered fd closed without Unregister.
func testClosedFD(t *testing.T, open opener) {
	s := mustOpen(t, open)
	r, closeR := closedFD(t)
	register(t, s, r, Readable, nil)
	closeR()
	for range 2 { // every Wait, not just the first
		ready := make([]Ready, 4)
		n, err := s.Wait(0, ready)
		switch closedFD := s.Capabilities().ClosedFD; closedFD {
		case ClosedInvalid:
			if err != nil || n != 1 || ready[0].FD != r || ready[0].Events != Invalid {
				t.Errorf("%s: got %v, %v; want fd %d Invalid", s.Backend(), ready[:n], err, r)
			}
		case ClosedFailsWait:
			if !errors.Is(err, errNotOpen) {
				t.Errorf("%s: got %v, %v; want EBADF", s.Backend(), ready[:n], err)
			}
		case ClosedForgotten:
			if err != nil || n != 0 {
				t.Errorf("%s: got %v, %v; want nothing", s.Backend(), ready[:n], err)
			}
		default:
			t.Fatalf("%s: unknown Capabilities.ClosedFD %d", s.Backend(), closedFD)
		}
	}
	if err := s.Unregister(r); err != nil {
		t.Errorf("Unregister of a closed fd: %v", err)
	}
	waitNone(t, s)
}

// testHugeFDs: any fd number is an error, never a crash: numbers no
// descriptor can have fail with ErrBadFD, large ones that are not open
// with EBADF, and neither grows the Selector's tables to that size.
func testHugeFDs(t *testing.T, open opener) {
	s := mustOpen(t, open)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for _, fd := range []int{1<<31 - 1 + 1, math.MaxInt, 1 << 32} {
		if err := s.Register(fd, Readable, nil); !errors.Is(err, ErrBadFD) {
			t.Errorf("Register(%d): %v, want ErrBadFD", fd, err)
		}
	}
	for _, fd := range []int{1<<31 - 1, 1<<31 - 2, 1 << 24} {
		err := s.Register(fd, Readable, nil)
		if !errors.Is(err, errNotOpen) && !errors.Is(err, ErrFDTooLarge) {
			t.Errorf("Register(%d) of a descriptor that is not open: %v, want EBADF (or ErrFDTooLarge)", fd, err)
		}
		if err := s.Modify(fd, Readable, nil); !errors.Is(err, ErrNotRegistered) {
			t.Errorf("Modify(%d): %v, want ErrNotRegistered", fd, err)
		}
		if err := s.Unregister(fd); !errors.Is(err, ErrNotRegistered) {
			t.Errorf("Unregister(%d): %v, want ErrNotRegistered", fd, err)
		}
	}
	runtime.ReadMemStats(&after)
	if grew := int64(after.HeapAlloc) - int64(before.HeapAlloc); grew > 1<<20 {
		t.Errorf("the heap grew by %d bytes for refused huge fds", grew)
	}
	if s.Len() != 0 {
		t.Errorf("Len = %d, want 0", s.Len())
	}
	r, w := pipe(t) // still works
	register(t, s, r, Readable, nil)
	write(t, w, "x")
	waitOne(t, s, r, Readable)
}
