//go:build unix

package loop

import (
	"fmt"
	"testing"

	"golang.org/x/sys/unix"
)

// What the tests expect of the OS, where Unix and Windows differ (see
// sys_windows_test.go).
var (
	errRefused     error = unix.ECONNREFUSED
	errReset       error = unix.ECONNRESET // what a client reads after the server's reset
	errAddrInUse   error = unix.EADDRINUSE
	errPipe        error = unix.EPIPE  // a write to a peer that closed both halves
	errBacklogFull error = unix.EAGAIN // a Unix-domain connect to a full backlog
)

const (
	solSocket   = unix.SOL_SOCKET
	ipprotoTCP  = unix.IPPROTO_TCP
	tcpNoDelay  = unix.TCP_NODELAY
	soKeepAlive = unix.SO_KEEPALIVE
	soRcvBuf    = unix.SO_RCVBUF
	soSndBuf    = unix.SO_SNDBUF
	soReuseAddr = unix.SO_REUSEADDR
)

// listenerReusesAddr: a TCP listener has SO_REUSEADDR on Unix, so a port
// in TIME_WAIT can be bound again.
const listenerReusesAddr = true

func getsockoptInt(fd, level, opt int) (int, error) { return unix.GetsockoptInt(fd, level, opt) }

func setsockoptInt(fd, level, opt, v int) error { return unix.SetsockoptInt(fd, level, opt, v) }

// limitFiles sets the process's descriptor limit (RLIMIT_NOFILE) to n.
func limitFiles(n uint64) error {
	var lim unix.Rlimit
	setRlim(&lim.Cur, n)
	setRlim(&lim.Max, n)
	if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		return fmt.Errorf("setrlimit: %w", err)
	}
	return nil
}

// setRlim sets a field of unix.Rlimit, an int64 on some systems and a
// uint64 on others.
func setRlim[T int64 | uint64](field *T, n uint64) { *field = T(n) }

// holdDescriptorsBelow opens descriptors until the next free one is n or
// above, and returns what closes them.
func holdDescriptorsBelow(t *testing.T, n int) (release func()) {
	var held []int
	release = func() {
		for _, fd := range held {
			unix.Close(fd)
		}
	}
	for {
		fd, err := unix.Dup(0)
		if err != nil {
			release()
			t.Fatal(err)
		}
		if fd >= n {
			unix.Close(fd) // leave the first one above free
			return release
		}
		held = append(held, fd)
	}
}

// skipWithoutFileLimit does nothing on Unix, which has RLIMIT_NOFILE.
func skipWithoutFileLimit(t *testing.T) {}

// countsDescriptors: the leak checks count /proc/self/fd (where there is
// one; elsewhere the tests that need it skip).
const countsDescriptors = true

// wineSlowdown scales the few bounds on latency the tests set: 1 but
// under Wine.
const wineSlowdown = 1

// skipNoUnix does nothing on Unix, which has Unix-domain sockets.
func skipNoUnix(t *testing.T) {}

// underWine is false: Wine runs Windows binaries only.
const underWine = false
