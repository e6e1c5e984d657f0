//go:build darwin || dragonfly || freebsd || netbsd || openbsd

package iomux

// backends are the BSDs' mechanisms, best first.
var backends = []*backend{&kqueueBackend, &pollBackend, &selectBackend}
