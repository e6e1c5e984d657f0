package main

import (
	"fmt"
	"io"
	"strings"
)

// The TLS part of RESULTS.md: the scenarios bench/run runs with --tls
// (tls-pp64-c50, tls-pp16k-c50, tls-handshakes, tls-idle), for the peers
// that serve TLS, and the TLS issue's goals, which are stated against Go
// net + crypto/tls: peer goalPeer.

const goalPeer = "gonet"

var tlsColumns = []column{
	{"TLS 64 B C=50 rt/s", "tls-pp64-c50", func(r *result) float64 { return r.RTPerSec }, "%.0f", false},
	{"TLS 64 B C=50 server CPU µs/rt", "tls-pp64-c50", func(r *result) float64 { return r.CPUUs }, "%.2f", true},
	{"… user µs/rt", "tls-pp64-c50", func(r *result) float64 { return r.UserUs }, "%.2f", true},
	{"TLS 64 B C=50 generator CPU µs/rt", "tls-pp64-c50", func(r *result) float64 { return r.ClientCPUUs }, "%.2f", true},
	{"TLS 16 KiB C=50 MB/s", "tls-pp16k-c50", func(r *result) float64 { return r.MBPerSec }, "%.0f", false},
	{"TLS 16 KiB C=50 server CPU µs/rt", "tls-pp16k-c50", func(r *result) float64 { return r.CPUUs }, "%.1f", true},
	{"handshakes/s", "tls-handshakes", func(r *result) float64 { return r.HandshakesPerSec }, "%.0f", false},
	{"server CPU µs/handshake", "tls-handshakes", func(r *result) float64 { return r.CPUUsPerHandshake }, "%.0f", true},
	{"generator CPU µs/handshake", "tls-handshakes", func(r *result) float64 { return r.ClientUsPerHS }, "%.0f", true},
	{"TLS idle KiB/conn", "tls-idle", func(r *result) float64 { return r.IdleKiBPer }, "%.2f", true},
}

// tlsChartPanels are the TLS figures results.svg draws.
var tlsChartPanels = []string{"TLS 64 B C=50 server CPU µs/rt", "TLS 16 KiB C=50 MB/s",
	"server CPU µs/handshake", "TLS idle KiB/conn"}

const tlsIntro = "The same servers with TLS, where they have it, in the same rounds: the load generator's TLS is crypto/tls through internal/tlssession (full handshakes, no session resumption), all handshakes done before the window. 64 B and 16 KiB ping-pong at C=50; handshakes: 50 connections at once, each over and over: connect, full handshake (ECDSA P-256 certificate), one 64 B echo, close; idle: server RSS growth per connection, 5,000 connections each handshaken and echoed once, then held. When the generator's CPU per handshake is above the server's, its core is what bounds handshakes/s, and server CPU per handshake is the figure that separates the servers (a server core saturated with handshakes would do 10^6 / that many per second).\n\n"

// writeTLSParams lists what each peer's TLS runs negotiated, so a cipher
// that differs (a fork's preference) is seen beside the figures it moves.
func writeTLSParams(w io.Writer, rep *report) {
	var lines []string
	for _, p := range rep.tls.peers {
		if v := rep.tlsParams[p]; v != "" {
			lines = append(lines, fmt.Sprintf("- %s: %s\n", p, v))
		}
	}
	if len(lines) > 0 {
		fmt.Fprintf(w, "\n### TLS negotiated (version, cipher suite, key exchange)\n\n%s", strings.Join(lines, ""))
	}
}

// writeTLSGoals holds ref's TLS figures against the goals, met or
// not on the medians, with the spreads to read them by.
func writeTLSGoals(w io.Writer, t *table, ref string) {
	if _, ok := t.median[ref]; !ok {
		return
	}
	if _, ok := t.median[goalPeer]; !ok {
		return
	}
	fmt.Fprintf(w, "\n### TLS against the issue's goals: %s against %s (Go net + crypto/tls)\n\n", ref, goalPeer)
	// cmp holds ref's median of one column against goalPeer's.
	cmp := func(title, unit string, limit float64, atMost bool) string {
		text, ok := goal{title, unit, limit, atMost}.check(t, ref, goalPeer, false)
		if !ok {
			return title + ": not measured"
		}
		return title + " " + text
	}
	fmt.Fprintf(w, "- CPU per round trip no worse than Go net's: %s; %s\n",
		cmp("TLS 64 B C=50 server CPU µs/rt", " µs", 1, true), cmp("TLS 16 KiB C=50 server CPU µs/rt", " µs", 1, true))
	fmt.Fprintf(w, "- idle memory per TLS connection at most 1/3 of Go net's: %s\n",
		cmp("TLS idle KiB/conn", " KiB", 1.0/3, true))
	fmt.Fprintf(w, "- handshakes/s within 10 %% of Go net's: %s; for the server's own cost, %s\n",
		cmp("handshakes/s", "", 0.9, false), cmp("server CPU µs/handshake", " µs", 1/0.9, true))
}
