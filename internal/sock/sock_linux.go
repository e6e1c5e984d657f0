package sock

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// ReusePortBalances reports whether sockets sharing a port with
// SO_REUSEPORT share its connections too: the kernel spreads them over the
// listeners, so each event loop can accept on its own socket.
const ReusePortBalances = true

// socket opens a non-blocking, close-on-exec socket in one system call.
func socket(family, typ int) (int, error) {
	return unix.Socket(family, typ|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
}

// Accept takes one pending connection, non-blocking and close-on-exec,
// and its peer's address. It reads the address into a stack buffer:
// unix.Accept4 would allocate a Sockaddr per connection.
func Accept(fd int) (int, Peer, error) {
	var rsa unix.RawSockaddrAny
	size := uint32(unix.SizeofSockaddrAny)
	nfd, _, errno := unix.Syscall6(unix.SYS_ACCEPT4, uintptr(fd), uintptr(unsafe.Pointer(&rsa)),
		uintptr(unsafe.Pointer(&size)), unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0, 0)
	if errno != 0 {
		return -1, Peer{}, errno
	}
	var p Peer
	switch rsa.Addr.Family {
	case unix.AF_INET:
		a := (*unix.RawSockaddrInet4)(unsafe.Pointer(&rsa))
		p.Port = networkOrder(a.Port)
		p.IP[10], p.IP[11] = 0xff, 0xff
		copy(p.IP[12:], a.Addr[:])
	case unix.AF_INET6:
		a := (*unix.RawSockaddrInet6)(unsafe.Pointer(&rsa))
		p = Peer{IP: a.Addr, Port: networkOrder(a.Port)}
	}
	return int(nfd), p, nil
}
