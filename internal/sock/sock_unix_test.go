//go:build unix

package sock

import "golang.org/x/sys/unix"

// errRefused is how a connect to a port nobody listens on fails.
const errRefused = unix.ECONNREFUSED

// keepIdle reads back the keep-alive idle time SetKeepAlive set, in seconds.
func keepIdle(fd int) (int, error) { return unix.GetsockoptInt(fd, unix.IPPROTO_TCP, KeepIdleOption) }
