package main

// The parts of the programs' help that differ on Windows.
const (
	stopHelp        = "Ctrl-C (Windows has no SIGTERM)"
	selectLimitHelp = `--backend select has no descriptor limit on Windows (Winsock's fd_set is sized
to what is registered), but each wait costs in proportion to the clients;
afd, the default, costs in proportion to the ready ones (this holds for
every server).`
)
