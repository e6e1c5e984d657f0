package sock

// Winsock behind the same functions as sock_unix.go. A descriptor is the
// SOCKET handle's value as an int. Winsock is started by the net package's
// init (internal/poll calls WSAStartup), which this package imports.
//
// Where Winsock differs from the Berkeley API, and what is done about it:
//   - accept and select are not wrapped by x/sys/windows: they are loaded
//     from ws2_32.dll.
//   - A socket is made non-blocking with FIONBIO, after WSASocket; the
//     sockets accept returns are set again, which costs one call per
//     connection but does not lean on inheritance.
//   - A pending connect fails WSAEWOULDBLOCK, not EINPROGRESS; a failed
//     connect is reported by select in the exception set, not the write
//     set (https://learn.microsoft.com/windows/win32/api/winsock2/nf-winsock2-connect).
//   - SO_REUSEADDR on Windows lets a second socket bind a port in active
//     use, so SetReuseAddr sets nothing: Windows binds a listening port
//     left in TIME_WAIT without it
//     (https://learn.microsoft.com/windows/win32/winsock/using-so-reuseaddr-and-so-exclusiveaddruse).
//   - A UDP socket reports an ICMP port-unreachable for an earlier sendto
//     as WSAECONNRESET on its next recvfrom; SIO_UDP_CONNRESET turns that
//     off, as Go's net package does.
//   - Running out of socket memory is WSAENOBUFS (Windows has no
//     per-process descriptor limit); OutOfFiles counts it with WSAEMFILE,
//     and with the WSAEINVAL Wine's accept fails with when its server is
//     out of descriptors.
//   - AF_UNIX exists from Windows 10 1803, stream sockets only; elsewhere
//     Open says so.

import (
	"errors"
	"net"
	"net/netip"
	"os"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/windows"
)

type sockaddr = windows.Sockaddr

// The address families and socket types Endpoint holds.
const (
	afInet     = windows.AF_INET
	afInet6    = windows.AF_INET6
	afUnix     = windows.AF_UNIX
	sockStream = windows.SOCK_STREAM
	sockDgram  = windows.SOCK_DGRAM
)

// inetSockaddr is the socket address of an IPv4 or IPv6 address and port
// (zoneID: an IPv6 scope, else 0).
func inetSockaddr(ap netip.AddrPort, zoneID uint32) sockaddr {
	if ap.Addr().Is4() {
		return &windows.SockaddrInet4{Port: int(ap.Port()), Addr: ap.Addr().As4()}
	}
	return &windows.SockaddrInet6{Port: int(ap.Port()), Addr: ap.Addr().As16(), ZoneId: zoneID}
}

func unixSockaddr(path string) sockaddr { return &windows.SockaddrUnix{Name: path} }

// unixPath is a Unix-domain socket address's path (false for any other
// kind).
func unixPath(sa sockaddr) (string, bool) {
	a, ok := sa.(*windows.SockaddrUnix)
	if !ok {
		return "", false
	}
	return a.Name, true
}

// ReusePortBalances is false: Windows has no SO_REUSEPORT, so one socket
// accepts for every event loop.
const ReusePortBalances = false

// KeepIdleOption is 0: SetKeepAlive sets the timing with
// SIO_KEEPALIVE_VALS, which cannot be read back.
const KeepIdleOption = 0

// Winsock constants x/sys/windows does not define.
const (
	soError = 0x1007     // SO_ERROR
	fionbio = 0x8004667e // FIONBIO: _IOW('f', 126, u_long)
)

var (
	ws2     = windows.NewLazySystemDLL("ws2_32.dll")
	pAccept = ws2.NewProc("accept")
	pSelect = ws2.NewProc("select")
)

// errNoUnix is what Open returns for "unix" where Winsock has no AF_UNIX.
var errNoUnix = errors.New("unix-domain sockets need Windows 10 1803 or later (Winsock has no AF_UNIX here)")

func handle(fd int) windows.Handle { return windows.Handle(fd) }

// addrPort is the IP address and port of an IPv4 or IPv6 socket address
// (false for any other kind).
func addrPort(sa windows.Sockaddr) (netip.AddrPort, bool) {
	switch a := sa.(type) {
	case *windows.SockaddrInet4:
		return netip.AddrPortFrom(netip.AddrFrom4(a.Addr), uint16(a.Port)), true
	case *windows.SockaddrInet6:
		return netip.AddrPortFrom(netip.AddrFrom16(a.Addr), uint16(a.Port)), true
	}
	return netip.AddrPort{}, false
}

// Open makes a non-blocking, non-inheritable socket of the Endpoint's
// family and type. It is an overlapped socket, as socket() makes, so the
// AFD backend can poll it.
func Open(e Endpoint) (int, error) {
	h, err := windows.WSASocket(int32(e.family), int32(e.sotype), 0, nil, 0,
		windows.WSA_FLAG_OVERLAPPED|windows.WSA_FLAG_NO_HANDLE_INHERIT)
	if err != nil {
		if e.IsUnix() && err == windows.WSAEAFNOSUPPORT {
			return -1, os.NewSyscallError("socket", errNoUnix)
		}
		return -1, os.NewSyscallError("socket", err)
	}
	if err := setNonblock(h); err != nil {
		windows.Closesocket(h)
		return -1, err
	}
	if e.IsDatagram() {
		off := uint32(0)
		var n uint32
		// Wine 8 has no SIO_UDP_CONNRESET (WSAEOPNOTSUPP), nor the
		// behaviour it turns off.
		err := windows.WSAIoctl(h, windows.SIO_UDP_CONNRESET, (*byte)(unsafe.Pointer(&off)), 4, nil, 0, &n, nil, 0)
		if err != nil && err != windows.WSAEOPNOTSUPP {
			windows.Closesocket(h)
			return -1, os.NewSyscallError("wsaioctl SIO_UDP_CONNRESET", err)
		}
	}
	return int(h), nil
}

func setNonblock(h windows.Handle) error {
	on := uint32(1)
	var n uint32
	return os.NewSyscallError("ioctlsocket FIONBIO", windows.WSAIoctl(h, fionbio, (*byte)(unsafe.Pointer(&on)), 4, nil, 0, &n, nil, 0))
}

// Bind binds fd to the Endpoint's address.
func Bind(fd int, e Endpoint) error {
	return os.NewSyscallError("bind", windows.Bind(handle(fd), e.sa))
}

// Listen marks fd as accepting connections, with room for backlog of them.
func Listen(fd, backlog int) error {
	return os.NewSyscallError("listen", windows.Listen(handle(fd), backlog))
}

// Bound returns the Endpoint fd is bound to (the port chosen for port 0),
// of the same network as e.
func Bound(fd int, e Endpoint) (Endpoint, error) {
	sa, err := windows.Getsockname(handle(fd))
	if err != nil {
		return Endpoint{}, os.NewSyscallError("getsockname", err)
	}
	e.sa = sa
	return e, nil
}

// Accept takes one pending connection, non-blocking and non-inheritable,
// and its peer's address, read into a stack buffer.
func Accept(fd int) (int, Peer, error) {
	var rsa windows.RawSockaddrAny
	size := int32(unsafe.Sizeof(rsa))
	r, _, errno := syscall.SyscallN(pAccept.Addr(), uintptr(fd), uintptr(unsafe.Pointer(&rsa)), uintptr(unsafe.Pointer(&size)))
	h := windows.Handle(r)
	if h == windows.InvalidHandle {
		return -1, Peer{}, errno
	}
	if err := setNonblock(h); err != nil {
		windows.Closesocket(h)
		return -1, Peer{}, err
	}
	_ = windows.SetHandleInformation(h, windows.HANDLE_FLAG_INHERIT, 0)
	var p Peer
	switch rsa.Addr.Family {
	case windows.AF_INET:
		a := (*windows.RawSockaddrInet4)(unsafe.Pointer(&rsa))
		p.Port = networkOrder(a.Port)
		p.IP[10], p.IP[11] = 0xff, 0xff
		copy(p.IP[12:], a.Addr[:])
	case windows.AF_INET6:
		a := (*windows.RawSockaddrInet6)(unsafe.Pointer(&rsa))
		p = Peer{IP: a.Addr, Port: networkOrder(a.Port)}
	}
	return int(h), p, nil
}

// Connect starts connecting fd to e. pending reports a connect still under
// way (WSAEWOULDBLOCK): fd turns writable when it ends, and ConnectError
// then says how. Any other failure is an error.
func Connect(fd int, e Endpoint) (pending bool, err error) {
	switch err := windows.Connect(handle(fd), e.sa); err {
	case nil:
		return false, nil
	case windows.WSAEWOULDBLOCK, windows.WSAEINTR:
		return true, nil
	default:
		return false, os.NewSyscallError("connect", err)
	}
}

// ConnectError is the outcome of a pending connect once fd turned writable
// (or, on Windows, reported an exception): nil if it connected, else why
// not (SO_ERROR).
func ConnectError(fd int) error {
	soerr, err := windows.GetsockoptInt(handle(fd), windows.SOL_SOCKET, soError)
	if err == nil && soerr != 0 {
		err = syscall.Errno(soerr)
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
		Close(fd)
		return -1, err
	}
	return fd, nil
}

// fdSet1 is a Winsock fd_set holding one socket: Winsock's fd_set is a
// count and an array, and select reads only count entries.
type fdSet1 struct {
	count uint32
	fd    windows.Handle
}

func connectWait(fd int, e Endpoint, timeout time.Duration) error {
	pending, err := Connect(fd, e)
	if err != nil || !pending {
		return err
	}
	deadline := time.Now().Add(timeout)
	for {
		var tv *windows.Timeval
		if timeout >= 0 {
			left := time.Until(deadline)
			if left <= 0 {
				return os.NewSyscallError("connect", windows.WSAETIMEDOUT)
			}
			us := (left + time.Microsecond - 1) / time.Microsecond
			tv = &windows.Timeval{Sec: int32(us / 1e6), Usec: int32(us % 1e6)}
		}
		w := fdSet1{1, handle(fd)}
		x := w // a failed connect is reported here
		r, _, errno := syscall.SyscallN(pSelect.Addr(), 0, 0, uintptr(unsafe.Pointer(&w)), uintptr(unsafe.Pointer(&x)), uintptr(unsafe.Pointer(tv)))
		switch int32(r) {
		case 0:
			continue
		case -1:
			if errno == windows.WSAEINTR {
				continue
			}
			return os.NewSyscallError("select", errno)
		}
		return ConnectError(fd)
	}
}

// Read reads into p: n > 0 bytes, 0 at EOF, or an error (see WouldBlock).
func Read(fd int, p []byte) (int, error) {
	buf := windows.WSABuf{Len: uint32(min(len(p), 1<<30))}
	if len(p) > 0 {
		buf.Buf = &p[0]
	}
	var n, flags uint32
	if err := windows.WSARecv(handle(fd), &buf, 1, &n, &flags, nil, nil); err != nil {
		return 0, err
	}
	return int(n), nil
}

// Write writes from p and returns how much the socket took.
func Write(fd int, p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	buf := windows.WSABuf{Len: uint32(min(len(p), 1<<30)), Buf: &p[0]}
	var n uint32
	if err := windows.WSASend(handle(fd), &buf, 1, &n, 0, nil, nil); err != nil {
		return 0, err
	}
	return int(n), nil
}

// Close closes fd.
func Close(fd int) error { return windows.Closesocket(handle(fd)) }

// CloseWrite shuts down fd's writing half: the peer reads EOF once what
// was written before is received.
func CloseWrite(fd int) error {
	return os.NewSyscallError("shutdown", windows.Shutdown(handle(fd), windows.SHUT_WR))
}

// maxIovecs is the most buffers one Writev sends (Winsock has no IOV_MAX;
// the bound keeps one call's work as on Unix).
const maxIovecs = 1024

// Iovecs is reusable room for the buffers of one Writev, so that a
// gathered write allocates nothing. Its zero value is ready to use; it is
// for one goroutine at a time.
type Iovecs struct{ v []windows.WSABuf }

// Writev writes bufs with one WSASend (at most 1024 of them; the rest are
// left for the next call) and returns how many bytes the socket took.
func (iv *Iovecs) Writev(fd int, bufs [][]byte) (int, error) {
	v := iv.v[:0]
	for _, b := range bufs {
		if len(b) == 0 {
			continue
		}
		if len(v) == maxIovecs {
			break
		}
		v = append(v, windows.WSABuf{Len: uint32(min(len(b), 1<<30)), Buf: &b[0]})
	}
	iv.v = v[:0]
	if len(v) == 0 {
		return 0, nil
	}
	var n uint32
	err := windows.WSASend(handle(fd), &v[0], uint32(len(v)), &n, 0, nil, nil)
	clear(v) // do not keep the caller's buffers alive
	if err != nil {
		return 0, err
	}
	return int(n), nil
}

// RecvFrom reads one datagram into p and returns its length and sender. A
// datagram longer than p is cut to len(p), as on Unix (Winsock fills p and
// fails WSAEMSGSIZE).
func RecvFrom(fd int, p []byte) (int, netip.AddrPort, error) {
	buf := windows.WSABuf{Len: uint32(min(len(p), 1<<30))}
	if len(p) > 0 {
		buf.Buf = &p[0]
	}
	var rsa windows.RawSockaddrAny
	size := int32(unsafe.Sizeof(rsa))
	var n, flags uint32
	err := windows.WSARecvFrom(handle(fd), &buf, 1, &n, &flags, &rsa, &size, nil, nil)
	if err == windows.WSAEMSGSIZE {
		n, err = buf.Len, nil
	}
	if err != nil {
		return 0, netip.AddrPort{}, err
	}
	var from netip.AddrPort
	switch rsa.Addr.Family {
	case windows.AF_INET:
		a := (*windows.RawSockaddrInet4)(unsafe.Pointer(&rsa))
		from = netip.AddrPortFrom(netip.AddrFrom4(a.Addr), networkOrder(a.Port))
	case windows.AF_INET6:
		a := (*windows.RawSockaddrInet6)(unsafe.Pointer(&rsa))
		from = netip.AddrPortFrom(netip.AddrFrom16(a.Addr), networkOrder(a.Port))
	}
	return int(n), from, nil
}

// SendTo sends p as one datagram to the given address.
func SendTo(fd int, p []byte, to netip.AddrPort) error {
	return os.NewSyscallError("sendto", windows.Sendto(handle(fd), p, 0, inetSockaddr(to, 0)))
}

// LocalAddr is the address fd is bound to (nil if it cannot be known);
// datagram says whether fd is a UDP socket.
func LocalAddr(fd int, datagram bool) net.Addr {
	sa, err := windows.Getsockname(handle(fd))
	if err != nil {
		return nil
	}
	return toNetAddr(sa, datagram)
}

// RemoteAddr is the address of fd's peer (nil if it cannot be known).
func RemoteAddr(fd int) net.Addr {
	sa, err := windows.Getpeername(handle(fd))
	if err != nil {
		return nil
	}
	return toNetAddr(sa, false)
}

// WouldBlock reports whether err means the call did nothing and can be
// made again (WSAEWOULDBLOCK, or WSAEINTR): a read or write when the
// socket is ready, an accept when a connection is pending.
func WouldBlock(err error) bool { return err == windows.WSAEWOULDBLOCK || err == windows.WSAEINTR }

// Aborted reports whether an accept failed for that connection alone (the
// peer reset it before it was accepted): the next may succeed at once.
// Wine reports such a connection as WSAENOTCONN.
func Aborted(err error) bool {
	return err == windows.WSAECONNRESET || err == windows.WSAECONNABORTED || err == windows.WSAENOTCONN
}

// Reset reports whether a read or write failed because the peer reset
// the connection (WSAECONNRESET; WSAECONNABORTED, the reset of a
// connection this end was writing to).
func Reset(err error) bool { return err == windows.WSAECONNRESET || err == windows.WSAECONNABORTED }

// OutOfFiles reports whether a call failed because the process or the
// system has no socket left: WSAEMFILE, or WSAENOBUFS, Windows's way of
// saying it has no memory for another socket. WSAEINVAL counts too, for
// accept: Windows fails accept so only on a socket that is not listening,
// which the loop never accepts on, and Wine fails it so when its server
// has no descriptor left for the connection.
func OutOfFiles(err error) bool {
	return err == windows.WSAEMFILE || err == windows.WSAENOBUFS || err == windows.WSAEINVAL
}

// SetReuseAddr sets nothing on Windows: there SO_REUSEADDR would let
// another socket bind a port this one listens on, and a port left in
// TIME_WAIT can be bound again without it.
func SetReuseAddr(fd int) error { return nil }

// SetReusePort fails: Windows has no SO_REUSEPORT (see ReusePortBalances).
func SetReusePort(fd int) error {
	return os.NewSyscallError("setsockopt SO_REUSEPORT", windows.WSAENOPROTOOPT)
}

// SetV6Only makes an IPv6 socket take IPv6 only (on), or IPv4-mapped
// addresses too (off).
func SetV6Only(fd int, on bool) error {
	return os.NewSyscallError("setsockopt IPV6_V6ONLY", windows.SetsockoptInt(handle(fd), windows.IPPROTO_IPV6, windows.IPV6_V6ONLY, boolInt(on)))
}

// SetNoDelay turns Nagle's algorithm off (on) or on (off) (TCP_NODELAY).
func SetNoDelay(fd int, on bool) error {
	return os.NewSyscallError("setsockopt TCP_NODELAY", windows.SetsockoptInt(handle(fd), windows.IPPROTO_TCP, windows.TCP_NODELAY, boolInt(on)))
}

// SetKeepAlive turns on TCP keep-alive probes, period apart after period
// of idleness, in whole seconds (at least one), with SIO_KEEPALIVE_VALS.
func SetKeepAlive(fd int, period time.Duration) error {
	ms := uint32(max(int(period/time.Second), 1) * 1000)
	ka := windows.TCPKeepalive{OnOff: 1, Time: ms, Interval: ms}
	var n uint32
	return os.NewSyscallError("wsaioctl SIO_KEEPALIVE_VALS", windows.WSAIoctl(handle(fd), windows.SIO_KEEPALIVE_VALS,
		(*byte)(unsafe.Pointer(&ka)), uint32(unsafe.Sizeof(ka)), nil, 0, &n, nil, 0))
}

// SetResetOnClose makes closing the socket send a reset (RST), not a FIN,
// and drop what is unsent: SO_LINGER on, with a zero timeout.
func SetResetOnClose(fd int) error {
	return os.NewSyscallError("setsockopt SO_LINGER", windows.SetsockoptLinger(handle(fd), windows.SOL_SOCKET, windows.SO_LINGER, &windows.Linger{Onoff: 1, Linger: 0}))
}

// SetBuffers sets the socket's receive and send buffer sizes (SO_RCVBUF,
// SO_SNDBUF); 0 leaves one as the OS has it.
func SetBuffers(fd, receive, send int) error {
	if receive > 0 {
		if err := windows.SetsockoptInt(handle(fd), windows.SOL_SOCKET, windows.SO_RCVBUF, receive); err != nil {
			return os.NewSyscallError("setsockopt SO_RCVBUF", err)
		}
	}
	if send > 0 {
		if err := windows.SetsockoptInt(handle(fd), windows.SOL_SOCKET, windows.SO_SNDBUF, send); err != nil {
			return os.NewSyscallError("setsockopt SO_SNDBUF", err)
		}
	}
	return nil
}
