//go:build linux || freebsd || netbsd || dragonfly

package loop

import (
	"time"

	"golang.org/x/sys/unix"
)

// keepIdleOption is the socket option that setKeepAlivePeriod sets for the
// idle time (tests read it back); 0 where there is none.
const keepIdleOption = unix.TCP_KEEPIDLE

// setKeepAlivePeriod sets the idle time before the first probe and the
// interval between probes, in whole seconds (at least one).
func setKeepAlivePeriod(fd int, d time.Duration) {
	secs := max(int(d/time.Second), 1)
	_ = unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_KEEPIDLE, secs)
	_ = unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_KEEPINTVL, secs)
}
