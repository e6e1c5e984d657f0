package iomux

import (
	"errors"
	"testing"
	"time"
)

// TestSelector runs the conformance suite against every backend this OS has.
func TestSelector(t *testing.T) {
	for _, name := range Backends() {
		t.Run(name, func(t *testing.T) { testSelector(t, backendOpener(name)) })
	}
}

// selectorCases is the one conformance table: every case runs on every
// backend. What may differ between backends each case reads from the
// backend's Capabilities, and holds the backend to exactly. Each case opens
// its own Selector.
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
	{"bad-fd", testBadFD},
	{"huge-fds", testHugeFDs},
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
		t.Run(c.name, func(t *testing.T) {
			skipKnownGap(t, c.name)
			c.run(t, open)
		})
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
	fill(t, w)
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
	acceptClose(t, ln)
	waitNone(t, s)
}

// testPeerClose: a closed peer shows as Capabilities.PeerClosed (Readable,
// plus Hangup where the OS says so) and the read meets EOF.
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
			if want := s.Capabilities().PeerClosed; got.Events != want {
				t.Errorf("events = %v, want %v (Capabilities.PeerClosed)", got.Events, want)
			}
			if got.Events&^(Readable|Hangup) != 0 {
				t.Errorf("events = %v, want only Readable and Hangup (Writable was not asked)", got.Events)
			}
			if data := read(t, fd); data != "" {
				t.Errorf("read %q, want EOF", data)
			}
		})
	}
	// The reader goes away: the writer shows as Capabilities.ReaderClosed
	// (Writable, plus Error or Hangup where the OS says so) and the write
	// meets EPIPE.
	t.Run("pipe-writer", func(t *testing.T) {
		if !hasPipes {
			t.Skip("no pipes here: the backends watch sockets only")
		}
		s := mustOpen(t, open)
		_, w, closeR, _ := closablePipe(t)
		register(t, s, w, Writable, nil)
		closeR()
		got := waitOne(t, s, w, Writable)
		if want := s.Capabilities().ReaderClosed; got.Events != want {
			t.Errorf("events = %v, want %v (Capabilities.ReaderClosed)", got.Events, want)
		}
		if got.Events&Readable != 0 {
			t.Errorf("events = %v: Readable was not asked", got.Events)
		}
		if _, err := rawWrite(w, []byte("x")); !errors.Is(err, errNoReader) {
			t.Errorf("write to a pipe without reader: %v, want EPIPE", err)
		}
	})
}

func testTimeoutZero(t *testing.T, open opener) {
	s, _ := idleSelector(t, open)
	got, took := timedWait(t, s, 0)
	if len(got) != 0 {
		t.Fatalf("%s Wait(0): got %v, want nothing ready", s.Backend(), got)
	}
	// Generous bound: this tells "returns at once" from "blocks", not speed.
	if took > time.Second {
		t.Errorf("Wait(0) took %v, want an immediate return", took)
	}
}

func testTimeout50ms(t *testing.T, open opener) {
	s, _ := idleSelector(t, open)
	got, took := timedWait(t, s, 50*time.Millisecond)
	if len(got) != 0 {
		t.Fatalf("got %v, want a timeout", got)
	}
	if took < 50*time.Millisecond {
		t.Errorf("Wait(50ms) returned after %v, want >= 50ms", took)
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
	s, a, b, ok := registeredPair(t, open, Readable|EdgeTriggered)
	if !ok {
		return
	}
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
	s, a, b, ok := registeredPair(t, open, Readable|OneShot)
	if !ok {
		return
	}
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
	if !supports(t, s, r, Readable|Exclusive) {
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
	testExclusiveWakeup(t, open)
}

// testReadHangup: the peer's shutdown(SHUT_WR) shows as ReadHangup when
// asked, and only then; asked alone, data does not wake the Selector.
func testReadHangup(t *testing.T, open opener) {
	s := mustOpen(t, open)
	a, b := socketpair(t) // watched for Readable|ReadHangup
	c, d := socketpair(t) // watched for Readable
	e, f := socketpair(t) // watched for ReadHangup
	if !supports(t, s, a, Readable|ReadHangup) {
		return
	}
	register(t, s, a, Readable|ReadHangup, nil)
	register(t, s, c, Readable, nil)
	register(t, s, e, ReadHangup, nil)
	write(t, f, "data")
	waitNone(t, s)
	for _, fd := range []int{b, d, f} {
		shutdownWrite(t, fd)
	}
	want := map[int]Events{a: Readable | ReadHangup, c: Readable, e: ReadHangup}
	got := map[int]Events{}
	for i := 0; i < 3 && len(got) < len(want); i++ {
		for _, r := range wait(t, s, 5*time.Second) {
			got[r.FD] = r.Events
		}
	}
	for fd, ev := range want {
		if got[fd] != ev { // no Hangup: only half closed
			t.Errorf("fd %d: events = %v, want %v", fd, got[fd], ev)
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
	if !supports(t, s, server, Priority) {
		return
	}
	register(t, s, server, Priority, nil)
	waitNone(t, s)
	sendOOB(t, client)
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

// registeredPair opens a Selector and a socketpair (a, b) and registers a
// for ev, if the backend supports ev (ok; otherwise see supports).
func registeredPair(t *testing.T, open opener, ev Events) (s Selector, a, b int, ok bool) {
	t.Helper()
	s = mustOpen(t, open)
	a, b = socketpair(t)
	if !supports(t, s, a, ev) {
		return s, a, b, false
	}
	register(t, s, a, ev, nil)
	return s, a, b, true
}

// supports reports whether the backend accepts ev (Capabilities.Events); if
// it does not, it checks that Register refuses ev on fd with ErrUnsupported
// and registers nothing.
func supports(t *testing.T, s Selector, fd int, ev Events) bool {
	t.Helper()
	if s.Capabilities().Supports(ev) {
		return true
	}
	if err := s.Register(fd, ev, nil); !errors.Is(err, ErrUnsupported) {
		t.Errorf("%s Register(%v): %v, want ErrUnsupported", s.Backend(), ev, err)
	}
	if s.Len() != 0 {
		t.Errorf("Len = %d after refused Register, want 0", s.Len())
	}
	return false
}
