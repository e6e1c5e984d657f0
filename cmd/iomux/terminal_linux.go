package main

import "golang.org/x/sys/unix"

// The termios ioctls (they have other names on the BSDs and macOS).
const (
	ioctlGetTermios = unix.TCGETS
	ioctlSetTermios = unix.TCSETS
)

// The window size ioctl (the same name on the BSDs and macOS).
const ioctlGetWinsize = unix.TIOCGWINSZ
