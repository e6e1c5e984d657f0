//go:build unix && !linux

package iomux

// pollRDHUP is 0: other systems' poll(2) has no portable read hang-up (kqueue
// reports it instead).
const pollRDHUP = 0

// pollReaderClosed: the BSDs' poll reports POLLHUP on a pipe's write end once
// its reader is gone, where Linux reports POLLERR.
const pollReaderClosed = Writable | Hangup
