package main

import (
	"bytes"
	"encoding/xml"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const raw = `{"peer":"iomux-epoll","scenario":"pp64-c50","round":1,"result":{"rt_per_s":100,"server_cpu_us_per_rt":10}}
{"peer":"gonet","scenario":"pp64-c50","round":1,"result":{"rt_per_s":50,"server_cpu_us_per_rt":20}}
{"peer":"iomux-epoll","scenario":"pp64-c50","round":2,"result":{"rt_per_s":300,"server_cpu_us_per_rt":10}}
{"peer":"gonet","scenario":"pp64-c50","round":2,"result":{"rt_per_s":70,"server_cpu_us_per_rt":10,"mismatches":1}}
{"peer":"iomux-epoll","scenario":"pp64-c50","round":3,"result":{"rt_per_s":200,"server_cpu_us_per_rt":12}}
{"peer":"gonet","scenario":"idle","round":1,"error":"exit 1: connection refused"}
`

func TestReport(t *testing.T) {
	in := filepath.Join(t.TempDir(), "raw.jsonl")
	if err := os.WriteFile(in, []byte(raw), 0o644); err != nil {
		t.Fatal(err)
	}
	recs, err := load(in)
	if err != nil {
		t.Fatal(err)
	}
	tb := tabulate(recs)
	var md bytes.Buffer
	writeMarkdown(&md, tb, "iomux-epoll", "- cores: 2", true, "results.svg")
	out := md.String()
	for _, want := range []string{
		"| iomux-epoll | — | — | 200 | 10.00 |", // medians of 100/300/200 and 10/10/12
		"| gonet | — | — | 60 | 15.00 |",
		"| gonet | — | — | 0.30 | 1.50 |", // ratios
		"gonet pp64-c50 round 2: 0 errors, 1 mismatches",
		"gonet idle round 1: exit 1: connection refused",
		"| iomux-epoll | — | — | 100 | 20 |", // spread: (300-100)/200, (12-10)/10
		"- cores: 2",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
	var svg bytes.Buffer
	writeChart(&svg, tb, "iomux-epoll")
	dec := xml.NewDecoder(&svg)
	for {
		_, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("chart is not well-formed: %v", err)
		}
	}
}
