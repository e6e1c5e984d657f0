package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
)

// waitKey names one BenchmarkWait case: a backend's Wait with n
// registered descriptors.
type waitKey struct {
	backend string
	n       int
}

// waitResults are the BenchmarkWait figures of one `go test -bench Wait`
// run.
type waitResults struct {
	backends []string // in the order go test ran them
	sizes    []int    // every N measured, ascending
	ns       map[waitKey]float64
	allocs   map[waitKey]float64 // absent without -benchmem or ReportAllocs
}

// parseWait reads the output of the root package's
// `go test -run '^$' -bench Wait`, whose result lines are
//
//	BenchmarkWait/epoll/N=10-2   161517   773.7 ns/op   0 B/op   0 allocs/op
//
// (the -2 is GOMAXPROCS, absent when it is 1). A case run more than once
// (-count) counts at its median. Other lines are passed over, but a FAIL
// line or no result at all is an error: the benchmark did not run.
func parseWait(r io.Reader) (*waitResults, error) {
	ns := map[waitKey][]float64{}
	allocs := map[waitKey][]float64{}
	res := &waitResults{ns: map[waitKey]float64{}, allocs: map[waitKey]float64{}}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) > 0 && (f[0] == "FAIL" || f[0] == "---" && len(f) > 1 && f[1] == "FAIL:") {
			return nil, fmt.Errorf("the benchmark failed: %s", sc.Text())
		}
		name, ok := strings.CutPrefix(first(f), "BenchmarkWait/")
		if !ok {
			continue
		}
		k, err := parseWaitName(name)
		if err != nil {
			return nil, err
		}
		v, ok := unitValue(f, "ns/op")
		if !ok {
			return nil, fmt.Errorf("no ns/op in %q", sc.Text())
		}
		if !slices.Contains(res.backends, k.backend) {
			res.backends = append(res.backends, k.backend)
		}
		if !slices.Contains(res.sizes, k.n) {
			res.sizes = append(res.sizes, k.n)
		}
		ns[k] = append(ns[k], v)
		if a, ok := unitValue(f, "allocs/op"); ok {
			allocs[k] = append(allocs[k], a)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(ns) == 0 {
		return nil, errors.New("no BenchmarkWait results in the input (want the output of go test -run '^$' -bench Wait)")
	}
	slices.Sort(res.sizes)
	for k, s := range ns {
		res.ns[k] = median(s)
	}
	for k, s := range allocs {
		res.allocs[k] = median(s)
	}
	return res, nil
}

func first(f []string) string {
	if len(f) == 0 {
		return ""
	}
	return f[0]
}

// parseWaitName reads "epoll/N=10-2", a BenchmarkWait case's name after
// "BenchmarkWait/".
func parseWaitName(name string) (waitKey, error) {
	backend, size, ok := strings.Cut(name, "/N=")
	if i := strings.LastIndexByte(size, '-'); i >= 0 {
		size = size[:i] // GOMAXPROCS
	}
	n, err := strconv.Atoi(size)
	if !ok || err != nil || backend == "" {
		return waitKey{}, fmt.Errorf("BenchmarkWait/%s: want BenchmarkWait/BACKEND/N=COUNT", name)
	}
	return waitKey{backend, n}, nil
}

// unitValue finds "VALUE UNIT" among a result line's fields.
func unitValue(f []string, unit string) (float64, bool) {
	for i := 1; i < len(f); i++ {
		if f[i] == unit {
			v, err := strconv.ParseFloat(f[i-1], 64)
			return v, err == nil
		}
	}
	return 0, false
}

// writeWaitTable writes the markdown table: a row per backend, a column
// per N, — where a case did not run (select past FD_SETSIZE).
func writeWaitTable(w io.Writer, r *waitResults) error {
	var b strings.Builder
	b.WriteString("| backend |")
	for _, n := range r.sizes {
		fmt.Fprintf(&b, " N=%d |", n)
	}
	b.WriteString("\n|---|" + strings.Repeat("---:|", len(r.sizes)) + "\n")
	for _, be := range r.backends {
		fmt.Fprintf(&b, "| %s |", be)
		for _, n := range r.sizes {
			if v, ok := r.ns[waitKey{be, n}]; ok {
				fmt.Fprintf(&b, " %s |", formatNs(v))
			} else {
				b.WriteString(" — |")
			}
		}
		b.WriteString("\n")
	}
	b.WriteString("\nns per Wait with N registered descriptors, one ready (BenchmarkWait: `go test -run '^$' -bench Wait`)")
	if len(r.allocs) > 0 {
		most := 0.0
		for _, a := range r.allocs {
			most = math.Max(most, a)
		}
		if most == 0 {
			b.WriteString("; 0 allocations per Wait on every backend")
		} else {
			fmt.Fprintf(&b, "; up to %g allocations per Wait", most)
		}
	}
	b.WriteString("; — = not run (select stops at its FD_SETSIZE, 1024).\n")
	_, err := io.WriteString(w, b.String())
	return err
}

func formatNs(ns float64) string {
	switch {
	case ns >= 1e6:
		return fmt.Sprintf("%.2f ms", ns/1e6)
	case ns >= 1e4:
		return fmt.Sprintf("%.1f µs", ns/1e3)
	}
	return fmt.Sprintf("%.0f ns", ns)
}

// decadeLabel names 10^e nanoseconds: "100 ns", "1 µs", "10 ms".
func decadeLabel(e float64) string {
	units := []string{"ns", "µs", "ms", "s"}
	k := min(int(e)/3, len(units)-1)
	return fmt.Sprintf("%g %s", math.Pow(10, e-float64(3*k)), units[k])
}

var lineColors = []string{"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd"}

// writeWaitChart draws a line per backend on log-log axes, so a cost that
// grows with N is a rising straight line and a constant cost is flat.
func writeWaitChart(w io.Writer, r *waitResults) error {
	const width, height, x0, x1, y0, y1 = 720.0, 440.0, 80.0, 600.0, 390.0, 40.0
	minN, maxN := float64(r.sizes[0]), float64(r.sizes[len(r.sizes)-1])
	minY, maxY := math.Inf(1), math.Inf(-1)
	for _, v := range r.ns {
		minY, maxY = math.Min(minY, v), math.Max(maxY, v)
	}
	lx0, lx1 := math.Floor(math.Log10(minN)), math.Ceil(math.Log10(maxN))
	ly0, ly1 := math.Floor(math.Log10(minY)), math.Ceil(math.Log10(maxY))
	if lx1 == lx0 {
		lx1++
	}
	if ly1 == ly0 {
		ly1++
	}
	px := func(n float64) float64 { return x0 + (math.Log10(n)-lx0)/(lx1-lx0)*(x1-x0) }
	py := func(v float64) float64 { return y0 - (math.Log10(v)-ly0)/(ly1-ly0)*(y0-y1) }

	s := newSVG(w, width, height, 12)
	midX, midY := (x0+x1)/2, (y0+y1)/2
	s.text(midX, 20, `text-anchor="middle" font-size="14"`, "Wait cost with N registered descriptors, one ready")
	s.line(x0, y0, x1, y0, "black")
	s.line(x0, y0, x0, y1, "black")
	for e := lx0; e <= lx1; e++ {
		x := px(math.Pow(10, e))
		s.line(x, y0, x, y1, "#ddd")
		s.text(x, y0+18, `text-anchor="middle"`, fmt.Sprintf("%g", math.Pow(10, e)))
	}
	for e := ly0; e <= ly1; e++ {
		y := py(math.Pow(10, e))
		s.line(x0, y, x1, y, "#ddd")
		s.text(x0-6, y, `text-anchor="end" dominant-baseline="middle"`, decadeLabel(e))
	}
	s.text(midX, y0+40, `text-anchor="middle"`, "N registered descriptors (log scale)")
	s.text(16, midY, `text-anchor="middle" transform="rotate(-90 16 `+num(midY)+`)"`, "ns per Wait (log scale)")
	for i, be := range r.backends {
		color := lineColors[i%len(lineColors)]
		var pts []point
		for _, n := range r.sizes {
			if v, ok := r.ns[waitKey{be, n}]; ok {
				pts = append(pts, point{px(float64(n)), py(v)})
			}
		}
		s.polyline(pts, color)
		for _, p := range pts {
			s.circle(p.x, p.y, 3, color)
		}
		legendY := y1 + float64(i)*20
		s.rect(x1+15, legendY, 12, 12, color)
		s.text(x1+32, legendY+10, "", be)
	}
	return s.close()
}
