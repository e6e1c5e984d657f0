package iomux

// backends are Linux's mechanisms, best first.
var backends = []*backend{&epollBackend, &pollBackend, &selectBackend}
