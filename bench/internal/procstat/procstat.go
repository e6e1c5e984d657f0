// Package procstat reads what bench's load generators report of a server
// process from /proc (Linux): its CPU time and its resident memory.
package procstat

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// ClockTicks is USER_HZ, the unit of utime and stime in /proc/PID/stat; the
// kernel fixes it at 100 for user space on every Linux architecture.
const ClockTicks = 100

// CPU is a process's CPU time so far, in ClockTicks, all its threads
// together.
type CPU struct{ User, System int64 }

// Sub returns the user and system time spent from c0 to c.
func (c CPU) Sub(c0 CPU) (user, system time.Duration) {
	tick := time.Second / ClockTicks
	return time.Duration(c.User-c0.User) * tick, time.Duration(c.System-c0.System) * tick
}

// ReadCPU reads utime and stime (fields 14 and 15) of /proc/PID/stat.
func ReadCPU(pid int) (CPU, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return CPU{}, err
	}
	// The command name (field 2) may hold spaces: fields count from after ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return CPU{}, fmt.Errorf("/proc/%d/stat: unexpected format", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return CPU{}, fmt.Errorf("/proc/%d/stat: too few fields", pid)
	}
	u, err1 := strconv.ParseInt(f[11], 10, 64)
	s, err2 := strconv.ParseInt(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return CPU{}, err
	}
	return CPU{User: u, System: s}, nil
}

// ReadRSS reads VmRSS of /proc/PID/status, in KiB.
func ReadRSS(pid int) (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			return strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
		}
	}
	return 0, fmt.Errorf("/proc/%d/status: no VmRSS", pid)
}
