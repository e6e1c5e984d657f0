package iomux

// backends are Windows' mechanisms, best first. All of them watch sockets
// only.
var backends = []*backend{&afdBackend, &pollBackend, &selectBackend}
