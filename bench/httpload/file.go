package main

import (
	"io"
	"net/http"
	"time"

	"github.com/iomux/iomux/bench/internal/procstat"
	"golang.org/x/sys/unix"
)

// runFile GETs --file over one keep-alive connection until --duration has
// passed, and reports MB/s of body and the server's CPU per GB.
func runFile(cfg config) (*result, error) {
	res := &result{Mode: "http-file", Addr: cfg.addr, Path: cfg.file, Conns: 1, Pipeline: 1}
	client := &http.Client{Transport: &http.Transport{DisableCompression: true, MaxIdleConnsPerHost: 1}}
	defer client.CloseIdleConnections()
	url := "http://" + cfg.addr + cfg.file
	// Read straight into a large buffer: io.Copy to io.Discard would go
	// through io.Discard's 8 KiB ReadFrom.
	buf := make([]byte, 256<<10)
	var total int64
	var cpu0, cpu1 procstat.CPU
	if cfg.serverPID > 0 {
		cpu0, _ = procstat.ReadCPU(cfg.serverPID)
	}
	self0 := selfCPU()
	start := time.Now()
	for res.Requests == 0 || time.Since(start) < cfg.duration {
		resp, err := client.Get(url)
		if err != nil {
			return nil, err
		}
		n, err := readAll(resp.Body, buf)
		resp.Body.Close()
		total += n
		res.Requests++
		switch {
		case err != nil:
			res.Note(false, "GET %s: %v after %d bytes", cfg.file, err, n)
		case resp.StatusCode != http.StatusOK:
			res.Note(true, "GET %s: %s", cfg.file, resp.Status)
		case n != resp.ContentLength:
			res.Note(true, "GET %s: %d bytes, Content-Length %d", cfg.file, n, resp.ContentLength)
		}
		res.FileBytes = n
		if res.Errors+res.Mismatches > 0 {
			break
		}
	}
	elapsed := time.Since(start)
	self := selfCPU() - self0
	if cfg.serverPID > 0 {
		cpu1, _ = procstat.ReadCPU(cfg.serverPID)
		res.ServerRSSKiB, _ = procstat.ReadRSS(cfg.serverPID)
	}
	res.Seconds = elapsed.Seconds()
	res.RTPerSec = float64(res.Requests) / res.Seconds
	res.MBPerSec = float64(total) / res.Seconds / 1e6
	if total > 0 {
		user, sys := cpu1.Sub(cpu0)
		gb := float64(total) / 1e9
		if cfg.serverPID > 0 {
			res.ServerCPUSPerGB = (user + sys).Seconds() / gb
			res.ServerCPUUsPerRT = float64((user + sys).Microseconds()) / float64(res.Requests)
			res.ServerUserUsPerRT = float64(user.Microseconds()) / float64(res.Requests)
			res.ServerSysUsPerRT = float64(sys.Microseconds()) / float64(res.Requests)
		}
		res.ClientCPUUsPerRT = float64(self.Microseconds()) / float64(res.Requests)
	}
	return res, nil
}

func readAll(r io.Reader, buf []byte) (int64, error) {
	var n int64
	for {
		m, err := r.Read(buf)
		n += int64(m)
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
}

// selfCPU is the CPU time (user plus system) this process has used.
func selfCPU() time.Duration {
	var ru unix.Rusage
	if unix.Getrusage(unix.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
