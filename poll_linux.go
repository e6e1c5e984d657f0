package iomux

import "golang.org/x/sys/unix"

// pollRDHUP is poll(2)'s read hang-up, Linux's own.
const pollRDHUP = unix.POLLRDHUP

// pollReaderClosed: Linux's poll reports POLLERR on a pipe's write end once
// its reader is gone.
const pollReaderClosed = Writable | Error
