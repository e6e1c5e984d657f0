package loop

import (
	"errors"
	"fmt"
	"net"
	"os"
	"time"

	"github.com/iomux/iomux"
	"github.com/iomux/iomux/internal/sock"
)

// listener is a listening TCP or Unix-domain socket registered on a loop.
type listener struct {
	fd       int
	addr     net.Addr
	shared   bool   // its loop accepts for every loop (no balancing SO_REUSEPORT here)
	unixPath string // removed when the listener closes
	// newTransport makes its connections' Transports (ListenTLS); nil:
	// Options.Transport.
	newTransport func(Wire) Transport
}

type listenSpec struct {
	network, address string
	newTransport     func(Wire) Transport
}

// Listen adds an address to serve, before Start: network is "tcp", "tcp4",
// "tcp6", "unix" or "udp", "udp4", "udp6"; address as for net.Listen
// ("127.0.0.1:0" picks a free port; see Addrs). A UDP address needs a
// Handler that is also a PacketHandler. Listen checks the address (an
// unknown network, a malformed or unresolvable address fail here); the
// socket is bound by Start, so a port in use (EADDRINUSE, test with
// errors.Is(err, syscall.EADDRINUSE)) or a missing permission fails Start.
func (s *Server) Listen(network, address string) error {
	switch network {
	case "tcp", "tcp4", "tcp6", "unix":
	case "udp", "udp4", "udp6":
		if _, ok := s.handler.(PacketHandler); !ok {
			return fmt.Errorf("loop: listen %s %s: the Handler has no OnPacket method (see PacketHandler)", network, address)
		}
	default:
		return fmt.Errorf("loop: listen: unknown network %q (want tcp, tcp4, tcp6, unix, udp, udp4 or udp6)", network)
	}
	if s.loops != nil {
		return errors.New("loop: Listen after Start")
	}
	if _, err := sock.Resolve(network, address); err != nil {
		return fmt.Errorf("listen %s %s: %w", network, address, err)
	}
	s.specs = append(s.specs, listenSpec{network: network, address: address})
	return nil
}

// openListeners binds every Listen address: one socket per loop where
// SO_REUSEPORT balances connections (the kernel spreads them, no
// thundering herd), or one socket on loop 0 that hands them out. UDP
// addresses get one socket per loop likewise, or one on loop 0.
func (s *Server) openListeners() error {
	for _, spec := range s.specs {
		e, err := sock.Resolve(spec.network, spec.address)
		if err != nil {
			return fmt.Errorf("listen %s %s: %w", spec.network, spec.address, err)
		}
		count := 1
		if sock.ReusePortBalances && !e.IsUnix() && s.opts.Balance == BalanceByKernel {
			count = len(s.loops)
		}
		if count > 1 {
			// A SO_REUSEPORT group would join one that holds the port
			// already (another server's), and the kernel would split the
			// clients between them: first make sure the port is free.
			if e, err = s.claim(e); err != nil {
				return fmt.Errorf("listen %s %s: %w", spec.network, spec.address, err)
			}
		}
		for i := range count {
			fd, err := s.bind(e, count > 1)
			if err == nil {
				e, err = sock.Bound(fd, e) // later sockets bind the port the first one got
				if err != nil {
					sock.Close(fd)
				}
			}
			if err != nil {
				return fmt.Errorf("listen %s %s: %w", spec.network, spec.address, err)
			}
			if i == 0 {
				s.addrs = append(s.addrs, e.Addr())
			}
			l := s.loops[i]
			if e.IsDatagram() {
				err = l.addPacketConn(fd, e.Addr())
			} else {
				ln := &listener{fd: fd, addr: e.Addr(), shared: count == 1 && len(s.loops) > 1, newTransport: spec.newTransport}
				if e.IsUnix() {
					ln.unixPath = spec.address
				}
				err = l.addListener(ln)
			}
			if err != nil {
				return err
			}
		}
	}
	return nil
}

// claim checks that e's port is free by binding it without SO_REUSEPORT,
// and returns e with the port it got (for port 0). The probe is closed
// before the group binds: another program could take the port in between,
// or join the group later with SO_REUSEPORT of its own (Linux lets only
// the same user do that); another iomux server cannot, since it claims the
// port the same way.
func (s *Server) claim(e sock.Endpoint) (sock.Endpoint, error) {
	fd, err := sock.Open(e)
	if err != nil {
		return e, err
	}
	defer sock.Close(fd)
	if err := addressOptions(fd, e, false); err != nil {
		return e, err
	}
	if err := sock.Bind(fd, e); err != nil {
		return e, fmt.Errorf("claim the port (is another server on it?): %w", err)
	}
	return sock.Bound(fd, e)
}

// addressOptions sets how an IP socket shares its address: SO_REUSEADDR
// for TCP (a port in TIME_WAIT can be bound again; on UDP it would let
// another socket bind the same port), SO_REUSEPORT if asked, and
// dual-stack IPv6 unless the network asks for IPv6 alone.
func addressOptions(fd int, e sock.Endpoint, reusePort bool) error {
	if e.IsUnix() {
		return nil
	}
	if !e.IsDatagram() {
		if err := sock.SetReuseAddr(fd); err != nil {
			return err
		}
	}
	if reusePort {
		if err := sock.SetReusePort(fd); err != nil {
			return err
		}
	}
	if e.IsIPv6() {
		n := e.Network()
		_ = sock.SetV6Only(fd, n == "tcp6" || n == "udp6")
	}
	return nil
}

// bind opens a socket bound to e, listening if it is a stream socket.
func (s *Server) bind(e sock.Endpoint, reusePort bool) (int, error) {
	fd, err := sock.Open(e)
	if err != nil {
		return -1, err
	}
	if err := s.prepareBind(fd, e, reusePort); err != nil {
		sock.Close(fd)
		return -1, err
	}
	return fd, nil
}

// prepareBind sets what a listening or UDP socket needs before bind, binds
// it, and listens on a stream socket.
func (s *Server) prepareBind(fd int, e sock.Endpoint, reusePort bool) error {
	if err := addressOptions(fd, e, reusePort); err != nil {
		return err
	}
	// Buffer sizes go on the listening socket, before listen: accepted
	// sockets inherit them, and Linux derives the window scale it offers
	// in the SYN-ACK from the receive buffer, too early for a setsockopt
	// on the accepted socket to change.
	if err := sock.SetBuffers(fd, s.opts.SocketReadBuffer, s.opts.SocketWriteBuffer); err != nil {
		return err
	}
	if err := sock.Bind(fd, e); err != nil {
		return err
	}
	if e.IsDatagram() {
		return nil
	}
	return sock.Listen(fd, 4096)
}

// addListener registers a listener on its loop (before the loop runs).
func (l *Loop) addListener(ln *listener) error {
	l.listeners = append(l.listeners, ln)
	if err := l.register(ln.fd, iomux.Readable, ln); err != nil {
		return fmt.Errorf("register listener: %w", err)
	}
	return nil
}

// acceptSome accepts up to AcceptBatch connections, so a storm of new
// connections cannot starve the established ones.
func (ln *listener) acceptSome(l *Loop) {
	defer l.recovered(nil)
	s := l.srv
	for n := 0; n < s.opts.AcceptBatch || s.opts.AcceptBatch < 0; n++ {
		fd, peer, err := sock.Accept(ln.fd)
		switch {
		case err == nil:
		case sock.WouldBlock(err): // the listener is reported again while one is pending
			return
		case sock.Aborted(err):
			continue
		case sock.OutOfFiles(err):
			ln.backOff(l, err)
			return
		default:
			l.stats.AcceptErrors.Add(1)
			s.warn(l, "accept", "loop: accept failed", "addr", ln.addr, "err", os.NewSyscallError("accept", err))
			return
		}
		s.tune(fd, ln.unixPath == "")
		target := l
		if ln.shared {
			target = s.pick()
		}
		if target == l {
			l.adopt(fd, peer, ln.newTransport)
			continue
		}
		target.incoming.Add(1) // seen by LeastConnections before adopt runs
		if target.post(func() { target.adopt(fd, peer, ln.newTransport); target.incoming.Add(-1) }, false) != nil {
			target.incoming.Add(-1)
			sock.Close(fd)
		}
	}
}

// backOff handles EMFILE/ENFILE: the pending connection cannot be
// accepted, and the listener would be reported ready forever, so stop
// watching it for a while instead of spinning; it is retried when the
// timer fires, and served as soon as descriptors are free again.
func (ln *listener) backOff(l *Loop, err error) {
	l.stats.AcceptErrors.Add(1)
	l.srv.warn(l, "accept-emfile", "loop: accept failed, pausing accepts for 100ms (raise the open-file limit?)",
		"addr", ln.addr, "err", os.NewSyscallError("accept", err))
	if l.unregister(ln.fd) != nil {
		return
	}
	l.AfterFunc(100*time.Millisecond, func() {
		if ln.fd >= 0 && !l.stopping {
			_ = l.register(ln.fd, iomux.Readable, ln)
		}
	})
}

func (ln *listener) close(l *Loop) {
	if ln.fd < 0 {
		return
	}
	_ = l.unregister(ln.fd)
	sock.Close(ln.fd)
	ln.fd = -1
	if ln.unixPath != "" && ln.unixPath[0] != '@' {
		os.Remove(ln.unixPath)
	}
}

// tune sets the socket options of an accepted or dialed connection. The
// buffer sizes are not among them: accepted sockets inherit them from the
// listener, and Dial sets them before connect.
func (s *Server) tune(fd int, inet bool) {
	o := &s.opts
	if !inet {
		return
	}
	if !o.TCPDelay {
		_ = sock.SetNoDelay(fd, true)
	}
	if o.KeepAlive > 0 {
		_ = sock.SetKeepAlive(fd, o.KeepAlive)
	}
}
