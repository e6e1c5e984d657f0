package loop

import (
	"errors"
	"fmt"
	"net"
	"os"
	"time"

	"github.com/iomux/iomux"
	"golang.org/x/sys/unix"
)

// listener is a listening (or, for UDP, bound) socket registered on a loop.
type listener struct {
	fd       int
	network  string // as given to Listen
	addr     net.Addr
	shared   bool // its loop accepts for every loop (no SO_REUSEPORT here)
	unixPath string
	udp      *Conn // the UDP socket's Conn
}

type listenSpec struct{ network, address string }

// Listen adds an address to serve, before Start: network is "tcp", "tcp4",
// "tcp6", "unix" or "udp", "udp4", "udp6"; address as for net.Listen
// ("127.0.0.1:0" picks a free port; see Addrs).
func (s *Server) Listen(network, address string) error {
	switch network {
	case "tcp", "tcp4", "tcp6", "unix", "udp", "udp4", "udp6":
	default:
		return fmt.Errorf("loop: listen: unknown network %q (want tcp, tcp4, tcp6, unix, udp, udp4 or udp6)", network)
	}
	if s.loops != nil {
		return errors.New("loop: Listen after Start")
	}
	s.specs = append(s.specs, listenSpec{network, address})
	return nil
}

// resolve turns a network address into a socket family, type and address.
func resolve(network, address string) (family, typ int, sa unix.Sockaddr, err error) {
	switch network {
	case "unix":
		return unix.AF_UNIX, unix.SOCK_STREAM, &unix.SockaddrUnix{Name: address}, nil
	case "udp", "udp4", "udp6":
		a, err := net.ResolveUDPAddr(network, address)
		if err != nil {
			return 0, 0, nil, err
		}
		family, sa = ipSockaddr(a.IP, a.Port, a.Zone, network)
		return family, unix.SOCK_DGRAM, sa, nil
	}
	a, err := net.ResolveTCPAddr(network, address)
	if err != nil {
		return 0, 0, nil, err
	}
	family, sa = ipSockaddr(a.IP, a.Port, a.Zone, network)
	return family, unix.SOCK_STREAM, sa, nil
}

func ipSockaddr(ip net.IP, port int, zone, network string) (int, unix.Sockaddr) {
	if ip4 := ip.To4(); ip4 != nil && network[len(network)-1] != '6' {
		sa := &unix.SockaddrInet4{Port: port}
		copy(sa.Addr[:], ip4)
		return unix.AF_INET, sa
	}
	if ip == nil && network[len(network)-1] == '4' {
		return unix.AF_INET, &unix.SockaddrInet4{Port: port}
	}
	sa := &unix.SockaddrInet6{Port: port}
	copy(sa.Addr[:], ip.To16())
	if zone != "" {
		if ifi, err := net.InterfaceByName(zone); err == nil {
			sa.ZoneId = uint32(ifi.Index)
		}
	}
	return unix.AF_INET6, sa
}

// openListeners binds every Listen address: one socket per loop with
// SO_REUSEPORT (the kernel spreads connections, no thundering herd), or one
// socket on loop 0 that hands connections out.
func (s *Server) openListeners() error {
	for _, spec := range s.specs {
		family, typ, sa, err := resolve(spec.network, spec.address)
		if err != nil {
			return fmt.Errorf("loop: listen %s %s: %w", spec.network, spec.address, err)
		}
		count := 1
		if reusePort != 0 && family != unix.AF_UNIX && !s.opts.SharedAcceptor {
			count = len(s.loops)
		}
		for i := range count {
			ln, err := s.bind(spec, family, typ, sa, count > 1)
			if err != nil {
				return fmt.Errorf("loop: listen %s %s: %w", spec.network, spec.address, err)
			}
			sa, _ = unix.Getsockname(ln.fd) // later sockets bind the port the first one got
			if i == 0 {
				s.addrs = append(s.addrs, ln.addr)
			}
			ln.shared = count == 1 && typ == unix.SOCK_STREAM && len(s.loops) > 1
			l := s.loops[i]
			if err := l.addListener(ln); err != nil {
				return err
			}
		}
	}
	return nil
}

func (s *Server) bind(spec listenSpec, family, typ int, sa unix.Sockaddr, reuse bool) (*listener, error) {
	fd, err := socket(family, typ)
	if err != nil {
		return nil, os.NewSyscallError("socket", err)
	}
	fail := func(call string, err error) (*listener, error) {
		unix.Close(fd)
		return nil, os.NewSyscallError(call, err)
	}
	if family != unix.AF_UNIX {
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1); err != nil {
			return fail("setsockopt SO_REUSEADDR", err)
		}
		if reuse {
			if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, reusePort, 1); err != nil {
				return fail("setsockopt SO_REUSEPORT", err)
			}
		}
		if family == unix.AF_INET6 {
			v6only := 0
			if spec.network == "tcp6" || spec.network == "udp6" {
				v6only = 1
			}
			_ = unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_V6ONLY, v6only)
		}
	}
	// Buffer sizes go on the listening socket, before listen: accepted
	// sockets inherit them, and Linux derives the window scale it offers
	// in the SYN-ACK from the receive buffer, too early for a setsockopt
	// on the accepted socket to change.
	if err := s.setBuffers(fd); err != nil {
		return fail("setsockopt", err)
	}
	if err := unix.Bind(fd, sa); err != nil {
		return fail("bind", err)
	}
	ln := &listener{fd: fd, network: spec.network}
	if family == unix.AF_UNIX {
		ln.unixPath = spec.address
	}
	if typ == unix.SOCK_STREAM {
		if err := unix.Listen(fd, 4096); err != nil {
			return fail("listen", err)
		}
	}
	if bound, err := unix.Getsockname(fd); err == nil {
		ln.addr = sockaddrToAddr(bound, typ == unix.SOCK_DGRAM)
	}
	return ln, nil
}

// addListener registers a listener on its loop (before the loop runs).
func (l *Loop) addListener(ln *listener) error {
	l.listeners = append(l.listeners, ln)
	if isUDP(ln.network) {
		ln.udp = &Conn{loop: l, fd: ln.fd, flags: flagUDP}
		ln.udp.updateInterest()
		if ln.udp.Closed() {
			return fmt.Errorf("loop: register udp socket on loop %d failed", l.index)
		}
		return nil
	}
	if err := l.register(ln.fd, iomux.Readable, ln); err != nil {
		return fmt.Errorf("loop: register listener: %w", err)
	}
	return nil
}

func isUDP(network string) bool { return len(network) >= 3 && network[:3] == "udp" }

// acceptSome accepts up to AcceptBatch connections, so a storm of new
// connections cannot starve the established ones.
func (ln *listener) acceptSome(l *Loop) {
	s := l.srv
	for range s.opts.AcceptBatch {
		fd, peer, err := accept(ln.fd)
		switch {
		case err == unix.EAGAIN:
			return
		case err == unix.EINTR || err == unix.ECONNABORTED:
			continue
		case err == unix.EMFILE || err == unix.ENFILE:
			ln.backOff(l, err)
			return
		case err != nil:
			l.stats.acceptErrors.Add(1)
			s.warn(l, "accept", "loop: accept failed", "addr", ln.addr, "err", err)
			return
		}
		s.tune(fd, ln.unixPath == "")
		target := l
		if ln.shared {
			target = s.pick()
		}
		if target == l {
			l.adopt(fd, peer, nil)
			continue
		}
		target.incoming.Add(1) // seen by LeastConnections before adopt runs
		if target.Post(func() { target.adopt(fd, peer, nil); target.incoming.Add(-1) }) != nil {
			target.incoming.Add(-1)
			unix.Close(fd)
		}
	}
}

// backOff handles EMFILE/ENFILE: the pending connection cannot be
// accepted, and the listener would be reported ready forever, so stop
// watching it for a while instead of spinning; it is retried when the
// timer fires, and served as soon as descriptors are free again.
func (ln *listener) backOff(l *Loop, err error) {
	l.stats.acceptErrors.Add(1)
	l.srv.warn(l, "accept-emfile", "loop: accept failed, pausing accepts for 100ms (raise the open-file limit?)", "addr", ln.addr, "err", err)
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
	if ln.udp != nil {
		ln.udp.CloseNow()
	} else {
		_ = l.unregister(ln.fd)
		unix.Close(ln.fd)
	}
	ln.fd = -1
	if ln.unixPath != "" && ln.unixPath[0] != '@' {
		os.Remove(ln.unixPath)
	}
}

// tune sets the socket options of an accepted or dialed connection. The
// buffer sizes are not among them: accepted sockets inherit them from the
// listener, and Dial sets them before connect (see setBuffers).
func (s *Server) tune(fd int, inet bool) {
	o := &s.opts
	if inet {
		if !o.TCPDelay {
			_ = unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
		}
		if o.KeepAlive > 0 {
			_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_KEEPALIVE, 1)
			setKeepAlivePeriod(fd, o.KeepAlive)
		}
	}
}

// setBuffers sets SO_RCVBUF and SO_SNDBUF as Options ask, on a socket not
// yet listening or connected (TCP, Unix or UDP).
func (s *Server) setBuffers(fd int) error {
	o := &s.opts
	if o.SocketReadBuffer > 0 {
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, o.SocketReadBuffer); err != nil {
			return fmt.Errorf("SO_RCVBUF: %w", err)
		}
	}
	if o.SocketWriteBuffer > 0 {
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUF, o.SocketWriteBuffer); err != nil {
			return fmt.Errorf("SO_SNDBUF: %w", err)
		}
	}
	return nil
}
