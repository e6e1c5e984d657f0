//go:build unix

package iomux

import (
	"errors"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestSelector runs the conformance suite against every backend this OS has.
func TestSelector(t *testing.T) {
	for _, name := range Backends() {
		t.Run(name, func(t *testing.T) { testSelector(t, backendOpener(name)) })
	}
}

// selectorCases is the one conformance table: every case runs on every
// backend, and states per backend what differs (see has and the Selector
// doc comment). Each case opens its own Selector.
var selectorCases = []struct {
	name string
	run  func(t *testing.T, open opener)
}{
	{"pipe-readable", testPipeReadable},
	{"pipe-writable", testPipeWritable},
	{"accept", testAccept},
	{"peer-close", testPeerClose},
	{"timeout-zero", testTimeoutZero},
	{"timeout-50ms", testTimeout50ms},
	{"modify-read-to-write", testModifyReadToWrite},
	{"unregister", testUnregister},
	{"level-triggered", testLevelTriggered},
	{"edge-triggered", testEdgeTriggered},
	{"oneshot", testOneShot},
	{"exclusive", testExclusive},
	{"read-hangup", testReadHangup},
	{"priority", testPriority},
	{"data", testData},
	{"errors", testErrors},
	{"rollback", testRollback},
	{"fd-above-1024", testFDAbove1024},
	{"10000-fds", test10000FDs},
	{"closed-fd", testClosedFD},
	{"eintr", testEINTR},
	{"fd-kinds", testFDKinds},
	{"wake", testWake},
	{"wake-coalesces", testWakeCoalesces},
	{"close-while-waiting", testCloseWhileWaiting},
	{"wake-during-close", testWakeDuringClose},
	{"after-close", testAfterClose},
	{"fairness", testFairness},
	{"no-alloc", testNoAlloc},
}

// testSelector is the conformance suite for one backend. It also checks that
// the backend leaks no descriptor (goroutines are checked by TestMain).
func testSelector(t *testing.T, open opener) {
	before := openFDs(t)
	t.Cleanup(func() {
		if after := openFDs(t); after != before {
			t.Errorf("fd leak: %d open before the suite, %d after", before, after)
		}
	})
	for _, c := range selectorCases {
		t.Run(c.name, func(t *testing.T) { c.run(t, open) })
	}
}

func testPipeReadable(t *testing.T, open opener) {
	s := mustOpen(t, open)
	r, w := pipe(t)
	register(t, s, r, Readable, nil)
	waitNone(t, s)
	write(t, w, "x")
	if got := waitOne(t, s, r, Readable); got.Events != Readable {
		t.Errorf("events = %v, want Readable", got.Events)
	}
	if got := read(t, r); got != "x" {
		t.Errorf("read %q, want %q", got, "x")
	}
	waitNone(t, s)
}

func testPipeWritable(t *testing.T, open opener) {
	s := mustOpen(t, open)
	r, w := pipe(t)
	register(t, s, w, Writable, nil)
	if got := waitOne(t, s, w, Writable); got.Events != Writable {
		t.Errorf("events = %v, want Writable", got.Events)
	}
	block := make([]byte, 64<<10)
	for { // fill the pipe
		if _, err := unix.Write(w, block); errors.Is(err, unix.EAGAIN) {
			break
		} else if err != nil {
			t.Fatalf("write: %v", err)
		}
	}
	waitNone(t, s)
	drain(t, r)
	waitOne(t, s, w, Writable)
}

func testAccept(t *testing.T, open opener) {
	s := mustOpen(t, open)
	ln, addr := listenTCP(t)
	register(t, s, ln, Readable, "listener")
	waitNone(t, s)
	dialTCP(t, addr)
	waitOne(t, s, ln, Readable)
	fd, _, err := unix.Accept(ln)
	if err != nil {
		t.Fatalf("accept after Readable: %v", err)
	}
	unix.Close(fd)
	waitNone(t, s)
}

// testPeerClose: a closed peer shows as Readable (plus Hangup where the OS
// says so) and the read meets EOF.
func testPeerClose(t *testing.T, open opener) {
	for _, kind := range []string{"pipe", "socketpair"} {
		t.Run(kind, func(t *testing.T) {
			s := mustOpen(t, open)
			var fd int
			var closePeer func()
			if kind == "pipe" {
				fd, _, _, closePeer = closablePipe(t)
			} else {
				fd, _, _, closePeer = closableSocketpair(t)
			}
			register(t, s, fd, Readable, nil)
			closePeer()
			got := waitOne(t, s, fd, Readable)
			wantHangup := s.Backend() == "epoll" || s.Backend() == "poll"
			if wantHangup && got.Events&Hangup == 0 {
				t.Errorf("events = %v, want Readable|Hangup", got.Events)
			}
			if got.Events&^(Readable|Hangup) != 0 {
				t.Errorf("events = %v, want only Readable and Hangup (Writable was not asked)", got.Events)
			}
			if data := read(t, fd); data != "" {
				t.Errorf("read %q, want EOF", data)
			}
		})
	}
	// The reader goes away: the writer is Writable (plus Error where the OS
	// says so) and the write meets EPIPE.
	t.Run("pipe-writer", func(t *testing.T) {
		s := mustOpen(t, open)
		_, w, closeR, _ := closablePipe(t)
		register(t, s, w, Writable, nil)
		closeR()
		got := waitOne(t, s, w, Writable)
		if (s.Backend() == "epoll" || s.Backend() == "poll") && got.Events&Error == 0 {
			t.Errorf("events = %v, want Writable|Error", got.Events)
		}
		if got.Events&Readable != 0 {
			t.Errorf("events = %v: Readable was not asked", got.Events)
		}
		if _, err := unix.Write(w, []byte("x")); !errors.Is(err, unix.EPIPE) {
			t.Errorf("write to a pipe without reader: %v, want EPIPE", err)
		}
	})
}

func testTimeoutZero(t *testing.T, open opener) {
	s := mustOpen(t, open)
	r, _ := pipe(t)
	register(t, s, r, Readable, nil)
	start := time.Now()
	waitNone(t, s)
	// Generous bound: this tells "returns at once" from "blocks", not speed.
	if d := time.Since(start); d > time.Second {
		t.Errorf("Wait(0) took %v, want an immediate return", d)
	}
}

func testTimeout50ms(t *testing.T, open opener) {
	s := mustOpen(t, open)
	r, _ := pipe(t)
	register(t, s, r, Readable, nil)
	start := time.Now()
	if got := wait(t, s, 50*time.Millisecond); len(got) != 0 {
		t.Fatalf("got %v, want a timeout", got)
	}
	if d := time.Since(start); d < 50*time.Millisecond {
		t.Errorf("Wait(50ms) returned after %v, want >= 50ms", d)
	}
}

func testModifyReadToWrite(t *testing.T, open opener) {
	s := mustOpen(t, open)
	a, _ := socketpair(t)
	register(t, s, a, Readable, nil)
	waitNone(t, s) // writable, but only Readable was asked
	if err := s.Modify(a, Writable, nil); err != nil {
		t.Fatalf("Modify: %v", err)
	}
	if got := waitOne(t, s, a, Writable); got.Events != Writable {
		t.Errorf("events = %v, want Writable", got.Events)
	}
	if err := s.Modify(a, Readable, nil); err != nil {
		t.Fatalf("Modify back: %v", err)
	}
	waitNone(t, s)
}

func testUnregister(t *testing.T, open opener) {
	s := mustOpen(t, open)
	r1, w1 := pipe(t)
	r2, w2 := pipe(t)
	register(t, s, r1, Readable, nil)
	register(t, s, r2, Readable, nil)
	write(t, w1, "x")
	write(t, w2, "x")
	if err := s.Unregister(r1); err != nil {
		t.Fatalf("Unregister: %v", err)
	}
	if s.Len() != 1 {
		t.Errorf("Len = %d after Unregister, want 1", s.Len())
	}
	waitOne(t, s, r2, Readable)
	if err := s.Unregister(r2); err != nil {
		t.Fatalf("Unregister: %v", err)
	}
	waitNone(t, s)
}

func testLevelTriggered(t *testing.T, open opener) {
	s := mustOpen(t, open)
	r, w := pipe(t)
	register(t, s, r, Readable, nil)
	write(t, w, "abc")
	for range 3 { // reported again and again while data is left
		waitOne(t, s, r, Readable)
	}
	drain(t, r)
	waitNone(t, s)
}

func testEdgeTriggered(t *testing.T, open opener) {
	s := mustOpen(t, open)
	a, b := socketpair(t)
	if !has(s.Backend(), EdgeTriggered) {
		expectUnsupported(t, s, a, Readable|EdgeTriggered)
		return
	}
	register(t, s, a, Readable|EdgeTriggered, nil)
	waitNone(t, s)
	write(t, b, "1")
	waitOne(t, s, a, Readable)
	waitNone(t, s) // still readable, but no new edge
	write(t, b, "2")
	waitOne(t, s, a, Readable)
	if got := read(t, a); got != "12" {
		t.Errorf("read %q, want %q", got, "12")
	}
	waitNone(t, s)
}

func testOneShot(t *testing.T, open opener) {
	s := mustOpen(t, open)
	a, b := socketpair(t)
	if !has(s.Backend(), OneShot) {
		expectUnsupported(t, s, a, Readable|OneShot)
		return
	}
	register(t, s, a, Readable|OneShot, nil)
	write(t, b, "x")
	waitOne(t, s, a, Readable)
	waitNone(t, s) // disabled until re-armed
	write(t, b, "y")
	waitNone(t, s)
	if err := s.Modify(a, Readable|OneShot, nil); err != nil {
		t.Fatalf("re-arm: %v", err)
	}
	waitOne(t, s, a, Readable)
	waitNone(t, s)
	if err := s.Unregister(a); err != nil {
		t.Errorf("Unregister after OneShot fired: %v", err)
	}
}

func testExclusive(t *testing.T, open opener) {
	s := mustOpen(t, open)
	r, w := pipe(t)
	if !has(s.Backend(), Exclusive) {
		expectUnsupported(t, s, r, Readable|Exclusive)
		return
	}
	register(t, s, r, Readable|Exclusive, nil)
	write(t, w, "x")
	waitOne(t, s, r, Readable)
	if err := s.Modify(r, Readable, nil); !errors.Is(err, ErrUnsupported) {
		t.Errorf("Modify of an Exclusive registration: %v, want ErrUnsupported", err)
	}
	if err := s.Unregister(r); err != nil {
		t.Errorf("Unregister: %v", err)
	}
}

// testReadHangup: the peer's shutdown(SHUT_WR) shows as ReadHangup when
// asked, and only then.
func testReadHangup(t *testing.T, open opener) {
	s := mustOpen(t, open)
	a, b := socketpair(t)
	c, d := socketpair(t)
	if !has(s.Backend(), ReadHangup) {
		expectUnsupported(t, s, a, Readable|ReadHangup)
		return
	}
	register(t, s, a, Readable|ReadHangup, nil)
	register(t, s, c, Readable, nil)
	waitNone(t, s)
	for _, fd := range []int{b, d} {
		if err := unix.Shutdown(fd, unix.SHUT_WR); err != nil {
			t.Fatalf("shutdown: %v", err)
		}
	}
	got := wait(t, s, 5*time.Second)
	for len(got) < 2 {
		got = append(got, wait(t, s, 5*time.Second)...)
	}
	for _, r := range got {
		switch r.FD {
		case a:
			if r.Events&(Readable|ReadHangup) != Readable|ReadHangup || r.Events&Hangup != 0 {
				t.Errorf("asked ReadHangup: events = %v, want Readable|ReadHangup (no Hangup: half-closed)", r.Events)
			}
		case c:
			if r.Events != Readable {
				t.Errorf("not asked ReadHangup: events = %v, want Readable", r.Events)
			}
		}
	}
	if data := read(t, a); data != "" {
		t.Errorf("read %q, want EOF", data)
	}
}

// testPriority: TCP urgent data is the Priority condition (select's
// exceptional set), reported without Readable when only Priority is asked.
func testPriority(t *testing.T, open opener) {
	s := mustOpen(t, open)
	client, server := tcpPair(t)
	if !has(s.Backend(), Priority) {
		expectUnsupported(t, s, server, Priority)
		return
	}
	register(t, s, server, Priority, nil)
	waitNone(t, s)
	if err := unix.Sendto(client, []byte("!"), unix.MSG_OOB, nil); err != nil {
		t.Fatalf("send MSG_OOB: %v", err)
	}
	if got := waitOne(t, s, server, Priority); got.Events != Priority {
		t.Errorf("events = %v, want Priority", got.Events)
	}
}

func testData(t *testing.T, open opener) {
	s := mustOpen(t, open)
	r, w := pipe(t)
	type conn struct{ name string }
	first := &conn{"first"}
	register(t, s, r, Readable, first)
	write(t, w, "x")
	if got := waitOne(t, s, r, Readable); got.Data != first {
		t.Errorf("Data = %v, want the registered pointer %p", got.Data, first)
	}
	// Same events, new data: backends may skip the system call, not the data.
	if err := s.Modify(r, Readable, "second"); err != nil {
		t.Fatalf("Modify: %v", err)
	}
	if got := waitOne(t, s, r, Readable); got.Data != "second" {
		t.Errorf("Data = %v after Modify, want %q", got.Data, "second")
	}
	if err := s.Modify(r, Readable|Writable, 3); err != nil {
		t.Fatalf("Modify: %v", err)
	}
	if got := waitOne(t, s, r, Readable); got.Data != 3 {
		t.Errorf("Data = %v after Modify, want 3", got.Data)
	}
}

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

func expectUnsupported(t *testing.T, s Selector, fd int, ev Events) {
	t.Helper()
	if err := s.Register(fd, ev, nil); !errors.Is(err, ErrUnsupported) {
		t.Errorf("%s Register(%v): %v, want ErrUnsupported", s.Backend(), ev, err)
	}
	if s.Len() != 0 {
		t.Errorf("Len = %d after refused Register, want 0", s.Len())
	}
}
