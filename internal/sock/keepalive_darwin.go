package sock

import "golang.org/x/sys/unix"

// KeepIdleOption is the TCP option that holds the idle time before the
// first keep-alive probe: macOS calls it TCP_KEEPALIVE.
const KeepIdleOption = unix.TCP_KEEPALIVE
