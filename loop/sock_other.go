//go:build unix && !linux

package loop

import "golang.org/x/sys/unix"

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

// accept takes one pending connection, non-blocking and close-on-exec.
func accept(fd int) (int, peerAddr, error) {
	nfd, sa, err := unix.Accept(fd)
	if err != nil {
		return -1, peerAddr{}, err
	}
	unix.CloseOnExec(nfd)
	if err := unix.SetNonblock(nfd, true); err != nil {
		unix.Close(nfd)
		return -1, peerAddr{}, err
	}
	return nfd, peerOf(sa), nil
}

// reusePort is 0 where SO_REUSEPORT does not balance load across sockets
// (the BSDs' and macOS's only lets them share the port): one acceptor then.
const reusePort = 0
