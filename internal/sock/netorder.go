//go:build linux || windows

package sock

import "unsafe"

// networkOrder reads a port as the kernel stores it in a raw socket
// address, big-endian (Accept on Linux and Windows reads the address
// itself, into a stack buffer).
func networkOrder(port uint16) uint16 {
	b := (*[2]byte)(unsafe.Pointer(&port))
	return uint16(b[0])<<8 | uint16(b[1])
}
