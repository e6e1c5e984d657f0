//go:build !unix

package http1test

import "syscall"

func errReset() error { return syscall.Errno(10054) } // WSAECONNRESET
