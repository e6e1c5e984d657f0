//go:build unix && !linux

package sock

import "golang.org/x/sys/unix"

// ReusePortBalances is false: the BSDs' and macOS's SO_REUSEPORT lets
// sockets share a port but not its connections, so one socket accepts for
// every event loop.
const ReusePortBalances = false

// socket opens a non-blocking, close-on-exec socket.
func socket(family, typ int) (int, error) {
	fd, err := unix.Socket(family, typ, 0)
	if err != nil {
		return -1, err
	}
	unix.CloseOnExec(fd)
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return -1, err
	}
	return fd, nil
}

// Accept takes one pending connection, non-blocking and close-on-exec,
// and its peer's address.
func Accept(fd int) (int, Peer, error) {
	nfd, sa, err := unix.Accept(fd)
	if err != nil {
		return -1, Peer{}, err
	}
	unix.CloseOnExec(nfd)
	if err := unix.SetNonblock(nfd, true); err != nil {
		unix.Close(nfd)
		return -1, Peer{}, err
	}
	ap, _ := addrPort(sa)
	return nfd, peerFrom(ap), nil
}
