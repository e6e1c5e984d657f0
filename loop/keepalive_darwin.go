package loop

import (
	"time"

	"golang.org/x/sys/unix"
)

// keepIdleOption is the socket option that setKeepAlivePeriod sets for the
// idle time: macOS names it TCP_KEEPALIVE.
const keepIdleOption = unix.TCP_KEEPALIVE

// setKeepAlivePeriod sets the idle time before the first probe and the
// interval between probes, in whole seconds (at least one).
func setKeepAlivePeriod(fd int, d time.Duration) {
	secs := max(int(d/time.Second), 1)
	_ = unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_KEEPALIVE, secs)
	_ = unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_KEEPINTVL, secs)
}
