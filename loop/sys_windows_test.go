package loop

import (
	"errors"
	"testing"
	"time"

	"golang.org/x/sys/windows"
)

// What the tests expect of Winsock, where it differs from Unix (see
// sys_unix_test.go).
var (
	errRefused     error = windows.WSAECONNREFUSED
	errReset       error = windows.WSAECONNRESET // what a client reads after the server's reset
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

func setsockoptInt(fd, level, opt, v int) error {
	return windows.SetsockoptInt(windows.Handle(fd), level, opt, v)
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

// countsDescriptors is false: Windows has no descriptor table to count (a
// handle count includes the Go runtime's threads and events), and under
// Wine /proc/self/fd counts Wine's own cache of host descriptors. The
// leak checks count on Unix, over the same loop code.
const countsDescriptors = false

// underWine reports whether the tests run under Wine, not Windows:
// Wine's ntdll exports wine_get_version.
var underWine = windows.NewLazySystemDLL("ntdll.dll").NewProc("wine_get_version").Find() == nil

// wineSlowdown scales the few bounds on latency the tests set: under Wine
// every socket call is a round trip to the one wineserver, which a storm
// of connections queues behind (a round trip took 2.05 s during 1,000
// TLS handshakes on a loaded 2-core machine), so the bounds are 5 times
// as loose there; on Windows they are as on Unix.
var wineSlowdown = time.Duration(1)

func init() {
	if underWine {
		wineSlowdown = 5
	}
}

// skipNoUnix skips a test of Unix-domain sockets under Wine 8, which has
// no AF_UNIX (Windows has it from Windows 10 1803, where the test runs;
// elsewhere Listen fails with a clear error, see internal/sock). It must
// come before t.TempDir: under Wine 8, Go 1.26's os.RemoveAll fails on a
// directory's contents (Wine lacks FileDispositionInformationEx), and
// TempDir's cleanup would fail the skipped test.
func skipNoUnix(t *testing.T) {
	if underWine {
		t.Skip("Wine 8 has no AF_UNIX sockets")
	}
}
