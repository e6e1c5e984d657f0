package main

import (
	"bytes"
	"strings"
	"testing"
)

// rawTLS is a run with both plain and TLS scenarios: cepoll has no TLS,
// nbio's TLS negotiated another cipher suite.
const rawTLS = `{"peer":"iomux-epoll","scenario":"pp64-c50","round":1,"result":{"rt_per_s":100,"server_cpu_us_per_rt":10}}
{"peer":"cepoll","scenario":"pp64-c50","round":1,"result":{"rt_per_s":120,"server_cpu_us_per_rt":8}}
{"peer":"iomux-epoll","scenario":"tls-pp64-c50","round":1,"result":{"rt_per_s":90,"server_cpu_us_per_rt":9,"tls":true,"tls_version":"TLS 1.3","tls_cipher":"TLS_AES_128_GCM_SHA256","tls_group":"X25519MLKEM768"}}
{"peer":"gonet","scenario":"tls-pp64-c50","round":1,"result":{"rt_per_s":80,"server_cpu_us_per_rt":10,"tls":true,"tls_version":"TLS 1.3","tls_cipher":"TLS_AES_128_GCM_SHA256","tls_group":"X25519MLKEM768"}}
{"peer":"nbio","scenario":"tls-pp64-c50","round":1,"result":{"rt_per_s":85,"server_cpu_us_per_rt":12,"tls":true,"tls_version":"TLS 1.3","tls_cipher":"TLS_CHACHA20_POLY1305_SHA256","tls_group":"X25519MLKEM768"}}
{"peer":"iomux-epoll","scenario":"tls-pp64-c50","round":2,"result":{"rt_per_s":110,"server_cpu_us_per_rt":11}}
{"peer":"gonet","scenario":"tls-pp64-c50","round":2,"result":{"rt_per_s":80,"server_cpu_us_per_rt":10}}
{"peer":"iomux-epoll","scenario":"tls-handshakes","round":1,"result":{"handshakes_per_s":1800,"server_cpu_us_per_handshake":500,"client_cpu_us_per_handshake":540}}
{"peer":"gonet","scenario":"tls-handshakes","round":1,"result":{"handshakes_per_s":2100,"server_cpu_us_per_handshake":480,"client_cpu_us_per_handshake":470}}
{"peer":"iomux-epoll","scenario":"tls-idle","round":1,"result":{"idle_kib_per_conn":10}}
{"peer":"gonet","scenario":"tls-idle","round":1,"result":{"idle_kib_per_conn":45}}
{"peer":"nbio","scenario":"tls-idle","round":1,"error":"exit 1: connection 3 of 5000: TLS handshake: EOF"}
`

func TestReportTLS(t *testing.T) {
	rep := tabulate(loadRaw(t, rawTLS))
	if got := strings.Join(rep.plain.peers, ","); got != "iomux-epoll,cepoll" {
		t.Errorf("plain table peers %s, want iomux-epoll,cepoll", got)
	}
	if got := strings.Join(rep.tls.peers, ","); got != "iomux-epoll,gonet,nbio" {
		t.Errorf("TLS table peers %s, want those that ran TLS: iomux-epoll,gonet,nbio", got)
	}
	var md bytes.Buffer
	writeMarkdown(&md, rep, "iomux-epoll", "", true, "results.svg")
	out := md.String()
	for _, want := range []string{
		"\n## TLS\n",
		"| peer | TLS 64 B C=50 rt/s | TLS 64 B C=50 server CPU µs/rt |",
		"| iomux-epoll | 100 | 10.00 |", // medians of 90/110 and 9/11
		"| gonet | 80 | 10.00 |",
		"| nbio | 85 | 12.00 |",
		"| 1800 | 500 | 540 | 10.00 |\n", // handshakes, CPU per handshake, generator, idle
		"### TLS ratios: peer / iomux-epoll",
		"| gonet | 0.80 | 1.00 |",
		"### TLS spread",
		"| iomux-epoll | 20 | 20 |", // (110-90)/100, (11-9)/10
		"- nbio: TLS 1.3, TLS_CHACHA20_POLY1305_SHA256, X25519MLKEM768",
		"- gonet: TLS 1.3, TLS_AES_128_GCM_SHA256, X25519MLKEM768",
		"TLS 64 B C=50 server CPU µs/rt 10.00 against 10.00 µs (×1.000; spreads 20 % and 0 %): met, within the spreads",
		"TLS 16 KiB C=50 server CPU µs/rt: not measured",
		"TLS idle KiB/conn 10.00 against 45.00 KiB (×0.222; spreads — and —): met\n",
		"handshakes/s 1800 against 2100 (×0.857; spreads — and —): not met",
		"server CPU µs/handshake 500 against 480 µs (×1.042; spreads — and —): met",
		"nbio tls-idle round 1: exit 1: connection 3 of 5000: TLS handshake: EOF",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
	var svg bytes.Buffer
	if err := writeChart(&svg, rep, "iomux-epoll"); err != nil {
		t.Fatal(err)
	}
	svgLines(t, svg.Bytes())
	chart := svg.String()
	for _, want := range []string{"TLS idle KiB/conn", "server CPU µs/handshake", ">45.00<"} {
		if !strings.Contains(chart, want) {
			t.Errorf("chart lacks %q", want)
		}
	}
}
