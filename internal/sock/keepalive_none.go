//go:build unix && !linux && !darwin && !dragonfly && !freebsd && !netbsd

package sock

// KeepIdleOption is 0: this OS (OpenBSD among those iomux builds on) has
// no per-socket keep-alive timing; with SO_KEEPALIVE on, the probes come at
// the system's period (sysctl net.inet.tcp.keepidle and keepintvl).
const KeepIdleOption = 0

func setKeepAlivePeriod(fd, secs int) error { return nil }
