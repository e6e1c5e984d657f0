package main

import "golang.org/x/sys/unix"

// shrinkPipe makes the pipe's buffer as small as it can be, a page, so a
// test fills it quickly.
func shrinkPipe(fd int) { unix.FcntlInt(uintptr(fd), unix.F_SETPIPE_SZ, 4096) }
