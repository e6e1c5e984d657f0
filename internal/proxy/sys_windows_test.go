package proxy

import "golang.org/x/sys/windows"

var errReset error = windows.WSAECONNRESET
