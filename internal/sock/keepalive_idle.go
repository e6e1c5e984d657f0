//go:build linux || dragonfly || freebsd || netbsd

package sock

import "golang.org/x/sys/unix"

// KeepIdleOption is the TCP option that holds the idle time before the
// first keep-alive probe (tests read it back); 0 where there is none.
const KeepIdleOption = unix.TCP_KEEPIDLE
