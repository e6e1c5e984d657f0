//go:build unix

package sock

import (
	"net"
	"net/netip"
	"os"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

type sockaddr = unix.Sockaddr

// The address families and socket types Endpoint holds.
const (
	afInet     = unix.AF_INET
	afInet6    = unix.AF_INET6
	afUnix     = unix.AF_UNIX
	sockStream = unix.SOCK_STREAM
	sockDgram  = unix.SOCK_DGRAM
)

// inetSockaddr is the socket address of an IPv4 or IPv6 address and port
// (zoneID: an IPv6 scope, else 0).
func inetSockaddr(ap netip.AddrPort, zoneID uint32) sockaddr {
	if ap.Addr().Is4() {
		return &unix.SockaddrInet4{Port: int(ap.Port()), Addr: ap.Addr().As4()}
	}
	return &unix.SockaddrInet6{Port: int(ap.Port()), Addr: ap.Addr().As16(), ZoneId: zoneID}
}

func unixSockaddr(path string) sockaddr { return &unix.SockaddrUnix{Name: path} }

// unixPath is a Unix-domain socket address's path (false for any other
// kind).
func unixPath(sa sockaddr) (string, bool) {
	a, ok := sa.(*unix.SockaddrUnix)
	if !ok {
		return "", false
	}
	return a.Name, true
}

// addrPort is the IP address and port of an IPv4 or IPv6 socket address
// (false for any other kind).
func addrPort(sa unix.Sockaddr) (netip.AddrPort, bool) {
	switch a := sa.(type) {
	case *unix.SockaddrInet4:
		return netip.AddrPortFrom(netip.AddrFrom4(a.Addr), uint16(a.Port)), true
	case *unix.SockaddrInet6:
		return netip.AddrPortFrom(netip.AddrFrom16(a.Addr), uint16(a.Port)), true
	}
	return netip.AddrPort{}, false
}

// Open makes a non-blocking, close-on-exec socket of the Endpoint's family
// and type.
func Open(e Endpoint) (int, error) {
	fd, err := socket(e.family, e.sotype)
	if err != nil {
		return -1, os.NewSyscallError("socket", err)
	}
	return fd, nil
}

// Bind binds fd to the Endpoint's address.
func Bind(fd int, e Endpoint) error { return os.NewSyscallError("bind", unix.Bind(fd, e.sa)) }

// Listen marks fd as accepting connections, with room for backlog of them.
func Listen(fd, backlog int) error { return os.NewSyscallError("listen", unix.Listen(fd, backlog)) }

// Bound returns the Endpoint fd is bound to (the port chosen for port 0),
// of the same network as e.
func Bound(fd int, e Endpoint) (Endpoint, error) {
	sa, err := unix.Getsockname(fd)
	if err != nil {
		return Endpoint{}, os.NewSyscallError("getsockname", err)
	}
	e.sa = sa
	return e, nil
}

// Connect starts connecting fd to e. pending reports a connect still under
// way (EINPROGRESS): fd turns writable when it ends, and ConnectError then
// says how. Any other failure is an error, EAGAIN included (a Unix-domain
// listener's full backlog, no free local port).
func Connect(fd int, e Endpoint) (pending bool, err error) {
	switch err := unix.Connect(fd, e.sa); err {
	case nil:
		return false, nil
	case unix.EINPROGRESS, unix.EINTR:
		return true, nil
	default:
		return false, os.NewSyscallError("connect", err)
	}
}

// ConnectError is the outcome of a pending connect once fd turned writable:
// nil if it connected, else why not (SO_ERROR).
func ConnectError(fd int) error {
	soerr, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ERROR)
	if err == nil && soerr != 0 {
		err = unix.Errno(soerr)
	}
	return os.NewSyscallError("connect", err)
}

// Dial connects a non-blocking socket to a "tcp", "tcp4", "tcp6" or "unix"
// address, as a client does (socket, then connect), and waits at most
// timeout (< 0: as long as the OS lets it) for the connect to end. It
// blocks its caller: for clients, not for a loop.
func Dial(network, address string, timeout time.Duration) (int, error) {
	e, err := Resolve(network, address)
	if err != nil {
		return -1, err
	}
	if e.IsDatagram() {
		return -1, &net.AddrError{Err: "Dial takes a stream network", Addr: network}
	}
	fd, err := Open(e)
	if err != nil {
		return -1, err
	}
	if err := connectWait(fd, e, timeout); err != nil {
		unix.Close(fd)
		return -1, err
	}
	return fd, nil
}

func connectWait(fd int, e Endpoint, timeout time.Duration) error {
	pending, err := Connect(fd, e)
	if err != nil || !pending {
		return err
	}
	deadline := time.Now().Add(timeout)
	for {
		ms := -1
		if timeout >= 0 {
			left := time.Until(deadline)
			if left <= 0 {
				return os.NewSyscallError("connect", unix.ETIMEDOUT)
			}
			ms = int((left + time.Millisecond - 1) / time.Millisecond)
		}
		p := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLOUT}}
		n, err := unix.Poll(p, ms)
		if err == unix.EINTR || err == nil && n == 0 {
			continue
		}
		if err != nil {
			return os.NewSyscallError("poll", err)
		}
		return ConnectError(fd)
	}
}

// Read reads into p: n > 0 bytes, 0 at EOF, or an error (see WouldBlock).
func Read(fd int, p []byte) (int, error) { return unix.Read(fd, p) }

// Write writes from p and returns how much the socket took.
func Write(fd int, p []byte) (int, error) { return unix.Write(fd, p) }

// Close closes fd.
func Close(fd int) error { return unix.Close(fd) }

// CloseWrite shuts down fd's writing half: the peer reads EOF once what
// was written before is received.
func CloseWrite(fd int) error { return os.NewSyscallError("shutdown", unix.Shutdown(fd, unix.SHUT_WR)) }

// maxIovecs is the most buffers one writev(2) takes (IOV_MAX is 1024 on
// Linux and the BSDs).
const maxIovecs = 1024

// Iovecs is reusable room for the buffers of one Writev, so that a
// gathered write allocates nothing. Its zero value is ready to use; it is
// for one goroutine at a time.
type Iovecs struct{ v []unix.Iovec }

// Writev writes bufs with one writev(2) (at most 1024 of them; the rest
// are left for the next call) and returns how many bytes the socket took.
func (iv *Iovecs) Writev(fd int, bufs [][]byte) (int, error) {
	iov := iv.v[:0]
	for _, b := range bufs {
		if len(b) == 0 {
			continue
		}
		if len(iov) == maxIovecs {
			break
		}
		v := unix.Iovec{Base: &b[0]}
		v.SetLen(len(b))
		iov = append(iov, v)
	}
	iv.v = iov[:0]
	if len(iov) == 0 {
		return 0, nil
	}
	n, _, errno := unix.Syscall(unix.SYS_WRITEV, uintptr(fd), uintptr(unsafe.Pointer(&iov[0])), uintptr(len(iov)))
	clear(iov) // do not keep the caller's buffers alive
	if errno != 0 {
		return 0, errno
	}
	return int(n), nil
}

// RecvFrom reads one datagram into p and returns its length and sender.
func RecvFrom(fd int, p []byte) (int, netip.AddrPort, error) {
	n, from, err := unix.Recvfrom(fd, p, 0)
	if err != nil {
		return 0, netip.AddrPort{}, err
	}
	ap, _ := addrPort(from)
	return n, ap, nil
}

// SendTo sends p as one datagram to the given address.
func SendTo(fd int, p []byte, to netip.AddrPort) error {
	return os.NewSyscallError("sendto", unix.Sendto(fd, p, 0, inetSockaddr(to, 0)))
}

// LocalAddr is the address fd is bound to (nil if it cannot be known);
// datagram says whether fd is a UDP socket.
func LocalAddr(fd int, datagram bool) net.Addr {
	sa, err := unix.Getsockname(fd)
	if err != nil {
		return nil
	}
	return toNetAddr(sa, datagram)
}

// RemoteAddr is the address of fd's peer (nil if it cannot be known).
func RemoteAddr(fd int) net.Addr {
	sa, err := unix.Getpeername(fd)
	if err != nil {
		return nil
	}
	return toNetAddr(sa, false)
}

// WouldBlock reports whether err means the call did nothing and can be
// made again (EAGAIN, or EINTR): a read or write when the socket is ready,
// an accept when a connection is pending.
func WouldBlock(err error) bool { return err == unix.EAGAIN || err == unix.EINTR }

// Aborted reports whether an accept failed for that connection alone (the
// peer reset it before it was accepted): the next may succeed at once.
func Aborted(err error) bool { return err == unix.ECONNABORTED }

// Reset reports whether a read or write failed because the peer reset
// the connection (ECONNRESET; EPIPE, a write after the reset).
func Reset(err error) bool { return err == unix.ECONNRESET || err == unix.EPIPE }

// OutOfFiles reports whether a call failed because the process or the
// system has no descriptor left (EMFILE, ENFILE).
func OutOfFiles(err error) bool { return err == unix.EMFILE || err == unix.ENFILE }

// SetReuseAddr lets fd bind an address still in TIME_WAIT (SO_REUSEADDR).
func SetReuseAddr(fd int) error {
	return os.NewSyscallError("setsockopt SO_REUSEADDR", unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1))
}

// SetReusePort lets several sockets bind the same address (SO_REUSEPORT);
// see ReusePortBalances.
func SetReusePort(fd int) error {
	return os.NewSyscallError("setsockopt SO_REUSEPORT", unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEPORT, 1))
}

// SetV6Only makes an IPv6 socket take IPv6 only (on), or IPv4-mapped
// addresses too (off).
func SetV6Only(fd int, on bool) error {
	return os.NewSyscallError("setsockopt IPV6_V6ONLY", unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_V6ONLY, boolInt(on)))
}

// SetNoDelay turns Nagle's algorithm off (on) or on (off) (TCP_NODELAY).
func SetNoDelay(fd int, on bool) error {
	return os.NewSyscallError("setsockopt TCP_NODELAY", unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, boolInt(on)))
}

// SetKeepAlive turns on TCP keep-alive probes, period apart after period
// of idleness, in whole seconds (at least one), where the OS has a
// per-socket setting for it (see setKeepAlivePeriod).
func SetKeepAlive(fd int, period time.Duration) error {
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_KEEPALIVE, 1); err != nil {
		return os.NewSyscallError("setsockopt SO_KEEPALIVE", err)
	}
	return setKeepAlivePeriod(fd, max(int(period/time.Second), 1))
}

// SetResetOnClose makes closing the socket send a reset (RST), not a FIN,
// and drop what is unsent: SO_LINGER on, with a zero timeout.
func SetResetOnClose(fd int) error {
	return os.NewSyscallError("setsockopt SO_LINGER", unix.SetsockoptLinger(fd, unix.SOL_SOCKET, unix.SO_LINGER, &unix.Linger{Onoff: 1, Linger: 0}))
}

// SetBuffers sets the socket's receive and send buffer sizes (SO_RCVBUF,
// SO_SNDBUF); 0 leaves one as the OS has it. For TCP, set them before
// listen or connect: the window scale is chosen from them in the handshake.
func SetBuffers(fd, receive, send int) error {
	if receive > 0 {
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, receive); err != nil {
			return os.NewSyscallError("setsockopt SO_RCVBUF", err)
		}
	}
	if send > 0 {
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUF, send); err != nil {
			return os.NewSyscallError("setsockopt SO_SNDBUF", err)
		}
	}
	return nil
}
