//go:build darwin || dragonfly || freebsd || netbsd || openbsd

package iomux

import (
	"errors"
	"fmt"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// kqueueBackend is the BSDs' and macOS's best. The kernel keeps one filter
// per direction (EVFILT_READ, EVFILT_WRITE); wait merges the two events of
// one fd into one Ready.
var kqueueBackend = backend{
	name: "kqueue",
	caps: Capabilities{
		Events:       Readable | Writable | ReadHangup | EdgeTriggered | OneShot,
		PeerClosed:   Readable, // EV_EOF on the read filter: ReadHangup, if asked
		ReaderClosed: Writable | Hangup,
		ClosedFD:     ClosedForgotten,
		RegularFile:  Readable, // EVFILT_WRITE on files is not portable
	},
	open: openKqueue,
}

type kqueueMechanism struct {
	kq      int
	events  []unix.Kevent_t // reused by every Wait: no allocation per call
	changes [1]unix.Kevent_t
	placed  []int32 // by fd: the index in ready of its entry, if this Wait wrote one
}

func openKqueue() (mechanism, error) {
	kq, err := unix.Kqueue()
	if err != nil {
		return nil, os.NewSyscallError("kqueue", err)
	}
	unix.CloseOnExec(kq)
	return &kqueueMechanism{kq: kq}, nil
}

// set implements mechanism. A filter already gone (a fired OneShot, ENOENT;
// a closed fd, EBADF, on Unregister) is not an error.
func (m *kqueueMechanism) set(fd int, old, ev Events) error {
	if old == 0 {
		m.placed = growFD(m.placed, fd)
	}
	err := m.apply(fd, old, ev)
	switch {
	case err == nil:
		return nil
	case old == 0:
		_ = m.apply(fd, ev, 0) // a filter added before the failure must go too
	case errors.Is(err, unix.ENOENT), ev == 0 && errors.Is(err, unix.EBADF):
		return nil
	}
	return err
}

// filters says which kernel filters a registration needs. ReadHangup is
// seen as EV_EOF on the read filter, so it needs that filter too.
func filters(ev Events) (read, write bool) {
	return ev&(Readable|ReadHangup) != 0, ev&Writable != 0
}

// apply moves the kernel from the filters of old to those of ev. Each change
// is its own kevent call: with no room for receipts, kevent stops at the
// first failing change, so a delete of a filter already gone (a fired
// OneShot, ENOENT) would silently skip the add or delete after it. Such a
// delete is not an error.
func (m *kqueueMechanism) apply(fd int, old, ev Events) error {
	flags := unix.EV_ADD | unix.EV_ENABLE
	if ev&EdgeTriggered != 0 {
		flags |= unix.EV_CLEAR
	}
	if ev&OneShot != 0 {
		flags |= unix.EV_ONESHOT
	}
	oldR, oldW := filters(old)
	newR, newW := filters(ev)
	for _, f := range []struct {
		filter   int
		was, now bool
	}{{unix.EVFILT_READ, oldR, newR}, {unix.EVFILT_WRITE, oldW, newW}} {
		change := m.changes[:1]
		switch {
		case f.now:
			unix.SetKevent(&change[0], fd, f.filter, flags)
		case f.was:
			unix.SetKevent(&change[0], fd, f.filter, unix.EV_DELETE)
		default:
			continue
		}
		if _, err := unix.Kevent(m.kq, change, nil, nil); err != nil {
			if !f.now && err == unix.ENOENT {
				continue
			}
			return fmt.Errorf("kevent fd %d: %w", fd, os.NewSyscallError("kevent", err))
		}
	}
	return nil
}

func timespec(d time.Duration) *unix.Timespec {
	if d < 0 {
		return nil
	}
	ts := unix.NsecToTimespec(int64(d))
	return &ts
}

// wait implements mechanism.
func (m *kqueueMechanism) wait(timeout time.Duration, ready []Ready) (int, error) {
	if cap(m.events) < len(ready) {
		m.events = make([]unix.Kevent_t, len(ready))
	}
	n, err := unix.Kevent(m.kq, nil, m.events[:len(ready)], timespec(timeout))
	if err == unix.EINTR {
		return 0, nil
	}
	if err != nil {
		return 0, os.NewSyscallError("kevent", err)
	}
	filled := 0
	for i := range m.events[:n] {
		k := &m.events[i]
		fd := int(k.Ident)
		// Every fd came through set, which made room for it in placed. An
		// index below filled that holds fd is this Wait's entry for it: the
		// fd's other filter fired too.
		if at := m.placed[fd]; int(at) < filled && ready[at].FD == fd {
			ready[at].Events |= fromKevent(k)
			continue
		}
		m.placed[fd] = int32(filled)
		ready[filled] = Ready{FD: fd, Events: fromKevent(k)}
		filled++
	}
	return filled, nil
}

// fromKevent is the raw readiness one kernel event reports.
func fromKevent(k *unix.Kevent_t) Events {
	eof := k.Flags&unix.EV_EOF != 0
	switch {
	case k.Flags&unix.EV_ERROR != 0:
		return Error
	case int(k.Filter) == unix.EVFILT_READ && eof:
		return Readable | ReadHangup
	case int(k.Filter) == unix.EVFILT_READ:
		return Readable
	case int(k.Filter) == unix.EVFILT_WRITE && eof:
		return Writable | Hangup
	case int(k.Filter) == unix.EVFILT_WRITE:
		return Writable
	}
	return 0
}

func (m *kqueueMechanism) close() error { return unix.Close(m.kq) }
