package iomux

import "fmt"

// registration is what a Selector remembers about one fd. State only one
// backend needs (poll's pollfd slot, kqueue's merge index) is that
// backend's own.
type registration struct {
	data   any
	events Events
	used   bool
}

// registry is the fd → registration bookkeeping every backend shares.
// Descriptors are small dense integers, so a slice indexed by fd beats a
// map on the Wait path.
type registry struct {
	regs  []registration
	count int
}

func (r *registry) lookup(fd int) *registration {
	if fd >= 0 && fd < len(r.regs) && r.regs[fd].used {
		return &r.regs[fd]
	}
	return nil
}

// add records a validated registration of an fd not yet registered. The
// caller then makes the OS call and drops it if that fails, so the map
// never lies.
func (r *registry) add(fd int, ev Events, data any) {
	r.regs = growFD(r.regs, fd)
	r.regs[fd] = registration{events: ev, data: data, used: true}
	r.count++
}

func (r *registry) drop(fd int) {
	r.regs[fd] = registration{}
	r.count--
}

// get finds the registration a Modify or Unregister (op) works on.
func (r *registry) get(op string, fd int) (*registration, error) {
	reg := r.lookup(fd)
	if reg == nil {
		return nil, fmt.Errorf("%s fd %d: %w", op, fd, ErrNotRegistered)
	}
	return reg, nil
}

// report turns the raw readiness a mechanism wrote into ready into what the
// caller sees, in place: masked by deliver, with the registration's data.
// The wake-up fd's entry, an fd unregistered since the OS queued it, and
// one with nothing left once masked are dropped. It returns how many
// entries are left and whether the wake-up fd was among them.
func (r *registry) report(ready []Ready, wake int) (n int, woken bool) {
	for _, raw := range ready {
		if raw.FD == wake {
			woken = true
			continue
		}
		reg := r.lookup(raw.FD)
		if reg == nil {
			continue
		}
		ev := deliver(raw.Events, reg.events)
		if ev == 0 {
			continue // e.g. kqueue's read filter firing for data, when only ReadHangup was asked
		}
		ready[n] = Ready{FD: raw.FD, Events: ev, Data: reg.data}
		n++
	}
	return n, woken
}

// maxFD is the largest descriptor number there can be: the kernel's are
// C ints.
const maxFD = 1<<31 - 1

// validate checks the fd and events given to Register or Modify (op)
// against what the backend accepts.
func validate(b *backend, op string, fd int, ev Events) error {
	if fd < 0 || fd > maxFD {
		return fmt.Errorf("%s fd %d: want 0 to %d: %w", op, fd, maxFD, ErrBadFD)
	}
	if err := b.fits(op, fd); err != nil {
		return err
	}
	if ev&interestMask == 0 {
		return fmt.Errorf("%s fd %d: %v asks for no condition (want Readable, Writable, Priority or ReadHangup): %w", op, fd, ev, ErrBadEvents)
	}
	if unknown := ev &^ (interestMask | alwaysMask | modifierMask); unknown != 0 {
		return fmt.Errorf("%s fd %d: unknown bits %#x: %w", op, fd, uint32(unknown), ErrBadEvents)
	}
	if extra := ev & (interestMask | modifierMask) &^ b.caps.Events; extra != 0 {
		return fmt.Errorf("%s fd %d: %s has no %v: %w", op, fd, b.name, extra, ErrUnsupported)
	}
	return nil
}

// deliver turns raw readiness into what the caller sees: Error and Hangup
// count as Readable and Writable (so the next read or write meets the real
// error or EOF), then everything is masked to what was asked, plus the
// conditions that are always reported.
func deliver(raw, asked Events) Events {
	if raw&(Error|Hangup) != 0 {
		raw |= Readable | Writable
	}
	return raw & (asked&interestMask | alwaysMask)
}

// growFD returns s, or a copy of it, long enough to be indexed by fd. The
// registry and the backends' own per-fd state grow alike: at least
// doubling, so registering n fds copies O(n) in all.
func growFD[T any](s []T, fd int) []T {
	if fd < len(s) {
		return s
	}
	grown := make([]T, max(2*len(s), fd+1, 64))
	copy(grown, s)
	return grown
}
