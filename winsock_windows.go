package iomux

import (
	"fmt"
	"os"
	"syscall"
	"unsafe"

	"golang.org/x/sys/windows"
)

// Winsock and NT calls that golang.org/x/sys/windows does not wrap, loaded
// from their DLLs. On Windows a descriptor is a SOCKET handle; the fd ints
// of the Selector API carry its value.
var (
	modws2    = windows.NewLazySystemDLL("ws2_32.dll")
	modntdll  = windows.NewLazySystemDLL("ntdll.dll")
	modkernel = windows.NewLazySystemDLL("kernel32.dll")

	procSelect                      = modws2.NewProc("select")
	procWSAPoll                     = modws2.NewProc("WSAPoll")
	procIoctlsocket                 = modws2.NewProc("ioctlsocket")
	procSend                        = modws2.NewProc("send")
	procRecv                        = modws2.NewProc("recv")
	procNtDeviceIoControlFile       = modntdll.NewProc("NtDeviceIoControlFile")
	procNtCancelIoFileEx            = modntdll.NewProc("NtCancelIoFileEx")
	procGetQueuedCompletionStatusEx = modkernel.NewProc("GetQueuedCompletionStatusEx")
	procGetHandleInformation        = modkernel.NewProc("GetHandleInformation")
)

const (
	fionbio = 0x8004667e // FIONBIO: _IOW('f', 126, u_long)
	soType  = 0x1008     // SO_TYPE
)

func init() {
	// Go's runtime has started Winsock already (internal/poll does); this
	// makes the package not depend on that. Startups are counted, cheap.
	var d windows.WSAData
	_ = windows.WSAStartup(0x202, &d)
}

// socket is fd as the handle Winsock takes.
func socket(fd int) windows.Handle { return windows.Handle(uintptr(fd)) }

// checkSocket fails unless fd is an open socket: the Windows backends, like
// Windows Python's select, watch sockets only. The error names call (the
// backend's, such as "select") and fd, and wraps WSAENOTSOCK.
func checkSocket(call string, fd int) error {
	if _, err := windows.GetsockoptInt(socket(fd), windows.SOL_SOCKET, soType); err != nil {
		return fmt.Errorf("%s fd %d: Windows backends watch sockets only: %w", call, fd, os.NewSyscallError(call, err))
	}
	return nil
}

// checkOpen is the kit's check before it grows its tables to take fd: fd
// must be an open handle. One that is no socket passes here, for the
// backend to refuse with its own name (checkSocket).
func checkOpen(op string, fd int) error {
	_, err := windows.GetsockoptInt(socket(fd), windows.SOL_SOCKET, soType)
	if err != nil && fd&3 == 0 {
		var flags uint32
		if r, _, _ := syscall.SyscallN(procGetHandleInformation.Addr(), uintptr(fd), uintptr(unsafe.Pointer(&flags))); r != 0 {
			return nil
		}
	}
	if err != nil {
		return fmt.Errorf("%s fd %d: %w", op, fd, os.NewSyscallError("getsockopt", err))
	}
	return nil
}

// setNonblock switches a socket between blocking and non-blocking
// (ioctlsocket FIONBIO; syscall.SetNonblock is a no-op on Windows).
func setNonblock(s windows.Handle, on bool) error {
	var arg uint32
	if on {
		arg = 1
	}
	r, _, err := syscall.SyscallN(procIoctlsocket.Addr(), uintptr(s), fionbio, uintptr(unsafe.Pointer(&arg)))
	if failed(r) {
		return os.NewSyscallError("ioctlsocket", err)
	}
	return nil
}

// send and recv are Winsock's, on a non-blocking socket: (-1,
// WSAEWOULDBLOCK) when they would block.
func send(s windows.Handle, p []byte, flags int) (int, error) { return transfer(procSend, s, p, flags) }
func recv(s windows.Handle, p []byte, flags int) (int, error) { return transfer(procRecv, s, p, flags) }

func transfer(proc *windows.LazyProc, s windows.Handle, p []byte, flags int) (int, error) {
	var ptr *byte
	if len(p) > 0 {
		ptr = &p[0]
	}
	r, _, err := syscall.SyscallN(proc.Addr(), uintptr(s), uintptr(unsafe.Pointer(ptr)), uintptr(len(p)), uintptr(flags))
	if failed(r) {
		return -1, err
	}
	return int(int32(r)), nil
}

// failed reports whether a Winsock call that returns a C int returned
// SOCKET_ERROR (-1); only the low 32 bits of r are the int.
func failed(r uintptr) bool { return int32(r) == -1 }
