package loop

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// socket opens a non-blocking, close-on-exec socket in one system call.
func socket(family, typ int) (int, error) {
	return unix.Socket(family, typ|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
}

// accept takes one pending connection, non-blocking and close-on-exec. It
// reads the peer's address into a stack buffer (unix.Accept4 would allocate
// a Sockaddr per connection).
func accept(fd int) (int, peerAddr, error) {
	var rsa unix.RawSockaddrAny
	size := uint32(unix.SizeofSockaddrAny)
	nfd, _, errno := unix.Syscall6(unix.SYS_ACCEPT4, uintptr(fd), uintptr(unsafe.Pointer(&rsa)),
		uintptr(unsafe.Pointer(&size)), unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0, 0)
	if errno != 0 {
		return -1, peerAddr{}, errno
	}
	var p peerAddr
	switch rsa.Addr.Family {
	case unix.AF_INET:
		a := (*unix.RawSockaddrInet4)(unsafe.Pointer(&rsa))
		p = peer4(a.Addr, int(networkOrder(a.Port)))
	case unix.AF_INET6:
		a := (*unix.RawSockaddrInet6)(unsafe.Pointer(&rsa))
		p = peerAddr{ip: a.Addr, port: networkOrder(a.Port)}
	}
	return int(nfd), p, nil
}

// networkOrder reads a port as the kernel stores it, big-endian.
func networkOrder(port uint16) uint16 {
	b := (*[2]byte)(unsafe.Pointer(&port))
	return uint16(b[0])<<8 | uint16(b[1])
}

// reusePort is SO_REUSEPORT with the kernel's load balancing across sockets.
const reusePort = unix.SO_REUSEPORT
