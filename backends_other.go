//go:build unix && !linux && !darwin && !dragonfly && !freebsd && !netbsd && !openbsd

package iomux

// backends on other Unix systems: the portable mechanisms only.
var backends = []*backend{&pollBackend, &selectBackend}
