package loop

import (
	"fmt"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// Dial connects to address ("tcp", "tcp4", "tcp6" or "unix") from a loop
// and returns the connection once it is established, after OnOpen ran. The
// connect is non-blocking (EINPROGRESS, then writability, then SO_ERROR);
// timeout bounds it (0: no limit but the OS's). Dial blocks its caller, so
// call it from outside the loops; handlers use DialAsync.
func (s *Server) Dial(network, address string, timeout time.Duration) (*Conn, error) {
	type result struct {
		c   *Conn
		err error
	}
	ch := make(chan result, 1)
	if err := s.DialAsync(network, address, timeout, func(c *Conn, err error) { ch <- result{c, err} }); err != nil {
		return nil, err
	}
	r := <-ch
	return r.c, r.err
}

// DialAsync starts a connect and calls done on the chosen loop when it
// completes: with the Conn (after OnOpen) or with the error. Name
// resolution, if the address needs it, happens in the caller.
func (s *Server) DialAsync(network, address string, timeout time.Duration, done func(*Conn, error)) error {
	if s.loops == nil {
		return fmt.Errorf("loop: Dial before Start")
	}
	switch network {
	case "tcp", "tcp4", "tcp6", "unix":
	default:
		return fmt.Errorf("loop: dial: unsupported network %q (want tcp, tcp4, tcp6 or unix)", network)
	}
	family, typ, sa, err := resolve(network, address)
	if err != nil {
		return fmt.Errorf("loop: dial %s %s: %w", network, address, err)
	}
	fd, err := socket(family, typ)
	if err != nil {
		return os.NewSyscallError("socket", err)
	}
	s.tune(fd, family != unix.AF_UNIX)
	if err := s.setBuffers(fd); err != nil { // before connect: the SYN carries the window scale
		unix.Close(fd)
		return os.NewSyscallError("setsockopt", err)
	}
	err = unix.Connect(fd, sa)
	// EINPROGRESS (and EINTR) mean the connect goes on; EAGAIN does not
	// (a Unix listener's full backlog, no free local port): it failed.
	if err != nil && err != unix.EINPROGRESS && err != unix.EINTR {
		unix.Close(fd)
		return fmt.Errorf("loop: dial %s %s: %w", network, address, os.NewSyscallError("connect", err))
	}
	l := s.pick()
	wrapped := func(c *Conn, err error) {
		if err != nil {
			err = fmt.Errorf("loop: dial %s %s: %w", network, address, err)
		}
		done(c, err)
	}
	l.incoming.Add(1)
	if perr := l.Post(func() { l.startDial(fd, sa, timeout, wrapped); l.incoming.Add(-1) }); perr != nil {
		l.incoming.Add(-1)
		unix.Close(fd)
		return perr
	}
	return nil
}

// startDial adopts a connecting socket: it waits for writability, with a
// timer for the timeout.
func (l *Loop) startDial(fd int, sa unix.Sockaddr, timeout time.Duration, done func(*Conn, error)) {
	c := l.adopt(fd, peerOf(sa), done)
	if c == nil || c.Closed() || timeout <= 0 {
		return
	}
	c.limits().deadline = l.now().Add(timeout)
	c.armTimeouts()
}

// finishDial runs when a connecting socket turns writable: SO_ERROR says
// whether the connect worked.
func (c *Conn) finishDial() {
	soerr, err := unix.GetsockoptInt(c.fd, unix.SOL_SOCKET, unix.SO_ERROR)
	if err == nil && soerr != 0 {
		err = unix.Errno(soerr)
	}
	if err != nil {
		c.closeWith(os.NewSyscallError("connect", err))
		return
	}
	done := c.dialing()
	c.extra.dialDone = nil
	c.flags &^= flagConnecting
	c.loop.stats.total.Add(1)
	if t := c.limitsSet(); t != nil {
		t.deadline = time.Time{}
		if c.loop.srv.opts.IdleTimeout == 0 && t.timer != nil {
			t.timer.Stop()
		}
	}
	c.updateInterest()
	if c.Closed() {
		done(nil, ErrClosed)
		return
	}
	c.loop.opened(c)
	if c.Closed() {
		done(nil, ErrClosed)
		return
	}
	done(c, nil)
}
