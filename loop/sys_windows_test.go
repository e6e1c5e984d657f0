package loop

import (
	"errors"
	"testing"

	"golang.org/x/sys/windows"
)

// What the tests expect of Winsock, where it differs from Unix (see
// sys_unix_test.go).
var (
	errRefused     error = windows.WSAECONNREFUSED
	errAddrInUse   error = windows.WSAEADDRINUSE
	errPipe        error = windows.WSAECONNRESET // Windows has no EPIPE (nor SIGPIPE): the peer's close resets
	errBacklogFull error = windows.WSAECONNREFUSED
)

const (
	solSocket   = windows.SOL_SOCKET
	ipprotoTCP  = windows.IPPROTO_TCP
	tcpNoDelay  = windows.TCP_NODELAY
	soKeepAlive = windows.SO_KEEPALIVE
	soRcvBuf    = windows.SO_RCVBUF
	soSndBuf    = windows.SO_SNDBUF
	soReuseAddr = windows.SO_REUSEADDR
)

// listenerReusesAddr: no SO_REUSEADDR on Windows, where it would let
// another socket bind the listener's port (see internal/sock).
const listenerReusesAddr = false

func getsockoptInt(fd, level, opt int) (int, error) {
	return windows.GetsockoptInt(windows.Handle(fd), level, opt)
}

// limitFiles fails: Windows has no per-process descriptor limit to lower
// (its exhaustion, WSAENOBUFS, comes from kernel memory).
func limitFiles(n uint64) error {
	return errors.New("windows has no per-process socket limit (RLIMIT_NOFILE) to lower")
}

// holdDescriptorsBelow skips the test: Winsock's select takes any socket
// handle, so there is no descriptor value too large for it.
func holdDescriptorsBelow(t *testing.T, n int) (release func()) {
	t.Skip("Winsock's select has no FD_SETSIZE bound on descriptor values")
	return nil
}

// skipWithoutFileLimit skips a test that provokes running out of
// descriptors: Windows's WSAENOBUFS cannot be provoked from a test; the
// loop's back-off on it is the code TestAcceptEMFILE runs on Unix, and
// internal/sock's TestOutOfFilesWindows checks that WSAENOBUFS leads there.
func skipWithoutFileLimit(t *testing.T) {
	t.Skip("Windows has no per-process socket limit to lower (see limitFiles)")
}
