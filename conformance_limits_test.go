//go:build unix

package iomux

import (
	"errors"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// This file holds the conformance cases about errors and limits: bad
// arguments, rolled-back OS failures, FD_SETSIZE, 10,000 fds, closed fds.

func testErrors(t *testing.T, open opener) {
	s := mustOpen(t, open)
	r, w := pipe(t)
	register(t, s, r, Readable, nil)
	if err := s.Register(r, Readable, nil); !errors.Is(err, ErrRegistered) {
		t.Errorf("second Register: %v, want ErrRegistered", err)
	}
	if s.Len() != 1 {
		t.Errorf("Len = %d, want 1", s.Len())
	}
	if err := s.Modify(w, Readable, nil); !errors.Is(err, ErrNotRegistered) {
		t.Errorf("Modify of unknown fd: %v, want ErrNotRegistered", err)
	}
	if err := s.Unregister(w); !errors.Is(err, ErrNotRegistered) {
		t.Errorf("Unregister of unknown fd: %v, want ErrNotRegistered", err)
	}
	if err := s.Unregister(1 << 20); !errors.Is(err, ErrNotRegistered) {
		t.Errorf("Unregister of huge fd: %v, want ErrNotRegistered", err)
	}
	for _, c := range []struct {
		fd int
		ev Events
	}{
		{w, 0}, {w, Hangup | Error}, {w, EdgeTriggered}, {w, Readable | 1<<12}, {-1, Readable},
	} {
		if err := s.Register(c.fd, c.ev, nil); !errors.Is(err, ErrBadEvents) {
			t.Errorf("Register(%d, %v): %v, want ErrBadEvents", c.fd, c.ev, err)
		}
	}
	if err := s.Modify(r, 0, nil); !errors.Is(err, ErrBadEvents) {
		t.Errorf("Modify to 0 events: %v, want ErrBadEvents", err)
	}
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

// testRollback: a Register whose OS call fails leaves no trace. epoll
// refuses regular files (EPERM); the same fd then registers on poll.
func testRollback(t *testing.T, open opener) {
	s := mustOpen(t, open)
	file := regularFile(t)
	if s.Backend() != "epoll" {
		t.Skip("only epoll makes an OS call that can fail here")
	}
	for range 2 { // twice: the first failure must not leave ErrRegistered behind
		if err := s.Register(file, Readable, nil); !errors.Is(err, unix.EPERM) {
			t.Fatalf("epoll Register of a regular file: %v, want EPERM", err)
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
	if err := s.Register(closed, Readable, nil); !errors.Is(err, unix.EBADF) || s.Len() != 0 {
		t.Errorf("Register of a closed fd: %v (Len %d), want EBADF and Len 0", err, s.Len())
	}
	// A failed Modify keeps the registration as it was.
	r, _, closeR, _ := closablePipe(t)
	register(t, s, r, Readable, "kept")
	closeR()
	if err := s.Modify(r, Writable, "lost"); !errors.Is(err, unix.EBADF) {
		t.Errorf("Modify of a closed fd: %v, want EBADF", err)
	}
	if err := s.Unregister(r); err != nil || s.Len() != 0 {
		t.Errorf("Unregister after failed Modify: %v (Len %d)", err, s.Len())
	}
	p := mustOpen(t, backendOpener("poll"))
	register(t, p, file, Readable, nil)
	waitOne(t, p, file, Readable)
}

// closedFD returns a pipe's read end and a func that closes it.
func closedFD(t *testing.T) (int, func()) {
	r, _, closeR, _ := closablePipe(t)
	return r, closeR
}

// testFDAbove1024: select refuses fds at or above FD_SETSIZE with an error
// that names the limit and the way out; the others watch them normally.
func testFDAbove1024(t *testing.T, open opener) {
	s := mustOpen(t, open)
	fds := manyPipes(t, 550)
	r, w := fds[len(fds)-2], fds[len(fds)-1]
	if r < 1024 {
		t.Fatalf("highest pipe read end is fd %d, want >= 1024", r)
	}
	if s.Backend() != "select" {
		register(t, s, r, Readable, nil)
		write(t, w, "x")
		waitOne(t, s, r, Readable)
		return
	}
	err := s.Register(r, Readable, nil)
	if !errors.Is(err, ErrFDTooLarge) {
		t.Fatalf("select Register(fd %d): %v, want ErrFDTooLarge", r, err)
	}
	for _, word := range []string{"1024", "poll", "epoll"} {
		if !strings.Contains(err.Error(), word) {
			t.Errorf("error %q does not mention %q", err, word)
		}
	}
	if s.Len() != 0 {
		t.Errorf("Len = %d, want 0", s.Len())
	}
	// A select Selector cannot even start when its own wake-up fd would be
	// past the limit.
	if _, err := open(); !errors.Is(err, ErrFDTooLarge) {
		t.Errorf("opening select with %d fds open: %v, want ErrFDTooLarge", len(fds), err)
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
	if s.Backend() == "select" {
		t.Skip("select stops at FD_SETSIZE (fd-above-1024 covers it)")
	}
	fds := manyPipes(t, 5000)
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
		switch s.Backend() {
		case "poll":
			if err != nil || n != 1 || ready[0].FD != r || ready[0].Events&Invalid == 0 {
				t.Errorf("poll: got %v, %v; want fd %d Invalid", ready[:n], err, r)
			}
		case "select":
			if !errors.Is(err, unix.EBADF) {
				t.Errorf("select: got %v, %v; want EBADF", ready[:n], err)
			}
		default: // epoll, kqueue: forgotten silently
			if err != nil || n != 0 {
				t.Errorf("%s: got %v, %v; want nothing", s.Backend(), ready[:n], err)
			}
		}
	}
	if err := s.Unregister(r); err != nil {
		t.Errorf("Unregister of a closed fd: %v", err)
	}
	waitNone(t, s)
}
