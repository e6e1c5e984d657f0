//go:build unix

package main

// The parts of the programs' help that differ between Unix and Windows.
const (
	stopHelp        = "SIGINT or SIGTERM"
	selectLimitHelp = `--backend select can only watch descriptors below 1024 (FD_SETSIZE): past
that, each new client is hung up on, with a warning on stderr at most once a
second; use poll or epoll for more clients (this holds for every server).`
)
