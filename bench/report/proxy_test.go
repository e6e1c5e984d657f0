package main

import (
	"bytes"
	"math"
	"strings"
	"testing"
)

// rawProxy is a run with plain echo and proxy scenarios: two rounds of the
// 64 B ping-pong, one of the others; haproxy's idle run failed, and
// iomux-proxy-2 ran the ping-pong alone.
const rawProxy = `{"peer":"iomux-epoll","scenario":"pp64-c50","round":1,"result":{"rt_per_s":100,"server_cpu_us_per_rt":10}}
{"peer":"iomux-proxy","scenario":"proxy-pp64-c50","round":1,"result":{"size":64,"rt_per_s":60000,"p99_us":900,"server_cpu_us_per_rt":9,"server_user_us_per_rt":1,"server_sys_us_per_rt":8}}
{"peer":"iomux-proxy-2","scenario":"proxy-pp64-c50","round":1,"result":{"size":64,"rt_per_s":58000,"p99_us":950,"server_cpu_us_per_rt":11}}
{"peer":"iocopy","scenario":"proxy-pp64-c50","round":1,"result":{"size":64,"rt_per_s":50000,"p99_us":1500,"server_cpu_us_per_rt":12}}
{"peer":"haproxy","scenario":"proxy-pp64-c50","round":1,"result":{"size":64,"rt_per_s":62000,"p99_us":800,"server_cpu_us_per_rt":8}}
{"peer":"iomux-proxy","scenario":"proxy-pp64-c50","round":2,"result":{"size":64,"rt_per_s":62000,"p99_us":1100,"server_cpu_us_per_rt":11,"server_user_us_per_rt":1,"server_sys_us_per_rt":10}}
{"peer":"iomux-proxy-2","scenario":"proxy-pp64-c50","round":2,"result":{"size":64,"rt_per_s":58000,"p99_us":950,"server_cpu_us_per_rt":11}}
{"peer":"iocopy","scenario":"proxy-pp64-c50","round":2,"result":{"size":64,"rt_per_s":50000,"p99_us":1500,"server_cpu_us_per_rt":14}}
{"peer":"haproxy","scenario":"proxy-pp64-c50","round":2,"result":{"size":64,"rt_per_s":62000,"p99_us":800,"server_cpu_us_per_rt":8}}
{"peer":"iomux-proxy","scenario":"proxy-pp64k-c50","round":1,"result":{"size":65536,"rt_per_s":5000,"mb_per_s":327.68,"server_cpu_us_per_rt":32.768}}
{"peer":"iocopy","scenario":"proxy-pp64k-c50","round":1,"result":{"size":65536,"rt_per_s":4000,"mb_per_s":262.144,"server_cpu_us_per_rt":26.2144}}
{"peer":"iomux-proxy","scenario":"proxy-idle","round":1,"result":{"size":64,"idle_kib_per_conn":1.5}}
{"peer":"iocopy","scenario":"proxy-idle","round":1,"result":{"size":64,"idle_kib_per_conn":20}}
{"peer":"haproxy","scenario":"proxy-idle","round":1,"error":"exit 1: idle: only 1200 of 3000 connections echoed within 30s"}
`

func TestReportProxy(t *testing.T) {
	rep := tabulate(loadRaw(t, rawProxy))
	if got := strings.Join(rep.plain.peers, ","); got != "iomux-epoll" {
		t.Errorf("plain table peers %s, want iomux-epoll alone", got)
	}
	if got := strings.Join(rep.proxy.peers, ","); got != "iomux-proxy,iomux-proxy-2,iocopy,haproxy" {
		t.Errorf("proxy table peers %s, want iomux-proxy,iomux-proxy-2,iocopy,haproxy", got)
	}
	var md bytes.Buffer
	writeMarkdown(&md, rep, "iomux-epoll", "", true, "results.svg")
	out := md.String()
	for _, want := range []string{
		"\n## Proxy\n",
		"| peer | proxy 64 B C=50 rt/s | proxy 64 B C=50 p99 µs | proxy 64 B C=50 CPU µs/rt |",
		// medians of 60000/62000, 900/1100, 9/11, 1/1, 8/10; 32.768 µs per
		// 64 KiB round trip is 0.5 s per 10^9 bytes each way
		"| iomux-proxy | 61000 | 1000 | 10.00 | 1.00 | 9.00 | 0.00 | 328 | 0.500 | 1.50 |",
		"| iocopy | 50000 | 1500 | 13.00 | 0.00 | 0.00 | 0.00 | 262 | 0.400 | 20.00 |",
		"| haproxy | 62000 | 800 | 8.00 | 0.00 | 0.00 | 0.00 | — | — | — |",
		"### Proxy ratios: peer / iomux-proxy",
		"| iocopy | 0.82 | 1.50 | 1.30 |",
		"### Proxy spread",
		"| iomux-proxy | 3 | 20 | 20 |", // (62000-60000)/61000, (1100-900)/1000, (11-9)/10
		"### Proxy against the issue's goals",
		"at most 0.8× iocopy's: one loop, iomux-proxy 10.00 against iocopy 13.00 µs (×0.769; spreads 20 % and 15 %): met, within the spreads; " +
			"two loops, iomux-proxy-2 11.00 against iocopy 13.00 µs (×0.846; spreads 0 % and 15 %): not met, within the spreads\n",
		"CPU per GB relayed (64 KiB, C=50) at most iocopy's: iomux-proxy 0.500 against iocopy 0.400 s/GB (×1.250; spreads — and —): not met\n",
		"RSS per idle pair at most 1/10 of iocopy's: iomux-proxy 1.50 against iocopy 20.00 KiB (×0.075; spreads — and —): met\n",
		"within 1.2× HAProxy's: iomux-proxy 10.00 against haproxy 8.00 µs (×1.250; spreads 20 % and 0 %): not met, within the spreads\n",
		"haproxy proxy-idle round 1: exit 1: idle: only 1200 of 3000 connections echoed within 30s",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "TLS") {
		t.Errorf("a run without TLS scenarios has a TLS section:\n%s", out)
	}

	var svg bytes.Buffer
	if err := writeChart(&svg, rep, "iomux-epoll"); err != nil {
		t.Fatal(err)
	}
	svgLines(t, svg.Bytes())
	for _, want := range proxyChartPanels {
		if !strings.Contains(svg.String(), want) {
			t.Errorf("chart lacks the panel %q", want)
		}
	}
}

// TestProxyGoalsNotMeasured: without iocopy and HAProxy, each goal says
// so instead of a verdict; without iomux-proxy there is no goals list.
func TestProxyGoalsNotMeasured(t *testing.T) {
	var only string
	for _, line := range strings.SplitAfter(rawProxy, "\n") {
		if strings.Contains(line, `"peer":"iomux-proxy"`) {
			only += line
		}
	}
	var md bytes.Buffer
	writeMarkdown(&md, tabulate(loadRaw(t, only)), "iomux-epoll", "", false, "")
	out := md.String()
	for _, want := range []string{
		"one loop, iomux-proxy against iocopy: not measured; two loops, iomux-proxy-2 against iocopy: not measured\n",
		"within 1.2× HAProxy's: iomux-proxy against haproxy: not measured\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}

	var iocopyOnly string
	for _, line := range strings.SplitAfter(rawProxy, "\n") {
		if strings.Contains(line, `"peer":"iocopy"`) {
			iocopyOnly += line
		}
	}
	md.Reset()
	writeMarkdown(&md, tabulate(loadRaw(t, iocopyOnly)), "iomux-epoll", "", false, "")
	if out := md.String(); !strings.Contains(out, "## Proxy") || strings.Contains(out, "goals") {
		t.Errorf("without iomux-proxy: want the proxy tables and no goals list:\n%s", out)
	}
}

func TestCPUPerGB(t *testing.T) {
	for _, tc := range []struct {
		r    result
		want float64
	}{
		{result{Size: 65536, CPUUs: 65.536}, 1},  // 65.536 µs per 64 KiB each way: 1 s per 10^9 bytes
		{result{Size: 1000, CPUUs: 1}, 1},        // 10^6 round trips of 1,000 bytes, 1 µs each
		{result{Size: 16384, CPUUs: 8.192}, 0.5}, // half as dear
		{result{Size: 0, CPUUs: 10}, math.NaN()}, // a line without the size
		{result{Size: 64, CPUUs: 0}, 0},          // no CPU measured (no --server-pid)
	} {
		got := cpuPerGB(&tc.r)
		if math.IsNaN(tc.want) != math.IsNaN(got) || !math.IsNaN(got) && math.Abs(got-tc.want) > 1e-9 {
			t.Errorf("cpuPerGB(size %d, %.3f µs/rt) = %v, want %v", tc.r.Size, tc.r.CPUUs, got, tc.want)
		}
	}
}
