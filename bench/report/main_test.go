package main

import (
	"bytes"
	"encoding/xml"
	"io"
	"maps"
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

// loadRaw writes raw.jsonl lines to a file and loads them, as report
// --in does.
func loadRaw(t *testing.T, lines string) []record {
	t.Helper()
	in := filepath.Join(t.TempDir(), "raw.jsonl")
	if err := os.WriteFile(in, []byte(lines), 0o644); err != nil {
		t.Fatal(err)
	}
	recs, err := load(in)
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

func TestReport(t *testing.T) {
	rep := tabulate(loadRaw(t, raw))
	var md bytes.Buffer
	writeMarkdown(&md, rep, "iomux-epoll", "- cores: 2", true, "results.svg")
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
	if strings.Contains(out, "TLS") {
		t.Errorf("a run without TLS scenarios has a TLS section:\n%s", out)
	}
	var svg bytes.Buffer
	if err := writeChart(&svg, rep, "iomux-epoll"); err != nil {
		t.Fatal(err)
	}
	svgLines(t, svg.Bytes())
}

// svgLines checks that an SVG chart is well-formed XML with an <svg> root
// and returns the points attribute of each of its polylines.
func svgLines(t *testing.T, chart []byte) []string {
	t.Helper()
	dec := xml.NewDecoder(bytes.NewReader(chart))
	var root string
	var lines []string
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("chart is not well-formed XML: %v\n%s", err, chart)
		}
		se, ok := tok.(xml.StartElement)
		if !ok {
			continue
		}
		if root == "" {
			root = se.Name.Local
		}
		for _, a := range se.Attr {
			if se.Name.Local == "polyline" && a.Name.Local == "points" {
				lines = append(lines, a.Value)
			}
		}
	}
	if root != "svg" {
		t.Fatalf("root element %q, want svg", root)
	}
	return lines
}

// testdata/bench-wait.txt is what `go test -run '^$' -bench Wait
// -benchtime 100ms .` printed in the root package on the 2-core machine.
func TestWaitTableAndChart(t *testing.T) {
	f, err := os.Open("testdata/bench-wait.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	res, err := parseWait(f)
	if err != nil {
		t.Fatal(err)
	}
	var md bytes.Buffer
	if err := writeWaitTable(&md, res); err != nil {
		t.Fatal(err)
	}
	table := md.String()
	for _, want := range []string{
		"| backend | N=10 | N=100 | N=1000 | N=10000 |\n|---|---:|---:|---:|---:|\n",
		"| epoll | 774 ns | 796 ns | 752 ns | 765 ns |\n",
		"| poll | 2811 ns | 16.5 µs | 151.1 µs | 2.10 ms |\n",
		"| select | 3012 ns | 18.5 µs | 158.2 µs | — |\n", // select stops at FD_SETSIZE
		"0 allocations per Wait on every backend",
	} {
		if !strings.Contains(table, want) {
			t.Errorf("table lacks %q:\n%s", want, table)
		}
	}

	var chart bytes.Buffer
	if err := writeWaitChart(&chart, res); err != nil {
		t.Fatal(err)
	}
	lines := svgLines(t, chart.Bytes())
	if len(lines) != 3 {
		t.Fatalf("%d lines, want one per backend (epoll, poll, select): %q", len(lines), lines)
	}
	for i, want := range []int{4, 4, 3} {
		if got := len(strings.Fields(lines[i])); got != want {
			t.Errorf("%s's line has %d points, want %d: %s", res.backends[i], got, want, lines[i])
		}
	}
}

func TestParseWait(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     map[waitKey]float64 // nil: an error
	}{
		{"GOMAXPROCS 1 has no suffix, -count runs give their median", `BenchmarkWait/epoll/N=10    	   19672	      1150 ns/op	       0 B/op	       0 allocs/op
BenchmarkWait/epoll/N=10    	   19672	      1000 ns/op	       0 B/op	       0 allocs/op
BenchmarkWait/epoll/N=10    	   19672	      900 ns/op	       0 B/op	       0 allocs/op
BenchmarkWait/kqueue/N=100-8	   19672	      949.3 ns/op
PASS
`, map[waitKey]float64{{"epoll", 10}: 1000, {"kqueue", 100}: 949.3}},
		{"failed", "BenchmarkWait/epoll/N=10-2 1 700 ns/op\n--- FAIL: BenchmarkWait/poll/N=10\nFAIL\n", nil},
		{"build failed", "# github.com/iomux/iomux\n./x.go:1: syntax error\nFAIL	github.com/iomux/iomux [build failed]\n", nil},
		{"nothing", "PASS\nok  	github.com/iomux/iomux	0.01s\n", nil},
		{"bad name", "BenchmarkWait/epoll-2 1 700 ns/op\n", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := parseWait(strings.NewReader(tc.in))
			switch {
			case tc.want == nil && err == nil:
				t.Fatalf("no error, results %+v", res)
			case tc.want == nil:
				return
			case err != nil:
				t.Fatal(err)
			}
			if !maps.Equal(res.ns, tc.want) {
				t.Fatalf("ns per Wait %v, want %v", res.ns, tc.want)
			}
		})
	}
}
