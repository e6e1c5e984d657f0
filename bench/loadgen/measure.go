package main

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// ---- progress line ----

type progress struct {
	w     io.Writer
	on    bool
	st    *echoStats
	start time.Duration
	last  time.Duration
	lastN int64
}

func newProgress(w io.Writer, st *echoStats) *progress { return &progress{w: w, st: st} }

func (p *progress) begin(now time.Duration) { p.start, p.last, p.on = now, now, true }

func (p *progress) tick(now time.Duration) {
	if p.w == nil || !p.on || now-p.last < time.Second {
		return
	}
	rate := float64(p.st.messages-p.lastN) / (now - p.last).Seconds()
	fmt.Fprintf(p.w, "\r%5.1fs  %10.0f rt/s  p99 %8.1f µs  errors %d  mismatches %d ",
		(now - p.start).Seconds(), rate, p.st.hist.Quantile(0.99)/1e3, p.st.errors, p.st.mismatches)
	p.last, p.lastN = now, p.st.messages
}

func (p *progress) end() {
	if p.w != nil && p.lastN > 0 {
		p.on = false
		fmt.Fprint(p.w, "\r\033[K")
	}
}

// ---- the server's side, from /proc ----

// selfCPU is the CPU time (user plus system) this process has used.
func selfCPU() time.Duration {
	var ru unix.Rusage
	if unix.Getrusage(unix.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// perfCounter counts a process's system calls with perf stat for as long
// as it runs.
type perfCounter struct {
	cmd *exec.Cmd
	out *os.File
	err error
}

func startPerf(pid int) *perfCounter {
	p := &perfCounter{}
	p.out, p.err = os.CreateTemp("", "iomux-perf-*.csv")
	if p.err != nil {
		return p
	}
	p.cmd = exec.Command("perf", "stat", "-x,", "-e", "raw_syscalls:sys_enter", "-p", strconv.Itoa(pid), "-o", p.out.Name())
	p.err = p.cmd.Start()
	if p.err == nil {
		// perf needs a moment to attach. The load generator waits with it
		// (this runs on its thread), so the server is idle meanwhile.
		time.Sleep(300 * time.Millisecond)
	}
	return p
}

// stop ends perf and returns the count it printed.
func (p *perfCounter) stop() (int64, error) {
	if p.out != nil {
		defer os.Remove(p.out.Name())
		defer p.out.Close()
	}
	if p.err != nil {
		return 0, p.err
	}
	p.cmd.Process.Signal(os.Interrupt)
	p.cmd.Wait()
	b, err := os.ReadFile(p.out.Name())
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Split(line, ",")
		if len(f) > 2 && strings.Contains(line, "raw_syscalls:sys_enter") {
			return strconv.ParseInt(f[0], 10, 64)
		}
	}
	return 0, fmt.Errorf("perf stat printed no count: %q", strings.TrimSpace(string(b)))
}
