//go:build unix

package kv

import "syscall"

// cpuTimes is the process's CPU time in seconds, and its children's
// (INFO's used_cpu_* fields), from getrusage(2).
func cpuTimes() (sys, user, sysChildren, userChildren float64) {
	var self, children syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &self)
	syscall.Getrusage(syscall.RUSAGE_CHILDREN, &children)
	sec := func(t syscall.Timeval) float64 { return float64(t.Sec) + float64(t.Usec)/1e6 }
	return sec(self.Stime), sec(self.Utime), sec(children.Stime), sec(children.Utime)
}
