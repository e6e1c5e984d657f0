package sock

import "golang.org/x/sys/windows"

// errRefused is how a connect to a port nobody listens on fails.
const errRefused = windows.WSAECONNREFUSED

// keepIdle is never called on Windows: KeepIdleOption is 0 there, since
// SIO_KEEPALIVE_VALS cannot be read back.
func keepIdle(fd int) (int, error) { return 0, windows.WSAENOPROTOOPT }
