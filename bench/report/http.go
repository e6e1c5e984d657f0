package main

import (
	"fmt"
	"io"
	"math"
	"strings"
)

// The HTTP part of RESULTS.md: the scenarios bench/run measures with
// bench/httpload (http-plaintext, http-pipe16, http-idle, http-tls-idle,
// http-file) for iomux http-server, net/http, fasthttp and nbio's nbhttp,
// and the HTTP issue's goals.

// The HTTP peers bench/run names: the ratios are against httpRef.
const (
	httpRef      = "iomux-http" // iomux http-server --loops 1 (loophttp)
	httpNetHTTP  = "nethttp"    // peers/nethttp: the same handlers on net/http.Server
	httpFastHTTP = "fasthttp"   // peers/fasthttp: /plaintext on fasthttp's own API
	httpNBHTTP   = "nbhttp"     // peers/nbhttp: the same handlers on nbio's nbhttp
)

// idleBytes is the RSS one idle connection costs, in bytes.
func idleBytes(r *result) float64 { return r.IdleKiBPer * 1024 }

var httpColumns = []column{
	{"plaintext C=256 req/s", "http-plaintext", func(r *result) float64 { return r.RTPerSec }, "%.0f", false},
	{"plaintext server CPU µs/req", "http-plaintext", func(r *result) float64 { return r.CPUUs }, "%.2f", true},
	{"… user µs/req", "http-plaintext", func(r *result) float64 { return r.UserUs }, "%.2f", true},
	{"… system µs/req", "http-plaintext", func(r *result) float64 { return r.SysUs }, "%.2f", true},
	{"plaintext p99 ms", "http-plaintext", func(r *result) float64 { return r.P99us / 1e3 }, "%.1f", true},
	{"plaintext wrk CPU µs/req", "http-plaintext", func(r *result) float64 { return r.ClientCPUUs }, "%.2f", true},
	{"pipelined ×16 req/s", "http-pipe16", func(r *result) float64 { return r.RTPerSec }, "%.0f", false},
	{"pipelined server CPU µs/req", "http-pipe16", func(r *result) float64 { return r.CPUUs }, "%.2f", true},
	{"idle B/conn", "http-idle", idleBytes, "%.0f", true},
	{"TLS idle B/conn", "http-tls-idle", idleBytes, "%.0f", true},
	{"1 GiB file MB/s", "http-file", func(r *result) float64 { return r.MBPerSec }, "%.0f", false},
	{"file server CPU s/GB", "http-file", func(r *result) float64 { return r.CPUSPerGB }, "%.3f", true},
}

// httpChartPanels are the HTTP figures results.svg draws.
var httpChartPanels = []string{"plaintext server CPU µs/req", "pipelined server CPU µs/req",
	"idle B/conn", "file server CPU s/GB"}

const httpIntro = "Each HTTP server on core 0 alone, a fresh process per run, the servers taking turns over the rounds; bench/httpload on core 1 with the wrk it runs (`wrk -t1`). " +
	"iomux-http is `iomux http-server --loops 1` (loophttp); nethttp is the same handlers (internal/httpserver) on net/http.Server; nbhttp the same on nbio's nbhttp; fasthttp answers /plaintext on its own API (it has no http.FileServer, so no file figures). " +
	"plaintext: TechEmpower's /plaintext, wrk with 256 keep-alive connections (`--latency` for p99); pipelined: the same with bench/http/pipeline.lua, 16 requests a write (wrk reports no usable latency there). Server CPU is the server's utime+stime over wrk's measured run divided by the requests it completed (softirq time, the kernel's receive path, is accounted to no process here, for every peer alike); wrk CPU is wrk's own. Other work on the machine moves req/s more than CPU per request: read the spreads. " +
	"idle: the server's RSS growth per keep-alive connection, 10,000 connections each after one request for /plaintext, held, plain and TLS (each handshaken: the garbage of 10,000 handshakes on the server's heap is counted, as a server after a burst of them has it). " +
	"file: one keep-alive connection GETs a 1 GiB file through http.FileServer again and again, reading to nothing: MB/s of body and the server's CPU seconds per 10^9 bytes sent.\n\n"

// writeHTTPParams lists what each HTTP peer's TLS connections negotiated.
func writeHTTPParams(w io.Writer, rep *report) {
	var lines []string
	for _, p := range rep.http.peers {
		if v := rep.httpTLS[p]; v != "" {
			lines = append(lines, fmt.Sprintf("- %s: %s\n", p, v))
		}
	}
	if len(lines) > 0 {
		fmt.Fprintf(w, "\n### HTTP TLS negotiated (version, cipher suite, key exchange)\n\n%s", strings.Join(lines, ""))
	}
}

// writeHTTPGoals holds iomux http-server's figures against the issue's
// goals, met or not on the medians, with the spreads to read them by.
func writeHTTPGoals(w io.Writer, t *table) {
	if _, ok := t.median[httpRef]; !ok {
		return
	}
	fmt.Fprint(w, "\n### HTTP against the issue's goals\n\n")
	check := func(g goal, other string) string {
		if text, ok := g.check(t, httpRef, other, true); ok {
			return text
		}
		return fmt.Sprintf("%s against %s: not measured", httpRef, other)
	}
	fmt.Fprintf(w, "- plaintext requests/s at least net/http's: %s\n",
		check(goal{"plaintext C=256 req/s", " req/s", 1, false}, httpNetHTTP))
	fmt.Fprintf(w, "- plaintext CPU per request at most 0.8× net/http's: %s\n",
		check(goal{"plaintext server CPU µs/req", " µs", 0.8, true}, httpNetHTTP))
	fmt.Fprintf(w, "- pipelined requests/s at least fasthttp's: %s; for the server's own cost, CPU per request %s\n",
		check(goal{"pipelined ×16 req/s", " req/s", 1, false}, httpFastHTTP),
		check(goal{"pipelined server CPU µs/req", " µs", 1, true}, httpFastHTTP))
	idle := goal{"idle B/conn", " B", 1, true}
	fmt.Fprintf(w, "- idle keep-alive connection at most 1 KiB: %s; below nbio's: %s\n",
		idle.checkBound(t, httpRef, 1024), check(idle, httpNBHTTP))
	tlsIdle := goal{"TLS idle B/conn", " B", 1.0 / 3, true}
	fmt.Fprintf(w, "- idle TLS keep-alive connection at most 1/3 of net/http's: %s; below nbio's: %s\n",
		check(tlsIdle, httpNetHTTP), check(goal{tlsIdle.title, tlsIdle.unit, 1, true}, httpNBHTTP))
	fmt.Fprintf(w, "- file serving at net/http's CPU per GB or less: %s\n",
		check(goal{"file server CPU s/GB", " s/GB", 1, true}, httpNetHTTP))
}

// checkBound is check against a fixed bound rather than another peer:
// peer's median at most (atMost) or at least bound.
func (g goal) checkBound(t *table, peer string, bound float64) string {
	a := t.at(peer, g.title)
	if math.IsNaN(a) {
		return "not measured"
	}
	c := t.cols[columnIndex(t.cols, g.title)]
	verdict := "not met"
	if g.atMost && a <= bound || !g.atMost && a >= bound {
		verdict = "met"
	}
	s := t.spreadAt(peer, g.title)
	if math.Abs(a/bound-1) < s {
		verdict += ", within the spread"
	}
	return fmt.Sprintf("%s%s against %s%s (spread %s): %s", cell(a, c.format), g.unit,
		cell(bound, c.format), g.unit, cell(100*s, "%.0f %%"), verdict)
}
