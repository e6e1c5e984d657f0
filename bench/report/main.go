// Command report turns what bench/run measured into markdown tables and
// SVG charts: the JSON lines of the echo runs into tables of medians,
// plain, TLS and through a proxy, of the HTTP runs (bench/httpload's
// lines) and of the WebSocket runs (bench/wsload's), with ratios against
// a reference peer and the TLS, proxy, HTTP and WebSocket goals, and a
// bar chart, and the output of the
// root package's Wait benchmark into a table and a log-log line chart.
//
//	report --in raw.jsonl --md RESULTS.md --svg results.svg --ref iomux-epoll --machine machine.txt
//	go test -run '^$' -bench Wait . | report --wait - --wait-md wait.md --wait-svg wait.svg
//
// Each input line of --in is {"peer":..., "scenario":..., "round":N,
// "result":{...}} with result the --json line of bench/loadgen (or of
// bench/httpload for the http-* scenarios, of bench/wsload for the ws-*
// ones), or "error" instead of result when a run failed.
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"sort"
	"strings"
)

// result holds the fields of bench/loadgen's JSON line that we report.
type result struct {
	Size          int      `json:"size"` // message size in bytes
	RTPerSec      float64  `json:"rt_per_s"`
	MBPerSec      float64  `json:"mb_per_s"`
	P50us         float64  `json:"p50_us"`
	P99us         float64  `json:"p99_us"`
	Errors        int64    `json:"errors"`
	Mismatches    int64    `json:"mismatches"`
	CPUUs         float64  `json:"server_cpu_us_per_rt"`
	UserUs        float64  `json:"server_user_us_per_rt"`
	SysUs         float64  `json:"server_sys_us_per_rt"`
	Syscalls      float64  `json:"server_syscalls_per_rt"`
	IdleKiBPer    float64  `json:"idle_kib_per_conn"`
	ClientCPUUs   float64  `json:"client_cpu_us_per_rt"`
	ServerRSSKiB  float64  `json:"server_rss_kib"`
	IdleRSSBefore float64  `json:"idle_rss_before_kib"`
	CPUSPerGB     float64  `json:"server_cpu_s_per_gb"` // bench/httpload --file
	Notes         []string `json:"notes"`               // bench/httpload: what failed, in its words

	TLSVersion        string  `json:"tls_version"`
	TLSCipher         string  `json:"tls_cipher"`
	TLSGroup          string  `json:"tls_group"`
	HandshakesPerSec  float64 `json:"handshakes_per_s"`
	CPUUsPerHandshake float64 `json:"server_cpu_us_per_handshake"`
	ClientUsPerHS     float64 `json:"client_cpu_us_per_handshake"`

	// bench/wsload's
	UpgradesPerSec    float64 `json:"upgrades_per_s"`
	CPUUsPerUpgrade   float64 `json:"server_cpu_us_per_upgrade"`
	BroadcastMs       float64 `json:"broadcast_ms"`       // median of a run's broadcasts
	BroadcastFirstMs  float64 `json:"broadcast_first_ms"` // the same, to the first connection
	CPUMsPerBroadcast float64 `json:"server_cpu_ms_per_broadcast"`
	Extension         string  `json:"extension"` // the server's answer to permessage-deflate
}

type record struct {
	Peer     string  `json:"peer"`
	Scenario string  `json:"scenario"`
	Round    int     `json:"round"`
	Result   *result `json:"result"`
	Error    string  `json:"error"`
}

// column is one figure of the table: which scenario, which field, how shown.
type column struct {
	title    string
	scenario string
	value    func(*result) float64
	format   string
	lower    bool // lower is better (for the chart's caption)
}

var columns = []column{
	{"64 B C=1 rt/s", "pp64-c1", func(r *result) float64 { return r.RTPerSec }, "%.0f", false},
	{"64 B C=1 p99 µs", "pp64-c1", func(r *result) float64 { return r.P99us }, "%.1f", true},
	{"64 B C=50 rt/s", "pp64-c50", func(r *result) float64 { return r.RTPerSec }, "%.0f", false},
	{"64 B C=50 server CPU µs/rt", "pp64-c50", func(r *result) float64 { return r.CPUUs }, "%.2f", true},
	{"… user µs/rt", "pp64-c50", func(r *result) float64 { return r.UserUs }, "%.2f", true},
	{"… system µs/rt", "pp64-c50", func(r *result) float64 { return r.SysUs }, "%.2f", true},
	{"64 B C=50 generator CPU µs/rt", "pp64-c50", func(r *result) float64 { return r.ClientCPUUs }, "%.2f", true},
	{"64 B C=50 syscalls/rt", "syscalls-c50", func(r *result) float64 { return r.Syscalls }, "%.2f", true},
	{"64 B C=1000 rt/s", "pp64-c1000", func(r *result) float64 { return r.RTPerSec }, "%.0f", false},
	{"pipelined P=16 C=50 msg/s", "pipe16-c50", func(r *result) float64 { return r.RTPerSec }, "%.0f", false},
	{"16 KiB C=50 MB/s", "pp16k-c50", func(r *result) float64 { return r.MBPerSec }, "%.0f", false},
	{"idle KiB/conn", "idle", func(r *result) float64 { return r.IdleKiBPer }, "%.2f", true},
}

func main() {
	in := flag.String("in", "", "JSON lines from bench/run")
	md := flag.String("md", "", "write the markdown report here (default stdout)")
	svg := flag.String("svg", "", "write the SVG chart here")
	ref := flag.String("ref", "iomux-epoll", "peer the ratios are relative to")
	machine := flag.String("machine", "", "file whose text is the machine section")
	chartName := flag.String("chart-name", "results.svg", "how RESULTS.md refers to the chart")
	wait := flag.String("wait", "", "output of go test -run '^$' -bench Wait (- for stdin)")
	waitMD := flag.String("wait-md", "", "write the Wait cost table here (default stdout)")
	waitSVG := flag.String("wait-svg", "", "write the Wait cost chart here")
	flag.Parse()
	if *in == "" && *wait == "" || flag.NArg() > 0 {
		fmt.Fprintln(os.Stderr, "usage: report --in raw.jsonl [--md RESULTS.md] [--svg chart.svg] [--ref PEER] [--machine FILE]")
		fmt.Fprintln(os.Stderr, "       report --wait FILE|- [--wait-md wait.md] [--wait-svg wait.svg]")
		os.Exit(2)
	}
	var err error
	if *in != "" {
		err = reportEcho(*in, *md, *svg, *ref, *machine, *chartName)
	}
	if *wait != "" && err == nil {
		err = reportWait(*wait, *waitMD, *waitSVG)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "report:", err)
		os.Exit(1)
	}
}

// reportEcho writes RESULTS.md (to stdout without md) and, given svg, the
// chart of bench/run's JSON lines.
func reportEcho(in, md, svg, ref, machine, chartName string) error {
	recs, err := load(in)
	if err != nil {
		return err
	}
	rep := tabulate(recs)
	var mach string
	if machine != "" {
		b, _ := os.ReadFile(machine)
		mach = string(b)
	}
	err = writeFile(md, func(w io.Writer) error {
		writeMarkdown(w, rep, ref, mach, svg != "", chartName)
		return nil
	})
	if err != nil || svg == "" {
		return err
	}
	return writeFile(svg, func(w io.Writer) error { return writeChart(w, rep, ref) })
}

// reportWait writes the Wait cost table (to stdout without md) and, given
// svg, its chart, from go test's output in file in ("-": stdin).
func reportWait(in, md, svg string) error {
	r := io.Reader(os.Stdin)
	if in != "-" {
		f, err := os.Open(in)
		if err != nil {
			return err
		}
		defer f.Close()
		r = f
	}
	res, err := parseWait(r)
	if err != nil {
		return fmt.Errorf("--wait %s: %w", in, err)
	}
	if err := writeFile(md, func(w io.Writer) error { return writeWaitTable(w, res) }); err != nil || svg == "" {
		return err
	}
	return writeFile(svg, func(w io.Writer) error { return writeWaitChart(w, res) })
}

// writeFile creates path and has write fill it; an empty path is stdout.
func writeFile(path string, write func(io.Writer) error) error {
	if path == "" {
		return write(os.Stdout)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := write(f); err != nil {
		f.Close()
		return fmt.Errorf("%s: %w", path, err)
	}
	return f.Close()
}

func load(path string) ([]record, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var recs []record
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for n := 1; sc.Scan(); n++ {
		if strings.TrimSpace(sc.Text()) == "" {
			continue
		}
		var r record
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			return nil, fmt.Errorf("%s:%d: %v", path, n, err)
		}
		recs = append(recs, r)
	}
	return recs, sc.Err()
}

// table holds, per peer and column, the median over rounds (NaN: not run).
type table struct {
	cols   []column
	peers  []string // those that ran (or failed) a scenario of cols, in order of first appearance
	median map[string][]float64
	spread map[string][]float64 // (max-min)/median, NaN with fewer than 2 runs
	rounds map[string][]int     // runs per column
}

// report is everything RESULTS.md shows: the plain, TLS and proxy tables,
// the failed runs, and what each peer's TLS runs negotiated.
type report struct {
	plain, tls, proxy, http, ws *table
	fails                       []string
	tlsParams                   map[string]string // peer → "TLS 1.3, TLS_AES_128_GCM_SHA256, X25519MLKEM768"
	httpTLS                     map[string]string // the same, of the HTTP peers' TLS runs
	wsTLS                       map[string]string // the same, of the WebSocket peers' TLS runs
	wsExtension                 map[string]string // peer → its answer to the permessage-deflate offer
}

func tabulate(recs []record) *report {
	rep := &report{plain: newTable(recs, columns), tls: newTable(recs, tlsColumns), proxy: newTable(recs, proxyColumns),
		http: newTable(recs, httpColumns), ws: newTable(recs, wsColumns),
		tlsParams: map[string]string{}, httpTLS: map[string]string{}, wsTLS: map[string]string{}, wsExtension: map[string]string{}}
	for _, r := range recs {
		if r.Result == nil || r.Error != "" {
			rep.fails = append(rep.fails, fmt.Sprintf("%s %s round %d: %s", r.Peer, r.Scenario, r.Round, r.Error))
			continue
		}
		if r.Result.Errors > 0 || r.Result.Mismatches > 0 {
			f := fmt.Sprintf("%s %s round %d: %d errors, %d mismatches", r.Peer, r.Scenario, r.Round, r.Result.Errors, r.Result.Mismatches)
			if len(r.Result.Notes) > 0 {
				f += " (" + strings.Join(r.Result.Notes, "; ") + ")"
			}
			rep.fails = append(rep.fails, f)
		}
		params := rep.tlsParams
		switch {
		case strings.HasPrefix(r.Scenario, "http-"):
			params = rep.httpTLS
		case strings.HasPrefix(r.Scenario, "ws-"):
			params = rep.wsTLS
			if v := r.Result.Extension; v != "" && rep.wsExtension[r.Peer] == "" {
				rep.wsExtension[r.Peer] = v
			}
		}
		if v := r.Result.TLSVersion; v != "" && params[r.Peer] == "" {
			params[r.Peer] = strings.Join([]string{v, r.Result.TLSCipher, r.Result.TLSGroup}, ", ")
		}
	}
	return rep
}

// newTable takes the medians and spreads of cols over the rounds in recs.
func newTable(recs []record, cols []column) *table {
	t := &table{cols: cols, median: map[string][]float64{}, spread: map[string][]float64{}, rounds: map[string][]int{}}
	samples := map[string][][]float64{}
	for _, r := range recs {
		if !slices.ContainsFunc(cols, func(c column) bool { return c.scenario == r.Scenario }) {
			continue
		}
		if _, ok := samples[r.Peer]; !ok {
			t.peers = append(t.peers, r.Peer)
			samples[r.Peer] = make([][]float64, len(cols))
		}
		if r.Result == nil || r.Error != "" {
			continue
		}
		for i, c := range cols {
			if c.scenario == r.Scenario {
				samples[r.Peer][i] = append(samples[r.Peer][i], c.value(r.Result))
			}
		}
	}
	for _, p := range t.peers {
		t.median[p] = make([]float64, len(cols))
		t.spread[p] = make([]float64, len(cols))
		t.rounds[p] = make([]int, len(cols))
		for i, s := range samples[p] {
			t.median[p][i] = median(s)
			t.spread[p][i] = spread(s)
			t.rounds[p][i] = len(s)
		}
	}
	return t
}

// at is peer's median of the column titled title (NaN if not run).
func (t *table) at(peer, title string) float64 {
	if m, ok := t.median[peer]; ok {
		return m[columnIndex(t.cols, title)]
	}
	return math.NaN()
}

// spreadAt is at's spread between rounds.
func (t *table) spreadAt(peer, title string) float64 {
	if s, ok := t.spread[peer]; ok {
		return s[columnIndex(t.cols, title)]
	}
	return math.NaN()
}

func median(s []float64) float64 {
	if len(s) == 0 {
		return math.NaN()
	}
	s = append([]float64(nil), s...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// spread is (max-min)/median: how far apart the rounds were.
func spread(s []float64) float64 {
	m := median(s)
	if len(s) < 2 || m == 0 {
		return math.NaN()
	}
	lo, hi := s[0], s[0]
	for _, v := range s {
		lo, hi = math.Min(lo, v), math.Max(hi, v)
	}
	return (hi - lo) / math.Abs(m)
}

func cell(v float64, format string) string {
	if math.IsNaN(v) {
		return "—"
	}
	return fmt.Sprintf(format, v)
}

func writeMarkdown(w io.Writer, rep *report, ref, machine string, chart bool, chartName string) {
	fmt.Fprint(w, "# iomux echo benchmark\n\n")
	fmt.Fprint(w, "Medians over the rounds run (each server on core 0, the load generator `bench/loadgen` on core 1, servers alternated A B A B, a fresh server process per run). rt/s = round trips per second; for pipelined, messages per second; MB/s = payload echoed (10^6 bytes). Server CPU is utime+stime of the server process over the measured window divided by round trips; generator CPU is the load generator's own; at C=50 the generator's core is the bottleneck, so CPU per round trip says more than round trips/s. Syscalls come from `perf stat -e raw_syscalls:sys_enter` in separate runs. — = not run (see notes).\n\n")
	if len(rep.plain.peers) > 0 {
		writeTables(w, rep.plain, ref, "")
	}
	if len(rep.tls.peers) > 0 {
		fmt.Fprint(w, "\n## TLS\n\n")
		fmt.Fprint(w, tlsIntro)
		writeTables(w, rep.tls, ref, "TLS ")
		writeTLSParams(w, rep)
		writeTLSGoals(w, rep.tls, ref)
	}
	if len(rep.proxy.peers) > 0 {
		fmt.Fprint(w, "\n## Proxy\n\n")
		fmt.Fprint(w, proxyIntro)
		writeTables(w, rep.proxy, proxyRef, "Proxy ")
		writeProxyGoals(w, rep.proxy)
	}
	if len(rep.http.peers) > 0 {
		fmt.Fprint(w, "\n## HTTP\n\n")
		fmt.Fprint(w, httpIntro)
		writeTables(w, rep.http, httpRef, "HTTP ")
		writeHTTPParams(w, rep)
		writeHTTPGoals(w, rep.http)
	}
	if len(rep.ws.peers) > 0 {
		fmt.Fprint(w, "\n## WebSocket\n\n")
		fmt.Fprint(w, wsIntro)
		writeTables(w, rep.ws, wsRef, "WebSocket ")
		writeWSParams(w, rep)
		writeWSGoals(w, rep.ws)
	}
	if chart {
		fmt.Fprintf(w, "\n![results](%s)\n", chartName)
	}
	if len(rep.fails) > 0 {
		fmt.Fprint(w, "\n## Failed runs\n\n")
		for _, f := range rep.fails {
			fmt.Fprintf(w, "- %s\n", f)
		}
	}
	if machine != "" {
		fmt.Fprintf(w, "\n## Machine and command\n\n%s\n", strings.TrimSpace(machine))
	}
}

// writeTables writes t's medians, its ratios against ref (if ref ran) and
// its spreads (if any figure had more than one round); a prefix ("TLS ")
// makes the headings of the last two subheadings of its own.
func writeTables(w io.Writer, t *table, ref, prefix string) {
	level, ratios, spreads := "##", "Ratios", "Spread"
	if prefix != "" {
		level, ratios, spreads = "###", prefix+"ratios", prefix+"spread"
	}
	header := func() {
		fmt.Fprint(w, "| peer |")
		for _, c := range t.cols {
			fmt.Fprintf(w, " %s |", c.title)
		}
		fmt.Fprint(w, "\n|---|")
		for range t.cols {
			fmt.Fprint(w, "---:|")
		}
		fmt.Fprintln(w)
	}
	header()
	for _, p := range t.peers {
		fmt.Fprintf(w, "| %s |", p)
		for i, c := range t.cols {
			fmt.Fprintf(w, " %s |", cell(t.median[p][i], c.format))
		}
		fmt.Fprintln(w)
	}
	if r, ok := t.median[ref]; ok {
		fmt.Fprintf(w, "\n%s %s: peer / %s\n\nAbove 1 means the peer's figure is larger (better for rates, worse for CPU, syscalls, latency and memory).\n\n", level, ratios, ref)
		header()
		for _, p := range t.peers {
			fmt.Fprintf(w, "| %s |", p)
			for i := range t.cols {
				v := t.median[p][i] / r[i]
				if r[i] == 0 || math.IsInf(v, 0) {
					v = math.NaN()
				}
				fmt.Fprintf(w, " %s |", cell(v, "%.2f"))
			}
			fmt.Fprintln(w)
		}
	}
	if spreadRows(t) {
		fmt.Fprintf(w, "\n%s %s: (max − min) / median over the rounds, in %%\n\nLarge spreads mean the machine was busy with other work during the run: read the medians with that margin.\n\n", level, spreads)
		header()
		for _, p := range t.peers {
			fmt.Fprintf(w, "| %s |", p)
			for i := range t.cols {
				fmt.Fprintf(w, " %s |", cell(100*t.spread[p][i], "%.0f"))
			}
			fmt.Fprintln(w)
		}
	}
}

// spreadRows reports whether any figure had more than one run.
func spreadRows(t *table) bool {
	for _, p := range t.peers {
		for _, v := range t.spread[p] {
			if !math.IsNaN(v) {
				return true
			}
		}
	}
	return false
}
