//go:build linux || darwin || dragonfly || freebsd || netbsd

package sock

import (
	"os"

	"golang.org/x/sys/unix"
)

// setKeepAlivePeriod sets the idle time before the first keep-alive probe
// and the interval between probes, in seconds.
func setKeepAlivePeriod(fd, secs int) error {
	if err := unix.SetsockoptInt(fd, unix.IPPROTO_TCP, KeepIdleOption, secs); err != nil {
		return os.NewSyscallError("setsockopt keep-alive idle time", err)
	}
	return os.NewSyscallError("setsockopt TCP_KEEPINTVL", unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_KEEPINTVL, secs))
}
