package main

import "golang.org/x/sys/unix"

// The termios ioctls (they have other names on the BSDs and macOS).
const (
	ioctlGetTermios = unix.TCGETS
	ioctlSetTermios = unix.TCSETS
)
