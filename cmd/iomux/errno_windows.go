package main

import (
	"errors"

	"golang.org/x/sys/windows"
)

// errNotConn is a shutdown of a socket the peer has already reset.
var errNotConn = windows.WSAENOTCONN

// brokenPipe reports whether a write failed because the reader of the
// pipe is gone: Windows says ERROR_BROKEN_PIPE, or ERROR_NO_DATA while
// the pipe is being closed (there is no EPIPE, nor SIGPIPE).
func brokenPipe(err error) bool {
	return errors.Is(err, windows.ERROR_BROKEN_PIPE) || errors.Is(err, windows.ERROR_NO_DATA) ||
		errors.Is(err, windows.WSAECONNRESET)
}
