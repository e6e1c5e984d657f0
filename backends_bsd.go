//go:build darwin || dragonfly || freebsd || netbsd || openbsd

package iomux

// backends are the BSDs' mechanisms, best first.
var backends = []backend{
	{"kqueue", openKqueue},
	{"poll", openPoll},
	{"select", openSelect},
}

// pollRDHUP is zero where poll(2) cannot report a read hang-up portably;
// kqueue reports it instead.
const pollRDHUP = 0
