//go:build unix

package main

import (
	"errors"

	"golang.org/x/sys/unix"
)

// errNotConn is a shutdown of a socket the peer has already reset.
var errNotConn = unix.ENOTCONN

// brokenPipe reports whether a write failed because the reader of the
// pipe (or socket) is gone.
func brokenPipe(err error) bool { return errors.Is(err, unix.EPIPE) }
