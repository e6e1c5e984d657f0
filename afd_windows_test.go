package iomux

import (
	"runtime"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/windows"
)

// TestAFDChurn: Modify and Unregister cancel a poll in flight, whose
// completion then comes late; after rounds of them only what is ready is
// reported, and Close waits for every cancelled poll (none left in flight,
// so the kernel writes to no memory the GC may have freed).
func TestAFDChurn(t *testing.T) {
	s := mustOpen(t, backendOpener("afd"))
	const n = 60
	rs, ws := make([]int, n), make([]int, n)
	for i := range n {
		rs[i], ws[i] = pipe(t)
		register(t, s, rs[i], Readable, i)
	}
	for round := range 6 {
		for i, r := range rs {
			ev := Readable
			if round%2 == 0 {
				ev |= Writable
			}
			if i%3 == 0 {
				if err := s.Unregister(r); err != nil {
					t.Fatal(err)
				}
				register(t, s, r, ev, i)
			} else if err := s.Modify(r, ev, i); err != nil {
				t.Fatal(err)
			}
		}
		// The cancelled polls are the kernel's until their completions are
		// dequeued: a collection now must not free them.
		runtime.GC()
		garbage = make([][]byte, 1000)
		for i := range garbage {
			garbage[i] = make([]byte, 160) // the size class of an op
		}
		wait(t, s, 0) // dequeues the cancelled polls' completions and the writers' readiness
	}
	for i, r := range rs {
		if err := s.Modify(r, Readable, i); err != nil {
			t.Fatal(err)
		}
	}
	write(t, ws[n/2], "x")
	got := map[int]bool{}
	for deadline := time.Now().Add(5 * time.Second); len(got) == 0 && time.Now().Before(deadline); {
		for _, r := range wait(t, s, time.Second) {
			got[r.FD] = true
		}
	}
	if len(got) != 1 || !got[rs[n/2]] {
		t.Errorf("reported %v, want only fd %d", got, rs[n/2])
	}
	m := s.(*selector).mech.(*afdMechanism)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if m.inflight != 0 {
		t.Errorf("%d polls still in flight after Close", m.inflight)
	}
}

// garbage is what TestAFDChurn allocates where freed ops would be.
var garbage [][]byte

// TestAFDSystemCancel: a poll the system cancels (as it does an exiting
// thread's I/O) is issued again, not taken for a closed socket.
func TestAFDSystemCancel(t *testing.T) {
	s := mustOpen(t, backendOpener("afd"))
	r, w := pipe(t)
	register(t, s, r, Readable, nil)
	m := s.(*selector).mech.(*afdMechanism)
	op := m.socks[r].op
	var iosb windows.IO_STATUS_BLOCK
	syscall.SyscallN(procNtCancelIoFileEx.Addr(), uintptr(m.helper), uintptr(unsafe.Pointer(&op.iosb)), uintptr(unsafe.Pointer(&iosb)))
	waitNone(t, s) // dequeues the cancellation
	write(t, w, "x")
	waitOne(t, s, r, Readable)
}
