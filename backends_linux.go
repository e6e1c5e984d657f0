package iomux

import "golang.org/x/sys/unix"

// backends are Linux's mechanisms, best first.
var backends = []backend{
	{"epoll", openEpoll},
	{"poll", openPoll},
	{"select", openSelect},
}

const pollRDHUP = unix.POLLRDHUP
