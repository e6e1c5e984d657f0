package sock

import (
	"os"

	"golang.org/x/sys/unix"
)

// Pipe opens a non-blocking, close-on-exec pipe for Splice, of at least
// size bytes if the kernel allows (F_SETPIPE_SZ; its default is 64 KiB).
func Pipe(size int) (r, w int, err error) {
	var fds [2]int
	if err := unix.Pipe2(fds[:], unix.O_NONBLOCK|unix.O_CLOEXEC); err != nil {
		return -1, -1, os.NewSyscallError("pipe2", err)
	}
	if size > 64<<10 {
		_, _ = unix.FcntlInt(uintptr(fds[1]), unix.F_SETPIPE_SZ, size) // best effort: the default still works
	}
	return fds[0], fds[1], nil
}

// Splice moves up to n bytes from one descriptor to another, one of them a
// pipe, inside the kernel (splice(2), non-blocking): the bytes never
// reach user space. 0 with no error is the end of the input.
func Splice(from, to, n int) (int, error) {
	m, err := unix.Splice(from, nil, to, nil, n, unix.SPLICE_F_NONBLOCK|unix.SPLICE_F_MOVE)
	return int(m), err
}

// SpliceUnsupported reports whether Splice's error says that the kernel
// cannot splice these descriptors (then nothing moved).
func SpliceUnsupported(err error) bool { return err == unix.EINVAL || err == unix.ENOSYS }

// SendFile sends up to n bytes of the file in from, at *off (advanced by
// what was sent), to the socket to, inside the kernel (sendfile(2)); on a
// non-blocking socket it returns EAGAIN when the socket is full.
func SendFile(to, from int, off *int64, n int) (int, error) {
	m, err := unix.Sendfile(to, from, off, n)
	if m < 0 {
		m = 0
	}
	return m, err
}
