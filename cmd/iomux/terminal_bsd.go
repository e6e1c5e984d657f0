//go:build darwin || dragonfly || freebsd || netbsd || openbsd

package main

import "golang.org/x/sys/unix"

// The termios ioctls (Linux calls them TCGETS and TCSETS).
const (
	ioctlGetTermios = unix.TIOCGETA
	ioctlSetTermios = unix.TIOCSETA
)

// The window size ioctl (the same name on Linux).
const ioctlGetWinsize = unix.TIOCGWINSZ
