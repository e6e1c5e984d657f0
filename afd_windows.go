package iomux

import (
	"errors"
	"fmt"
	"math"
	"os"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/windows"
)

// afdBackend is Windows' best, the "auto" choice: readiness through the
// Ancillary Function Driver under Winsock, as libuv's fast poll and wepoll
// use it. Each socket has one IOCTL_AFD_POLL in flight, issued on an AFD
// helper handle for the socket's base handle (SIO_BASE_HANDLE) and
// completed on an I/O completion port, so a Wait dequeues only what is
// ready: O(ready), with no limit. Level-triggered by re-issuing the poll of
// each socket reported, at the next Wait; OneShot by not re-issuing it
// until Modify. Wake posts to the port (PostQueuedCompletionStatus).
// A peer's close reads as Readable (plus ReadHangup if asked), a reset as
// Hangup, a failed connect as Error. IOCTL_AFD_POLL is not a documented
// API; its shape is what wepoll and libuv rely on (see README).
var afdBackend = backend{
	name: "afd",
	caps: Capabilities{
		Events:       afdBits.accepts() | OneShot, // OneShot has no AFD bit: the poll is not issued again until Modify
		PeerClosed:   Readable,
		ReaderClosed: Writable,
		ClosedFD:     ClosedForgotten,
		RegularFile:  0, // refused: not a socket
	},
	open: openAFD,
}

// AFD's poll events (the AFD_POLL_* of wepoll's afd.h).
const (
	afdReceive     = 0x0001
	afdExpedited   = 0x0002
	afdSend        = 0x0004
	afdDisconnect  = 0x0008
	afdAbort       = 0x0010
	afdLocalClose  = 0x0020
	afdAccept      = 0x0080
	afdConnectFail = 0x0100

	ioctlAFDPoll  = 0x00012024
	sioBaseHandle = 0x48000022
)

// afdBits maps conditions to AFD's bits both ways: a readable socket is
// one with data, a connection to accept or the peer's FIN (EOF is read).
var afdBits = bitTable[uint32]{
	{Readable, afdReceive | afdAccept | afdDisconnect}, {ReadHangup, afdDisconnect},
	{Writable, afdSend}, {Priority, afdExpedited}, {Hangup, afdAbort}, {Error, afdConnectFail},
}

// afdAlways is what every poll asks besides: errors and a local close.
const afdAlways = afdAbort | afdConnectFail | afdLocalClose

// afdPollInfo is AFD_POLL_INFO with one AFD_POLL_HANDLE_INFO.
type afdPollInfo struct {
	timeout   int64
	count     uint32
	exclusive uint32
	handle    windows.Handle
	events    uint32
	status    windows.NTStatus
}

// afdOp is one IOCTL_AFD_POLL: memory the kernel writes until its
// completion is dequeued, so it is kept (in afdSock.op, or in flight after
// a cancel) until then, and reused after.
type afdOp struct {
	iosb windows.IO_STATUS_BLOCK // first: the completion's lpOverlapped is the op
	info afdPollInfo
	sock *afdSock // nil once its socket is unregistered or the poll superseded
}

// afdSock is one registered socket.
type afdSock struct {
	fd   int
	base windows.Handle
	ev   Events
	op   *afdOp // the poll in flight, if any
}

// overlappedEntry is OVERLAPPED_ENTRY.
type overlappedEntry struct {
	key        uintptr
	overlapped *afdOp
	internal   uintptr
	bytes      uint32
}

type afdMechanism struct {
	port     windows.Handle // the completion port; the wake-up's once adopted
	adopted  bool
	helper   windows.Handle // \Device\Afd, on which the polls are issued
	wakeFD   int            // the kit's wake-up fd: woken by posts, never polled
	socks    []*afdSock     // by fd
	rearm    []*afdSock     // reported by the last Wait, level-triggered: poll again
	all      []*afdOp       // every op made: the kernel's references do not keep one alive
	free     []*afdOp
	inflight int
	entries  []overlappedEntry
}

func openAFD() (mechanism, error) {
	port, err := windows.CreateIoCompletionPort(windows.InvalidHandle, 0, 0, 0)
	if err != nil {
		return nil, os.NewSyscallError("CreateIoCompletionPort", err)
	}
	m := &afdMechanism{port: port, wakeFD: -1, entries: make([]overlappedEntry, 256)}
	name, _ := windows.NewNTUnicodeString(`\Device\Afd\iomux`)
	oa := windows.OBJECT_ATTRIBUTES{ObjectName: name}
	oa.Length = uint32(unsafe.Sizeof(oa))
	var iosb windows.IO_STATUS_BLOCK
	err = windows.NtCreateFile(&m.helper, windows.SYNCHRONIZE, &oa, &iosb, nil, 0,
		windows.FILE_SHARE_READ|windows.FILE_SHARE_WRITE, windows.FILE_OPEN, 0, 0, 0)
	if err != nil {
		windows.CloseHandle(port)
		return nil, os.NewSyscallError("NtCreateFile \\Device\\Afd", err)
	}
	if _, err := windows.CreateIoCompletionPort(m.helper, port, 0, 0); err != nil {
		windows.CloseHandle(m.helper)
		windows.CloseHandle(port)
		return nil, os.NewSyscallError("CreateIoCompletionPort", err)
	}
	return m, nil
}

// set implements mechanism. The first set is the kit's wake-up: it is
// handed the port to post to instead of being polled. Register and Modify
// check that fd is (still) a socket and poll it at once; Unregister and
// Modify cancel the poll in flight, whose completion is then dropped.
func (m *afdMechanism) set(fd int, old, ev Events) error {
	if old == 0 && m.wakeFD < 0 {
		w, ok := wakeups.Load(fd)
		if !ok {
			return fmt.Errorf("afd fd %d: not a wake-up socket", fd)
		}
		w.(*wakeup).usePort(m.port)
		m.wakeFD, m.adopted = fd, true
		return nil
	}
	if ev != 0 {
		if err := checkSocket("afd", fd); err != nil {
			return err
		}
	}
	var s *afdSock
	if fd < len(m.socks) {
		s = m.socks[fd] // nil if forgotten since (closed, or its poll failed)
	}
	switch {
	case s == nil && ev != 0:
		var base windows.Handle
		var n uint32
		err := windows.WSAIoctl(socket(fd), sioBaseHandle, nil, 0, (*byte)(unsafe.Pointer(&base)), uint32(unsafe.Sizeof(base)), &n, nil, 0)
		if err != nil {
			return fmt.Errorf("afd SIO_BASE_HANDLE fd %d: %w", fd, os.NewSyscallError("afd WSAIoctl", err))
		}
		s = &afdSock{fd: fd, base: base, ev: ev}
		if err := m.poll(s); err != nil {
			return err
		}
		m.socks = growFD(m.socks, fd)
		m.socks[fd] = s
	case s == nil: // unregistering a forgotten socket
	case ev == 0:
		m.socks[fd] = nil
		m.cancel(s)
	default:
		m.cancel(s)
		prev := s.ev
		s.ev = ev
		if err := m.poll(s); err != nil {
			s.ev = prev
			m.poll(s) // as it was, as far as the OS lets us
			return err
		}
	}
	return nil
}

// poll issues s's IOCTL_AFD_POLL. It completes on the port, at once if s is
// ready already.
func (m *afdMechanism) poll(s *afdSock) error {
	var op *afdOp
	if n := len(m.free); n > 0 {
		op, m.free = m.free[n-1], m.free[:n-1]
	} else {
		op = new(afdOp)
		m.all = append(m.all, op)
	}
	op.sock = s
	op.iosb = windows.IO_STATUS_BLOCK{Status: windows.STATUS_PENDING}
	op.info = afdPollInfo{timeout: math.MaxInt64, count: 1, handle: s.base, events: afdBits.toOS(s.ev) | afdAlways}
	size := unsafe.Sizeof(op.info)
	r, _, _ := syscall.SyscallN(procNtDeviceIoControlFile.Addr(), uintptr(m.helper), 0, 0,
		uintptr(unsafe.Pointer(op)), uintptr(unsafe.Pointer(&op.iosb)), ioctlAFDPoll,
		uintptr(unsafe.Pointer(&op.info)), size, uintptr(unsafe.Pointer(&op.info)), size)
	if st := windows.NTStatus(r); st != windows.STATUS_SUCCESS && st != windows.STATUS_PENDING {
		op.sock = nil
		m.free = append(m.free, op)
		return fmt.Errorf("afd IOCTL_AFD_POLL fd %d: %w", s.fd, os.NewSyscallError("afd NtDeviceIoControlFile", st.Errno()))
	}
	s.op = op
	m.inflight++
	return nil
}

// cancel cancels s's poll in flight, if any; its completion still comes,
// and is dropped.
func (m *afdMechanism) cancel(s *afdSock) {
	if s.op == nil {
		return
	}
	var iosb windows.IO_STATUS_BLOCK
	syscall.SyscallN(procNtCancelIoFileEx.Addr(), uintptr(m.helper), uintptr(unsafe.Pointer(&s.op.iosb)), uintptr(unsafe.Pointer(&iosb)))
	s.op.sock = nil
	s.op = nil
}

// wait implements mechanism: it polls again what the last Wait reported
// (level-triggered), then dequeues up to len(ready) completions.
func (m *afdMechanism) wait(timeout time.Duration, ready []Ready) (int, error) {
	for _, s := range m.rearm {
		if s.fd < len(m.socks) && m.socks[s.fd] == s && s.op == nil {
			if err := m.poll(s); err != nil {
				m.socks[s.fd] = nil // closed since: forgotten, as ClosedForgotten says
			}
		}
	}
	clear(m.rearm)
	m.rearm = m.rearm[:0]
	n, err := m.dequeue(min(len(ready), len(m.entries)), uint32(millis(timeout))) // -1: INFINITE
	if err != nil {
		return 0, err
	}
	filled := 0
	for _, e := range m.entries[:n] {
		if e.key == wakeKey {
			ready[filled] = Ready{FD: m.wakeFD, Events: Readable}
			filled++
			continue
		}
		op := e.overlapped
		s, status, bits := op.sock, op.iosb.Status, op.info.events
		m.inflight--
		op.sock = nil
		m.free = append(m.free, op)
		if s == nil || s.op != op {
			continue // cancelled: unregistered or superseded
		}
		s.op = nil
		if status == windows.STATUS_CANCELLED {
			// Not by us (ours are dropped above): the system cancelled it,
			// as it does an exiting thread's I/O. Poll again.
			m.rearm = append(m.rearm, s)
			continue
		}
		if status != windows.STATUS_SUCCESS || bits&afdLocalClose != 0 {
			m.socks[s.fd] = nil // closed without Unregister: forgotten
			continue
		}
		ev := afdBits.fromOS(bits)
		if s.ev&OneShot == 0 {
			m.rearm = append(m.rearm, s)
		}
		if ev == 0 {
			continue
		}
		ready[filled] = Ready{FD: s.fd, Events: ev}
		filled++
	}
	return filled, nil
}

// dequeue is GetQueuedCompletionStatusEx into m.entries: how many it got,
// 0 on a timeout.
func (m *afdMechanism) dequeue(max int, ms uint32) (int, error) {
	var n uint32
	r, _, err := syscall.SyscallN(procGetQueuedCompletionStatusEx.Addr(), uintptr(m.port),
		uintptr(unsafe.Pointer(&m.entries[0])), uintptr(max), uintptr(unsafe.Pointer(&n)), uintptr(ms), 0)
	if r == 0 {
		if errors.Is(err, windows.WAIT_TIMEOUT) {
			return 0, nil
		}
		return 0, os.NewSyscallError("GetQueuedCompletionStatusEx", err)
	}
	return int(n), nil
}

// close implements mechanism: closing the helper cancels every poll; their
// completions are waited for (up to a second), since until then the kernel
// may write to their memory. The port is the wake-up's to close once it
// was adopted.
func (m *afdMechanism) close() error {
	err := windows.CloseHandle(m.helper)
	for deadline := time.Now().Add(time.Second); m.inflight > 0 && time.Now().Before(deadline); {
		n, derr := m.dequeue(len(m.entries), 100)
		if derr != nil {
			break
		}
		for _, e := range m.entries[:n] {
			if e.key != wakeKey {
				m.inflight--
			}
		}
	}
	if m.inflight > 0 {
		afdAbandoned = append(afdAbandoned, m.all) // keep the ops' memory: never freed
	}
	if !m.adopted {
		windows.CloseHandle(m.port)
	}
	m.socks, m.rearm, m.free, m.all = nil, nil, nil, nil
	return os.NewSyscallError("CloseHandle", err)
}

// afdAbandoned keeps what a Selector's polls may still write to when their
// cancellation did not complete within close's second.
var afdAbandoned [][]*afdOp
