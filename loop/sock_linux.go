package loop

import (
	"time"

	"golang.org/x/sys/unix"
)

// socket opens a non-blocking, close-on-exec socket in one system call.
func socket(family, typ int) (int, error) {
	return unix.Socket(family, typ|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
}

// accept takes one pending connection, non-blocking and close-on-exec.
func accept(fd int) (int, unix.Sockaddr, error) {
	return unix.Accept4(fd, unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC)
}

// reusePort is SO_REUSEPORT with the kernel's load balancing across sockets.
const reusePort = unix.SO_REUSEPORT

// setKeepAlivePeriod sets the idle time before the first probe and the
// interval between probes.
func setKeepAlivePeriod(fd int, d time.Duration) {
	secs := max(int(d/time.Second), 1)
	_ = unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_KEEPIDLE, secs)
	_ = unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_KEEPINTVL, secs)
}
