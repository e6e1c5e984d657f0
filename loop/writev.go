package loop

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// maxIovecs is the most buffers one writev(2) takes (IOV_MAX is 1024 on
// Linux and the BSDs); the rest are queued.
const maxIovecs = 1024

// writev writes bufs with one system call, reusing the loop's iovec array
// so the call allocates nothing.
func (l *Loop) writev(fd int, bufs [][]byte) (int, error) {
	iov := l.iovecs[:0]
	for _, b := range bufs {
		if len(b) == 0 {
			continue
		}
		if len(iov) == maxIovecs {
			break
		}
		v := unix.Iovec{Base: &b[0]}
		v.SetLen(len(b))
		iov = append(iov, v)
	}
	l.iovecs = iov[:0]
	if len(iov) == 0 {
		return 0, nil
	}
	n, _, errno := unix.Syscall(unix.SYS_WRITEV, uintptr(fd), uintptr(unsafe.Pointer(&iov[0])), uintptr(len(iov)))
	clear(iov) // do not keep the caller's buffers alive
	if errno != 0 {
		return 0, errno
	}
	return int(n), nil
}
