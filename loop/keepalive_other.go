//go:build unix && !linux && !freebsd && !netbsd && !dragonfly && !darwin

package loop

import "time"

// keepIdleOption is 0: setKeepAlivePeriod sets no idle-time option here.
const keepIdleOption = 0

// setKeepAlivePeriod does nothing here (OpenBSD, among the systems the loop
// builds on): it has no per-socket keep-alive timing, so with SO_KEEPALIVE
// on, the period is the system's (sysctl net.inet.tcp.keepidle and
// keepintvl).
func setKeepAlivePeriod(fd int, d time.Duration) {}
