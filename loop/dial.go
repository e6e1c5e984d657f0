package loop

import (
	"crypto/tls"
	"fmt"
	"time"

	"github.com/iomux/iomux/internal/sock"
)

// Dial connects to address ("tcp", "tcp4", "tcp6" or "unix") from a loop
// and returns the connection once it is established, after OnOpen ran. The
// connect is non-blocking (EINPROGRESS, then writability, then SO_ERROR);
// timeout bounds it (0: no limit but the OS's). Dial blocks its caller, so
// call it from outside the loops; handlers use DialAsync. The Conn is the
// loop's: use it from the caller only through its Async methods, and set
// its state in OnOpen (or use DialAsync).
func (s *Server) Dial(network, address string, timeout time.Duration) (*Conn, error) {
	return s.dialAndWait(network, address, timeout, nil)
}

// dialAndWait is Dial and DialTLS: dial, then wait for done.
func (s *Server) dialAndWait(network, address string, timeout time.Duration, config *tls.Config) (*Conn, error) {
	type result struct {
		c   *Conn
		err error
	}
	ch := make(chan result, 1)
	if err := s.dial(network, address, timeout, config, func(c *Conn, err error) { ch <- result{c, err} }); err != nil {
		return nil, err
	}
	r := <-ch
	return r.c, r.err
}

// DialAsync starts a connect and calls done on the chosen loop when it
// completes: with the Conn (after OnOpen, before the first OnData, so
// per-connection state set there is in place for the first reply) or
// with the error. Name resolution, if the address needs it, happens in
// the caller.
func (s *Server) DialAsync(network, address string, timeout time.Duration, done func(*Conn, error)) error {
	return s.dial(network, address, timeout, nil, done)
}

// dial is DialAsync and DialAsyncTLS (config set).
func (s *Server) dial(network, address string, timeout time.Duration, config *tls.Config, done func(*Conn, error)) error {
	if s.loops == nil {
		return fmt.Errorf("loop: Dial before Start")
	}
	switch network {
	case "tcp", "tcp4", "tcp6", "unix":
	default:
		return fmt.Errorf("loop: dial: unsupported network %q (want tcp, tcp4, tcp6 or unix)", network)
	}
	e, err := sock.Resolve(network, address)
	if err != nil {
		return fmt.Errorf("loop: dial %s %s: %w", network, address, err)
	}
	fd, err := sock.Open(e)
	if err != nil {
		return fmt.Errorf("loop: dial %s %s: %w", network, address, err)
	}
	s.tune(fd, !e.IsUnix())
	// Buffer sizes before connect: the SYN carries the window scale.
	err = sock.SetBuffers(fd, s.opts.SocketReadBuffer, s.opts.SocketWriteBuffer)
	if err == nil {
		_, err = sock.Connect(fd, e) // pending or connected: writability says which
	}
	if err != nil {
		sock.Close(fd)
		return fmt.Errorf("loop: dial %s %s: %w", network, address, err)
	}
	l := s.pick()
	wrapped := func(c *Conn, err error) {
		if err != nil {
			err = fmt.Errorf("loop: dial %s %s: %w", network, address, err)
		}
		done(c, err)
	}
	l.incoming.Add(1)
	if perr := l.post(func() { l.startDial(fd, e.Peer(), timeout, config, wrapped); l.incoming.Add(-1) }, false); perr != nil {
		l.incoming.Add(-1)
		sock.Close(fd)
		return perr
	}
	return nil
}

// startDial adopts a connecting socket: it waits for writability, with a
// timer for the timeout.
func (l *Loop) startDial(fd int, peer sock.Peer, timeout time.Duration, config *tls.Config, done func(*Conn, error)) {
	c := l.adopt(fd, peer, config, done)
	if c == nil || c.Closed() || timeout <= 0 {
		return
	}
	c.limits().deadline = l.now().Add(timeout)
	c.armTimeouts()
}

// finishDial runs when a connecting socket turns writable: SO_ERROR says
// whether the connect worked. A DialTLS then runs its handshake, which
// opens the connection and calls done when it ends.
func (c *Conn) finishDial() {
	if err := sock.ConnectError(int(c.fd)); err != nil {
		c.closeWith(err)
		return
	}
	done := c.dialing()
	c.flags &^= flagConnecting
	c.loop.stats.total.Add(1)
	if t := c.limitsIfSet(); t != nil {
		t.deadline = time.Time{}
		if c.loop.srv.opts.IdleTimeout == 0 && t.timer != nil {
			t.timer.Stop()
		}
	}
	c.updateInterest()
	if c.Closed() {
		return // closeWith told done
	}
	if config := c.extra.dialTLS; config != nil {
		c.extra.dialTLS = nil
		c.startTLS(config, false)
		c.handshake()
		return
	}
	c.extra.dialDone = nil
	c.loop.opened(c)
	if c.Closed() {
		done(nil, ErrClosed)
		return
	}
	done(c, nil)
}
