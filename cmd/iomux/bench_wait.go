package main

import (
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strings"
	"text/template"
	"time"

	"golang.org/x/sys/unix"

	"github.com/iomux/iomux"
)

// waitPoint is one measurement: a backend's Wait with n registered
// descriptors, one of them ready.
type waitPoint struct {
	backend string
	n       int
	ns      float64 // per Wait
	skipped string  // why it was not measured, if it was not
}

func runBenchWait(args []string, stdout, stderr io.Writer) error {
	fs := newFlags(commands["bench"])
	out := fs.String("out", "", "write an SVG chart to this `file`")
	maxN := fs.Int("max", 10000, "largest number of registered descriptors")
	per := fs.Duration("time", 200*time.Millisecond, "time spent measuring each point")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected arguments %q", errUsage, fs.Args())
	}
	if *maxN < 10 {
		return fmt.Errorf("%w: --max must be at least 10", errUsage)
	}
	var sizes []int
	for n := 10; n <= *maxN; n *= 10 {
		sizes = append(sizes, n)
	}
	if last := sizes[len(sizes)-1]; last != *maxN {
		sizes = append(sizes, *maxN)
	}
	var points []waitPoint
	for _, b := range iomux.Backends() {
		for _, n := range sizes {
			p := waitPoint{backend: b, n: n}
			ns, err := measureWait(b, n, *per)
			switch {
			case errors.Is(err, iomux.ErrFDTooLarge):
				p.skipped = "over select's FD_SETSIZE (1024)"
			case err != nil:
				return fmt.Errorf("%s with %d descriptors: %w", b, n, err)
			}
			p.ns = ns
			points = append(points, p)
		}
	}
	writeWaitTable(stdout, points, sizes)
	if *out != "" {
		f, err := os.Create(*out)
		if err != nil {
			return err
		}
		if err := writeWaitChart(f, points); err != nil {
			f.Close()
			return err
		}
		if err := f.Close(); err != nil {
			return err
		}
		fmt.Fprintf(stderr, "chart written to %s\n", *out)
	}
	return nil
}

// measureWait registers n descriptors on a fresh Selector, one of them
// ready, and returns the mean cost of a Wait. The idle n-1 are duplicates
// of one never-written pipe's read end: to every backend they are n-1
// distinct descriptors to check, at half the descriptors of n pipes (so
// 10,000 fit in a 20,000 open-file limit).
func measureWait(backend string, n int, per time.Duration) (float64, error) {
	sel, err := iomux.NewSelector(backend)
	if err != nil {
		return 0, err
	}
	defer sel.Close()
	var idle, hot [2]int
	if err := openPipe(&idle); err != nil {
		return 0, err
	}
	defer unix.Close(idle[0])
	defer unix.Close(idle[1])
	fds := make([]int, 0, n)
	defer func() {
		for _, fd := range fds {
			sel.Unregister(fd)
			if fd != hot[0] {
				unix.Close(fd)
			}
		}
	}()
	for range n - 1 {
		fd, err := unix.FcntlInt(uintptr(idle[0]), unix.F_DUPFD_CLOEXEC, 0)
		if err != nil {
			return 0, fmt.Errorf("dup (raise the open-file limit?): %w", err)
		}
		if err := sel.Register(fd, iomux.Readable, nil); err != nil {
			unix.Close(fd)
			return 0, err
		}
		fds = append(fds, fd)
	}
	if err := openPipe(&hot); err != nil {
		return 0, err
	}
	defer unix.Close(hot[0])
	defer unix.Close(hot[1])
	if err := sel.Register(hot[0], iomux.Readable, nil); err != nil {
		return 0, err
	}
	fds = append(fds, hot[0])
	if _, err := unix.Write(hot[1], []byte{1}); err != nil {
		return 0, os.NewSyscallError("write", err)
	}
	ready := make([]iomux.Ready, 64)
	waits := func(k int) (time.Duration, error) {
		start := time.Now()
		for range k {
			got, err := sel.Wait(time.Second, ready)
			if err != nil {
				return 0, err
			}
			if got != 1 || ready[0].FD != hot[0] {
				return 0, fmt.Errorf("wait reported %d ready, want only fd %d", got, hot[0])
			}
		}
		return time.Since(start), nil
	}
	// Grow the count until a run takes a tenth of the budget, then spend it.
	k := 1
	for {
		d, err := waits(k)
		if err != nil {
			return 0, err
		}
		if d >= per/10 || k >= 1<<30 {
			k = max(k, int(float64(k)*float64(per)/float64(max(d, 1))))
			break
		}
		k *= 10
	}
	d, err := waits(k)
	if err != nil {
		return 0, err
	}
	return float64(d.Nanoseconds()) / float64(k), nil
}

// openPipe opens a non-blocking pipe (pipe2 is not on every OS).
func openPipe(p *[2]int) error {
	if err := unix.Pipe(p[:]); err != nil {
		return os.NewSyscallError("pipe", err)
	}
	for _, fd := range p {
		unix.CloseOnExec(fd)
		if err := unix.SetNonblock(fd, true); err != nil {
			unix.Close(p[0])
			unix.Close(p[1])
			return err
		}
	}
	return nil
}

func writeWaitTable(w io.Writer, points []waitPoint, sizes []int) {
	fmt.Fprint(w, "| backend |")
	for _, n := range sizes {
		fmt.Fprintf(w, " N=%d |", n)
	}
	fmt.Fprint(w, "\n|---|")
	for range sizes {
		fmt.Fprint(w, "---:|")
	}
	backend := ""
	for _, p := range points {
		if p.backend != backend {
			backend = p.backend
			fmt.Fprintf(w, "\n| %s |", backend)
		}
		if p.skipped != "" {
			fmt.Fprint(w, " — |")
		} else {
			fmt.Fprintf(w, " %s |", formatNs(p.ns))
		}
	}
	fmt.Fprint(w, "\n\nns per Wait with N registered descriptors, one ready; — = over select's FD_SETSIZE (1024).\n")
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

// The chart: plain SVG, log-log, so a cost that grows with N is a rising
// straight line and a constant cost is flat.
var waitChart = template.Must(template.New("chart").Parse(`<svg xmlns="http://www.w3.org/2000/svg" width="{{.W}}" height="{{.H}}" viewBox="0 0 {{.W}} {{.H}}" font-family="sans-serif" font-size="12">
<rect width="{{.W}}" height="{{.H}}" fill="white"/>
<text x="{{.MidX}}" y="20" text-anchor="middle" font-size="14">Wait cost with N registered descriptors, one ready</text>
<line x1="{{.X0}}" y1="{{.Y0}}" x2="{{.X1}}" y2="{{.Y0}}" stroke="black"/>
<line x1="{{.X0}}" y1="{{.Y0}}" x2="{{.X0}}" y2="{{.Y1}}" stroke="black"/>
{{range .XTicks}}<line x1="{{.Pos}}" y1="{{$.Y0}}" x2="{{.Pos}}" y2="{{$.Y1}}" stroke="#ddd"/>
<text x="{{.Pos}}" y="{{$.XLabelY}}" text-anchor="middle">{{.Label}}</text>
{{end}}{{range .YTicks}}<line x1="{{$.X0}}" y1="{{.Pos}}" x2="{{$.X1}}" y2="{{.Pos}}" stroke="#ddd"/>
<text x="{{$.YLabelX}}" y="{{.Pos}}" text-anchor="end" dominant-baseline="middle">{{.Label}}</text>
{{end}}<text x="{{.MidX}}" y="{{.XTitleY}}" text-anchor="middle">N registered descriptors (log scale)</text>
<text x="16" y="{{.MidY}}" text-anchor="middle" transform="rotate(-90 16 {{.MidY}})">ns per Wait (log scale)</text>
{{range $l := .Lines}}<polyline fill="none" stroke="{{$l.Color}}" stroke-width="2" points="{{$l.Points}}"/>
{{range $l.Dots}}<circle cx="{{.X}}" cy="{{.Y}}" r="3" fill="{{$l.Color}}"/>
{{end}}{{end}}{{range $i, $l := .Lines}}<rect x="{{$.LegendX}}" y="{{$l.LegendY}}" width="12" height="12" fill="{{$l.Color}}"/>
<text x="{{$.LegendTextX}}" y="{{$l.LegendY}}" dy="10">{{$l.Name}}</text>
{{end}}</svg>
`))

type chartTick struct {
	Pos   float64
	Label string
}

type chartDot struct{ X, Y float64 }

type chartLine struct {
	Name, Color, Points string
	Dots                []chartDot
	LegendY             float64
}

type chartData struct {
	W, H, X0, X1, Y0, Y1, MidX, MidY float64
	XLabelY, XTitleY, YLabelX        float64
	LegendX, LegendTextX             float64
	XTicks, YTicks                   []chartTick
	Lines                            []chartLine
}

var chartColors = []string{"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd"}

func writeWaitChart(w io.Writer, points []waitPoint) error {
	d := chartData{W: 720, H: 440, X0: 80, X1: 600, Y0: 390, Y1: 40}
	d.MidX, d.MidY = (d.X0+d.X1)/2, (d.Y0+d.Y1)/2
	d.XLabelY, d.XTitleY, d.YLabelX = d.Y0+18, d.Y0+40, d.X0-6
	d.LegendX, d.LegendTextX = d.X1+15, d.X1+32
	minN, maxN, minY, maxY := math.Inf(1), math.Inf(-1), math.Inf(1), math.Inf(-1)
	for _, p := range points {
		if p.skipped != "" {
			continue
		}
		minN, maxN = math.Min(minN, float64(p.n)), math.Max(maxN, float64(p.n))
		minY, maxY = math.Min(minY, p.ns), math.Max(maxY, p.ns)
	}
	if math.IsInf(minN, 0) {
		return errors.New("chart: nothing measured")
	}
	lx0, lx1 := math.Floor(math.Log10(minN)), math.Ceil(math.Log10(maxN))
	ly0, ly1 := math.Floor(math.Log10(minY)), math.Ceil(math.Log10(maxY))
	if lx1 == lx0 {
		lx1++
	}
	if ly1 == ly0 {
		ly1++
	}
	px := func(n float64) float64 { return d.X0 + (math.Log10(n)-lx0)/(lx1-lx0)*(d.X1-d.X0) }
	py := func(v float64) float64 { return d.Y0 - (math.Log10(v)-ly0)/(ly1-ly0)*(d.Y0-d.Y1) }
	for e := lx0; e <= lx1; e++ {
		d.XTicks = append(d.XTicks, chartTick{px(math.Pow(10, e)), fmt.Sprintf("%g", math.Pow(10, e))})
	}
	for e := ly0; e <= ly1; e++ {
		d.YTicks = append(d.YTicks, chartTick{py(math.Pow(10, e)), decadeLabel(e)})
	}
	var line *chartLine
	for _, p := range points {
		if line == nil || line.Name != p.backend {
			d.Lines = append(d.Lines, chartLine{Name: p.backend, Color: chartColors[len(d.Lines)%len(chartColors)], LegendY: d.Y1 + float64(len(d.Lines))*20})
			line = &d.Lines[len(d.Lines)-1]
		}
		if p.skipped != "" {
			continue
		}
		x, y := px(float64(p.n)), py(p.ns)
		line.Dots = append(line.Dots, chartDot{x, y})
		line.Points = strings.TrimSpace(fmt.Sprintf("%s %.1f,%.1f", line.Points, x, y))
	}
	return waitChart.Execute(w, d)
}
