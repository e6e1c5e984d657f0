package main

import (
	"bytes"
	"strings"
	"testing"
)

// rawWS is a run of the WebSocket scenarios as bench/wsload prints them:
// two rounds of echo for wsiomux and wsgws, one of the rest; wscoder's
// TLS idle run failed.
const rawWS = `{"peer":"wsiomux","scenario":"ws-echo","round":1,"result":{"mode":"ws-echo","rt_per_s":60000,"p99_us":9000,"server_cpu_us_per_rt":6,"server_user_us_per_rt":2,"server_sys_us_per_rt":4,"client_cpu_us_per_rt":10}}
{"peer":"wsgws","scenario":"ws-echo","round":1,"result":{"mode":"ws-echo","rt_per_s":50000,"p99_us":12000,"server_cpu_us_per_rt":9}}
{"peer":"wsiomux","scenario":"ws-echo","round":2,"result":{"mode":"ws-echo","rt_per_s":66000,"p99_us":11000,"server_cpu_us_per_rt":8,"server_user_us_per_rt":3,"server_sys_us_per_rt":5,"client_cpu_us_per_rt":10}}
{"peer":"wsgws","scenario":"ws-echo","round":2,"result":{"mode":"ws-echo","rt_per_s":54000,"p99_us":12000,"server_cpu_us_per_rt":9}}
{"peer":"wsiomux","scenario":"ws-upgrades","round":1,"result":{"mode":"ws-upgrades","upgrades_per_s":8000,"server_cpu_us_per_upgrade":50}}
{"peer":"wsgorilla","scenario":"ws-upgrades","round":1,"result":{"mode":"ws-upgrades","upgrades_per_s":7000,"server_cpu_us_per_upgrade":70}}
{"peer":"wsiomux","scenario":"ws-idle","round":1,"result":{"mode":"ws-idle","idle_kib_per_conn":1.25,"broadcast_first_ms":5,"broadcast_ms":20,"server_cpu_ms_per_broadcast":90}}
{"peer":"wsgorilla","scenario":"ws-idle","round":1,"result":{"mode":"ws-idle","idle_kib_per_conn":18,"broadcast_ms":30,"server_cpu_ms_per_broadcast":110}}
{"peer":"wsnbio","scenario":"ws-idle","round":1,"result":{"mode":"ws-idle","idle_kib_per_conn":1.5,"broadcast_ms":15,"server_cpu_ms_per_broadcast":100}}
{"peer":"wsiomux","scenario":"ws-idle-deflate","round":1,"result":{"mode":"ws-idle","idle_kib_per_conn":1.5,"deflate":true,"extension":"permessage-deflate; server_no_context_takeover; client_no_context_takeover"}}
{"peer":"wsiomux","scenario":"ws-tls-idle","round":1,"result":{"mode":"ws-idle","idle_kib_per_conn":12,"tls":true,"tls_version":"TLS 1.3","tls_cipher":"TLS_AES_128_GCM_SHA256","tls_group":"X25519MLKEM768"}}
{"peer":"wscoder","scenario":"ws-tls-idle","round":1,"error":"exit 1: connection 7: EOF"}
`

func TestReportWS(t *testing.T) {
	rep := tabulate(loadRaw(t, rawWS))
	if got := strings.Join(rep.ws.peers, ","); got != "wsiomux,wsgws,wsgorilla,wsnbio,wscoder" {
		t.Errorf("WebSocket table peers %s", got)
	}
	if len(rep.plain.peers)+len(rep.tls.peers)+len(rep.proxy.peers)+len(rep.http.peers) > 0 {
		t.Errorf("WebSocket runs in other tables: %v %v %v %v", rep.plain.peers, rep.tls.peers, rep.proxy.peers, rep.http.peers)
	}
	var md bytes.Buffer
	writeMarkdown(&md, rep, "iomux-epoll", "", true, "results.svg")
	out := md.String()
	for _, want := range []string{
		"\n## WebSocket\n",
		"| peer | echo 1 KiB C=1000 msg/s | echo server CPU µs/msg |",
		"| wsiomux | 63000 | 7.00 | 2.50 | 4.50 | 10.0 | 10.00 | 8000 | 50.0 | 1280 | 1536 | 12288 | — | 5.0 | 20.0 | 90.0 |",
		"| wscoder | — | — | — | — | — | — | — | — | — | — | — | — | — | — | — |",
		"### WebSocket ratios: peer / wsiomux",
		"### WebSocket spread",
		"- wsiomux: TLS 1.3, TLS_AES_128_GCM_SHA256, X25519MLKEM768; `permessage-deflate; server_no_context_takeover; client_no_context_takeover`\n",
		"### WebSocket against the issue's goals",
		"- idle plain connection at most 1 KiB: 1280 B against 1024 B (spread —): not met; " +
			"at most 1/4 of gorilla's: wsiomux 1280 against wsgorilla 18432 B (×0.069; spreads — and —): met; " +
			"below nbio's: wsiomux 1280 against wsnbio 1536 B (×0.833; spreads — and —): met\n",
		"- echo messages/s at least gws's: wsiomux 63000 against wsgws 52000 msg/s (×1.212; spreads 10 % and 8 %): met; " +
			"with less CPU per message: wsiomux 7.00 against wsgws 9.00 µs (×0.778; spreads 29 % and 0 %): met, within the spreads\n",
		"- broadcast faster than every peer: wsiomux against wsgws: not measured; " +
			"wsiomux 20.0 against wsgorilla 30.0 ms (×0.667; spreads — and —): met; " +
			"wsiomux 20.0 against wsnbio 15.0 ms (×1.333; spreads — and —): not met; wsiomux against wscoder: not measured\n",
		"wscoder ws-tls-idle round 1: exit 1: connection 7: EOF",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("RESULTS.md lacks %q", want)
		}
	}
	var svg bytes.Buffer
	if err := writeChart(&svg, rep, "iomux-epoll"); err != nil || !strings.Contains(svg.String(), "broadcast to all ms") {
		t.Errorf("chart: %v, or no broadcast panel", err)
	}
}
