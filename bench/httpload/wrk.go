package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/iomux/iomux/bench/internal/procstat"
	"golang.org/x/sys/unix"
)

// runWrk checks --path with --pipeline requests on one connection, runs
// wrk for --warmup, then measures a wrk run of --duration.
func runWrk(cfg config) (*result, error) {
	res := &result{Mode: "http", Addr: cfg.addr, Path: cfg.path, Conns: cfg.conns, Pipeline: cfg.pipeline}
	bin, err := exec.LookPath("wrk")
	if err != nil {
		return nil, fmt.Errorf("wrk: %w (apt-get install wrk)", err)
	}
	checkPipelined(cfg, res)
	if res.Errors+res.Mismatches > 0 {
		return res, nil
	}
	if w := wholeSeconds(cfg.warmup); w > 0 {
		if out, err := exec.Command(bin, wrkArgs(cfg, w, false)...).CombinedOutput(); err != nil {
			return nil, fmt.Errorf("wrk (warmup): %v: %s", err, out)
		}
	}
	var cpu0, cpu1 procstat.CPU
	if cfg.serverPID > 0 {
		cpu0, _ = procstat.ReadCPU(cfg.serverPID)
	}
	child0 := childrenCPU()
	out, err := exec.Command(bin, wrkArgs(cfg, wholeSeconds(cfg.duration), true)...).CombinedOutput()
	child := childrenCPU() - child0
	if cfg.serverPID > 0 {
		cpu1, _ = procstat.ReadCPU(cfg.serverPID)
		res.ServerRSSKiB, _ = procstat.ReadRSS(cfg.serverPID)
	}
	if err != nil {
		return nil, fmt.Errorf("wrk: %v: %s", err, out)
	}
	if err := parseWrk(string(out), res); err != nil {
		return nil, err
	}
	if n := float64(res.Requests); n > 0 {
		user, sys := cpu1.Sub(cpu0)
		if cfg.serverPID > 0 {
			res.ServerUserUsPerRT = float64(user.Microseconds()) / n
			res.ServerSysUsPerRT = float64(sys.Microseconds()) / n
			res.ServerCPUUsPerRT = float64((user + sys).Microseconds()) / n
		}
		res.ClientCPUUsPerRT = float64(child.Microseconds()) / n
	} else {
		res.Note(false, "wrk completed no request")
	}
	return res, nil
}

// wholeSeconds is d in whole seconds, as wrk's -d takes it (no fractions).
func wholeSeconds(d time.Duration) int { return int(d.Round(time.Second) / time.Second) }

func wrkArgs(cfg config, seconds int, latency bool) []string {
	args := []string{"-t1", "-c" + strconv.Itoa(cfg.conns), "-d" + strconv.Itoa(max(seconds, 1)) + "s"}
	if latency {
		args = append(args, "--latency")
	}
	if cfg.script != "" {
		args = append(args, "-s", cfg.script)
	}
	return append(args, "http://"+cfg.addr+cfg.path)
}

// childrenCPU is the CPU time of the child processes waited for so far.
func childrenCPU() time.Duration {
	var ru unix.Rusage
	if unix.Getrusage(unix.RUSAGE_CHILDREN, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

var (
	wrkTotal   = regexp.MustCompile(`(\d+) requests in ([\d.]+)(us|ms|s|m), ([\d.]+)(B|KB|MB|GB|TB) read`)
	wrkPercent = regexp.MustCompile(`(?m)^\s+(50|99)%\s+([\d.]+)(us|ms|s|m)\s*$`)
	wrkSocket  = regexp.MustCompile(`Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)`)
	wrkStatus  = regexp.MustCompile(`Non-2xx or 3xx responses: (\d+)`)
)

// parseWrk reads what wrk --latency printed into res: requests, their
// rate, the bytes read, p50 and p99, and its errors.
func parseWrk(out string, res *result) error {
	m := wrkTotal.FindStringSubmatch(out)
	if m == nil {
		return fmt.Errorf("wrk printed no total: %q", out)
	}
	res.Requests, _ = strconv.ParseInt(m[1], 10, 64)
	res.Seconds = wrkTime(m[2], m[3]).Seconds()
	read, _ := strconv.ParseFloat(m[4], 64)
	for _, u := range []string{"KB", "MB", "GB", "TB"} {
		read *= 1024
		if u == m[5] {
			break
		}
	}
	if m[5] == "B" {
		read /= 1024
	}
	if res.Seconds > 0 {
		res.RTPerSec = float64(res.Requests) / res.Seconds
		res.MBPerSec = read / res.Seconds / 1e6
	}
	for _, p := range wrkPercent.FindAllStringSubmatch(out, -1) {
		us := float64(wrkTime(p[2], p[3]).Nanoseconds()) / 1e3
		if p[1] == "50" {
			res.P50us = us
		} else {
			res.P99us = us
		}
	}
	if s := wrkSocket.FindStringSubmatch(out); s != nil {
		for i, what := range []string{"connect", "read", "write", "timeout"} {
			if n, _ := strconv.ParseInt(s[i+1], 10, 64); n > 0 {
				res.Note(false, "wrk: %d socket errors (%s)", n, what)
				res.Errors += n - 1
			}
		}
	}
	if s := wrkStatus.FindStringSubmatch(out); s != nil {
		n, _ := strconv.ParseInt(s[1], 10, 64)
		res.Note(true, "wrk: %d responses neither 2xx nor 3xx", n)
		res.Mismatches += n - 1
	}
	return nil
}

func wrkTime(v, unit string) time.Duration {
	f, _ := strconv.ParseFloat(v, 64)
	scale := map[string]time.Duration{"us": time.Microsecond, "ms": time.Millisecond, "s": time.Second, "m": time.Minute}[unit]
	return time.Duration(f * float64(scale))
}

// checkPipelined sends --pipeline requests for --path in one write on one
// connection and checks every response (status 200, body --expect, in
// order): what wrk does not check.
func checkPipelined(cfg config, res *result) {
	c, err := net.DialTimeout("tcp", cfg.addr, 5*time.Second)
	if err != nil {
		res.Note(false, "check: %v", err)
		return
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	req := fmt.Sprintf("GET %s HTTP/1.1\r\nHost: %s\r\n\r\n", cfg.path, cfg.addr)
	if _, err := c.Write([]byte(strings.Repeat(req, cfg.pipeline))); err != nil {
		res.Note(false, "check: %v", err)
		return
	}
	br := bufio.NewReader(c)
	for i := range cfg.pipeline {
		if err := readResponse(br, cfg.expect); err != nil {
			res.Note(true, "check: response %d of %d pipelined: %v", i+1, cfg.pipeline, err)
			return
		}
	}
}

// readResponse reads one response to a GET and checks it: 200, and the
// body expect unless expect is "".
func readResponse(br *bufio.Reader, expect string) error {
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("status %s", resp.Status)
	}
	if expect != "" && string(body) != expect {
		return fmt.Errorf("body %.40q, want %q", string(body), expect)
	}
	return nil
}
