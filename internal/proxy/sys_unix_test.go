//go:build unix

package proxy

import "golang.org/x/sys/unix"

var errReset error = unix.ECONNRESET
