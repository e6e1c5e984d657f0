package main

import (
	"fmt"
	"io"
	"strings"
)

// The WebSocket part of RESULTS.md: the scenarios bench/run measures with
// bench/wsload (ws-echo, ws-upgrades, ws-idle with its broadcasts, and
// the idle ones with TLS and permessage-deflate) for iomux's websocket
// package and the other Go WebSocket servers, and the WebSocket issue's
// goals.

// The WebSocket peers bench/run names: the ratios are against wsRef.
const (
	wsRef     = "wsiomux"   // peers/wsiomux: websocket.Upgrade on loophttp
	wsGorilla = "wsgorilla" // peers/wsgorilla: gorilla/websocket on net/http
	wsNBIO    = "wsnbio"    // peers/wsnbio: nbio's websocket on nbhttp
	wsGWS     = "wsgws"     // peers/wsgws: lxzan/gws on net/http
)

var wsColumns = []column{
	{"echo 1 KiB C=1000 msg/s", "ws-echo", func(r *result) float64 { return r.RTPerSec }, "%.0f", false},
	{"echo server CPU µs/msg", "ws-echo", func(r *result) float64 { return r.CPUUs }, "%.2f", true},
	{"… user µs/msg", "ws-echo", func(r *result) float64 { return r.UserUs }, "%.2f", true},
	{"… system µs/msg", "ws-echo", func(r *result) float64 { return r.SysUs }, "%.2f", true},
	{"echo p99 ms", "ws-echo", func(r *result) float64 { return r.P99us / 1e3 }, "%.1f", true},
	{"echo wsload CPU µs/msg", "ws-echo", func(r *result) float64 { return r.ClientCPUUs }, "%.2f", true},
	{"upgrades/s", "ws-upgrades", func(r *result) float64 { return r.UpgradesPerSec }, "%.0f", false},
	{"upgrade server CPU µs", "ws-upgrades", func(r *result) float64 { return r.CPUUsPerUpgrade }, "%.1f", true},
	{"idle B/conn", "ws-idle", idleBytes, "%.0f", true},
	{"idle deflate B/conn", "ws-idle-deflate", idleBytes, "%.0f", true},
	{"TLS idle B/conn", "ws-tls-idle", idleBytes, "%.0f", true},
	{"TLS idle deflate B/conn", "ws-tls-idle-deflate", idleBytes, "%.0f", true},
	{"broadcast to the first ms", "ws-idle", func(r *result) float64 { return r.BroadcastFirstMs }, "%.1f", true},
	{"broadcast to all ms", "ws-idle", func(r *result) float64 { return r.BroadcastMs }, "%.1f", true},
	{"broadcast server CPU ms", "ws-idle", func(r *result) float64 { return r.CPUMsPerBroadcast }, "%.1f", true},
}

// wsChartPanels are the WebSocket figures results.svg draws.
var wsChartPanels = []string{"echo server CPU µs/msg", "upgrade server CPU µs", "idle B/conn", "broadcast to all ms"}

const wsIntro = "Each WebSocket server on core 0 alone, a fresh process per run, the servers taking turns over the rounds; bench/wsload on core 1, its client side of WebSocket written out over net.Conn, a goroutine per connection. " +
	"Every server speaks bench/internal/wspeer's protocol: an echo at /ws (text as text, binary as binary), POST /broadcast sending its body to every open connection; permessage-deflate accepted, each library in its mode without compression context per connection. " +
	"wsiomux is iomux's websocket package, Upgrade from a loophttp handler, on one loop; wsgorilla, wscoder and wsgws run on net/http.Server, wsnbio on nbio's nbhttp. " +
	"echo: 1,000 connections each sending 1 KiB binary messages and waiting for each to come back, checked: messages/s, p99, and the server's utime+stime over the window per message. " +
	"upgrades: 50 connections at once, each over and over: connect, upgrade, one 64 B echo, close handshake (the server's TCP close awaited): cycles/s and the server's CPU per cycle. " +
	"idle: the server's RSS growth per connection, 10,000 connections each upgraded and echoed once (1 KiB of text), held 2 s; with TLS each handshaken (the handshakes' garbage on the server's heap counted); deflate: permessage-deflate offered as browsers offer it, the echo compressed. " +
	"broadcast: on the plain idle run's 10,000 connections, 5 broadcasts of 1 KiB one after the other, each timed from the POST to the first and to the last connection's having it whole (the medians of 5), and the server's CPU per broadcast.\n\n"

// writeWSParams lists what each WebSocket peer's runs negotiated: the
// TLS parameters and the permessage-deflate answer.
func writeWSParams(w io.Writer, rep *report) {
	var lines []string
	for _, p := range rep.ws.peers {
		var what []string
		if v := rep.wsTLS[p]; v != "" {
			what = append(what, v)
		}
		if v := rep.wsExtension[p]; v != "" {
			what = append(what, "`"+v+"`")
		}
		if len(what) > 0 {
			lines = append(lines, fmt.Sprintf("- %s: %s\n", p, strings.Join(what, "; ")))
		}
	}
	if len(lines) > 0 {
		fmt.Fprintf(w, "\n### WebSocket negotiated (TLS version, cipher suite, key exchange; permessage-deflate's answer)\n\n%s", strings.Join(lines, ""))
	}
}

// writeWSGoals holds iomux's figures against the goals, met or
// not on the medians, with the spreads to read them by.
func writeWSGoals(w io.Writer, t *table) {
	if _, ok := t.median[wsRef]; !ok {
		return
	}
	fmt.Fprint(w, "\n### WebSocket against the issue's goals\n\n")
	check := func(g goal, other string) string {
		if text, ok := g.check(t, wsRef, other, true); ok {
			return text
		}
		return fmt.Sprintf("%s against %s: not measured", wsRef, other)
	}
	idle := goal{"idle B/conn", " B", 1, true}
	fmt.Fprintf(w, "- idle plain connection at most 1 KiB: %s; at most 1/4 of gorilla's: %s; below nbio's: %s\n",
		idle.checkBound(t, wsRef, 1024), check(goal{idle.title, idle.unit, 0.25, true}, wsGorilla), check(idle, wsNBIO))
	fmt.Fprintf(w, "- echo messages/s at least gws's: %s; with less CPU per message: %s\n",
		check(goal{"echo 1 KiB C=1000 msg/s", " msg/s", 1, false}, wsGWS),
		check(goal{"echo server CPU µs/msg", " µs", 1, true}, wsGWS))
	var faster []string
	for _, p := range t.peers {
		if p != wsRef {
			faster = append(faster, check(goal{"broadcast to all ms", " ms", 1, true}, p))
		}
	}
	fmt.Fprintf(w, "- broadcast faster than every peer: %s\n", strings.Join(faster, "; "))
}
