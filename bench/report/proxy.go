package main

import (
	"fmt"
	"io"
	"math"
)

// The proxy part of RESULTS.md: the scenarios bench/run runs through a
// proxy to one upstream echo server (proxy-pp64-c50, proxy-pp64k-c50,
// proxy-idle), for iomux proxy at one and two loops, a goroutine-per-
// connection io.Copy proxy and HAProxy, and the proxy issue's goals.

// The proxy peers bench/run names: the ratios are against proxyRef.
const (
	proxyRef      = "iomux-proxy"   // iomux proxy --loops 1
	proxyTwoLoops = "iomux-proxy-2" // iomux proxy --loops 2, on the same one core
	proxyIOCopy   = "iocopy"        // peers/iocopy: io.Copy both ways, splice(2)
	proxyHAProxy  = "haproxy"       // HAProxy in TCP mode, one thread
)

var proxyColumns = []column{
	{"proxy 64 B C=50 rt/s", "proxy-pp64-c50", func(r *result) float64 { return r.RTPerSec }, "%.0f", false},
	{"proxy 64 B C=50 p99 µs", "proxy-pp64-c50", func(r *result) float64 { return r.P99us }, "%.0f", true},
	{"proxy 64 B C=50 CPU µs/rt", "proxy-pp64-c50", func(r *result) float64 { return r.CPUUs }, "%.2f", true},
	{"… user µs/rt", "proxy-pp64-c50", func(r *result) float64 { return r.UserUs }, "%.2f", true},
	{"… system µs/rt", "proxy-pp64-c50", func(r *result) float64 { return r.SysUs }, "%.2f", true},
	{"proxy 64 B C=50 generator CPU µs/rt", "proxy-pp64-c50", func(r *result) float64 { return r.ClientCPUUs }, "%.2f", true},
	{"proxy 64 KiB C=50 MB/s", "proxy-pp64k-c50", func(r *result) float64 { return r.MBPerSec }, "%.0f", false},
	{"proxy 64 KiB C=50 CPU s/GB", "proxy-pp64k-c50", cpuPerGB, "%.3f", true},
	{"proxy idle KiB/pair", "proxy-idle", func(r *result) float64 { return r.IdleKiBPer }, "%.2f", true},
}

// cpuPerGB is the proxy's CPU seconds per 10^9 payload bytes relayed each
// way: a round trip carries size bytes from the client to the upstream and
// size bytes back, so 10^9/size round trips move 10^9 bytes each way, and
// cost 10^9/size × (CPU µs per round trip) × 10^-6 s.
func cpuPerGB(r *result) float64 {
	if r.Size <= 0 {
		return math.NaN()
	}
	return r.CPUUs * 1e3 / float64(r.Size)
}

// proxyChartPanels are the proxy figures results.svg draws.
var proxyChartPanels = []string{"proxy 64 B C=50 CPU µs/rt", "proxy 64 KiB C=50 CPU s/GB",
	"proxy 64 B C=50 rt/s", "proxy idle KiB/pair"}

const proxyIntro = "Each proxy relays the load generator's connections to one upstream, the C epoll echo server (peers/cepoll), in the same run: the proxy on core 0, the load generator and the upstream together on core 1, a fresh proxy process per run, one upstream process per scenario that every proxy and round share. " +
	"iomux-proxy is `iomux proxy --loops 1`; iomux-proxy-2 is `--loops 2` on the same one core, so its CPU figures say what a second loop costs, not what it gains; iocopy is a goroutine per connection with io.Copy each way (splice(2) between the two sockets, peers/iocopy); haproxy is HAProxy in TCP mode with one thread. " +
	"CPU is the proxy process's utime+stime over the measured window divided by round trips, a round trip being one message through the proxy to the upstream and back (the upstream's CPU is not counted). " +
	"CPU s/GB = CPU µs per round trip × 10^3 / message size (65,536 B): the proxy's CPU seconds while 10^9 payload bytes cross it from the clients to the upstream and the same 10^9 bytes come back. " +
	"Idle: the proxy's RSS growth per pair (one client connection and the proxy's connection to the upstream), each pair echoed once, then held. " +
	"Core 1 carries both the generator and the upstream, so it, rather than the proxy, may be what bounds rt/s and MB/s: compare the proxies by CPU per round trip and per GB.\n\n"

// writeProxyGoals holds iomux proxy's figures against the goals,
// met or not on the medians, with the spreads to read them by.
func writeProxyGoals(w io.Writer, t *table) {
	if _, ok := t.median[proxyRef]; !ok {
		return
	}
	fmt.Fprint(w, "\n### Proxy against the issue's goals\n\n")
	check := func(g goal, peer, other string) string {
		if text, ok := g.check(t, peer, other, true); ok {
			return text
		}
		return fmt.Sprintf("%s against %s: not measured", peer, other)
	}
	cpu := goal{"proxy 64 B C=50 CPU µs/rt", " µs", 0.8, true}
	fmt.Fprintf(w, "- CPU per round trip (64 B, C=50) at most 0.8× iocopy's: one loop, %s; two loops, %s\n",
		check(cpu, proxyRef, proxyIOCopy), check(cpu, proxyTwoLoops, proxyIOCopy))
	fmt.Fprintf(w, "- CPU per GB relayed (64 KiB, C=50) at most iocopy's: %s\n",
		check(goal{"proxy 64 KiB C=50 CPU s/GB", " s/GB", 1, true}, proxyRef, proxyIOCopy))
	fmt.Fprintf(w, "- RSS per idle pair at most 1/10 of iocopy's: %s\n",
		check(goal{"proxy idle KiB/pair", " KiB", 0.1, true}, proxyRef, proxyIOCopy))
	fmt.Fprintf(w, "- CPU per round trip (64 B, C=50) within 1.2× HAProxy's: %s\n",
		check(goal{cpu.title, cpu.unit, 1.2, true}, proxyRef, proxyHAProxy))
}
