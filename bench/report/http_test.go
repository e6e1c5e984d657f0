package main

import (
	"bytes"
	"strings"
	"testing"
)

// rawHTTP is a run of the HTTP scenarios as bench/httpload prints them:
// two rounds of plaintext for iomux-http and nethttp, one of the rest;
// nbhttp's file run failed.
const rawHTTP = `{"peer":"iomux-http","scenario":"http-plaintext","round":1,"result":{"mode":"http","rt_per_s":60000,"p99_us":9000,"server_cpu_us_per_rt":9,"server_user_us_per_rt":5,"server_sys_us_per_rt":4,"client_cpu_us_per_rt":5}}
{"peer":"nethttp","scenario":"http-plaintext","round":1,"result":{"mode":"http","rt_per_s":40000,"p99_us":12000,"server_cpu_us_per_rt":24}}
{"peer":"iomux-http","scenario":"http-plaintext","round":2,"result":{"mode":"http","rt_per_s":62000,"p99_us":11000,"server_cpu_us_per_rt":11,"server_user_us_per_rt":5,"server_sys_us_per_rt":6,"client_cpu_us_per_rt":5}}
{"peer":"nethttp","scenario":"http-plaintext","round":2,"result":{"mode":"http","rt_per_s":42000,"p99_us":12000,"server_cpu_us_per_rt":24}}
{"peer":"fasthttp","scenario":"http-plaintext","round":1,"result":{"mode":"http","rt_per_s":70000,"p99_us":5000,"server_cpu_us_per_rt":13}}
{"peer":"iomux-http","scenario":"http-pipe16","round":1,"result":{"mode":"http","rt_per_s":250000,"server_cpu_us_per_rt":4}}
{"peer":"fasthttp","scenario":"http-pipe16","round":1,"result":{"mode":"http","rt_per_s":500000,"server_cpu_us_per_rt":2}}
{"peer":"iomux-http","scenario":"http-idle","round":1,"result":{"mode":"http-idle","idle_kib_per_conn":1.5}}
{"peer":"nethttp","scenario":"http-idle","round":1,"result":{"mode":"http-idle","idle_kib_per_conn":20}}
{"peer":"nbhttp","scenario":"http-idle","round":1,"result":{"mode":"http-idle","idle_kib_per_conn":1.75}}
{"peer":"iomux-http","scenario":"http-tls-idle","round":1,"result":{"mode":"http-idle","idle_kib_per_conn":12,"tls":true,"tls_version":"TLS 1.3","tls_cipher":"TLS_AES_128_GCM_SHA256","tls_group":"X25519MLKEM768"}}
{"peer":"nethttp","scenario":"http-tls-idle","round":1,"result":{"mode":"http-idle","idle_kib_per_conn":39,"tls":true,"tls_version":"TLS 1.3","tls_cipher":"TLS_AES_128_GCM_SHA256","tls_group":"X25519MLKEM768"}}
{"peer":"iomux-http","scenario":"http-file","round":1,"result":{"mode":"http-file","mb_per_s":1300,"server_cpu_s_per_gb":0.68}}
{"peer":"nethttp","scenario":"http-file","round":1,"result":{"mode":"http-file","mb_per_s":2100,"server_cpu_s_per_gb":0.45}}
{"peer":"nbhttp","scenario":"http-file","round":1,"error":"exit 1: GET /big.bin: unexpected EOF"}
{"peer":"nbhttp","scenario":"http-pipe16","round":1,"result":{"mode":"http","rt_per_s":70000,"server_cpu_us_per_rt":9,"errors":12,"notes":["wrk: 12 socket errors (read)"]}}
`

func TestReportHTTP(t *testing.T) {
	rep := tabulate(loadRaw(t, rawHTTP))
	if got := strings.Join(rep.http.peers, ","); got != "iomux-http,nethttp,fasthttp,nbhttp" {
		t.Errorf("HTTP table peers %s", got)
	}
	if len(rep.plain.peers)+len(rep.tls.peers)+len(rep.proxy.peers) > 0 {
		t.Errorf("HTTP runs in the echo tables: %v %v %v", rep.plain.peers, rep.tls.peers, rep.proxy.peers)
	}
	var md bytes.Buffer
	writeMarkdown(&md, rep, "iomux-epoll", "", true, "results.svg")
	out := md.String()
	for _, want := range []string{
		"\n## HTTP\n",
		"| peer | plaintext C=256 req/s | plaintext server CPU µs/req |",
		"| iomux-http | 61000 | 10.00 | 5.00 | 5.00 | 10.0 | 5.00 | 250000 | 4.00 | 1536 | 12288 | 1300 | 0.680 |",
		"| nbhttp | — | — | — | — | — | — | 70000 | 9.00 | 1792 | — | — | — |",
		"### HTTP ratios: peer / iomux-http",
		"| nethttp | 0.67 | 2.40 |",
		"### HTTP spread",
		"| iomux-http | 3 | 20 |",
		"- iomux-http: TLS 1.3, TLS_AES_128_GCM_SHA256, X25519MLKEM768\n",
		"### HTTP against the issue's goals",
		"requests/s at least net/http's: iomux-http 61000 against nethttp 41000 req/s (×1.488; spreads 3 % and 5 %): met\n",
		"at most 0.8× net/http's: iomux-http 10.00 against nethttp 24.00 µs (×0.417; spreads 20 % and 0 %): met\n",
		"pipelined requests/s at least fasthttp's: iomux-http 250000 against fasthttp 500000 req/s (×0.500; spreads — and —): not met; " +
			"for the server's own cost, CPU per request iomux-http 4.00 against fasthttp 2.00 µs (×2.000; spreads — and —): not met\n",
		"at most 1 KiB: 1536 B against 1024 B (spread —): not met; below nbio's: iomux-http 1536 against nbhttp 1792 B (×0.857; spreads — and —): met\n",
		"at most 1/3 of net/http's: iomux-http 12288 against nethttp 39936 B (×0.308; spreads — and —): met; below nbio's: iomux-http against nbhttp: not measured\n",
		"CPU per GB or less: iomux-http 0.680 against nethttp 0.450 s/GB (×1.511; spreads — and —): not met\n",
		"nbhttp http-file round 1: exit 1: GET /big.bin: unexpected EOF",
		"nbhttp http-pipe16 round 1: 12 errors, 0 mismatches (wrk: 12 socket errors (read))",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "## Proxy") || strings.Contains(out, "## TLS") {
		t.Errorf("a run of HTTP scenarios alone has other sections:\n%s", out)
	}
	var svg bytes.Buffer
	if err := writeChart(&svg, rep, "iomux-epoll"); err != nil {
		t.Fatal(err)
	}
	svgLines(t, svg.Bytes())
	for _, want := range httpChartPanels {
		if !strings.Contains(svg.String(), want) {
			t.Errorf("chart lacks the panel %q", want)
		}
	}
}

func TestCheckBound(t *testing.T) {
	rep := tabulate(loadRaw(t, rawHTTP))
	g := goal{"idle B/conn", " B", 1, true}
	for _, tc := range []struct {
		peer  string
		bound float64
		want  string
	}{
		{"iomux-http", 2048, "1536 B against 2048 B (spread —): met"},
		{"iomux-http", 1024, "1536 B against 1024 B (spread —): not met"},
		{"fasthttp", 1024, "not measured"},
	} {
		if got := g.checkBound(rep.http, tc.peer, tc.bound); got != tc.want {
			t.Errorf("%s against %v: %q, want %q", tc.peer, tc.bound, got, tc.want)
		}
	}
}
