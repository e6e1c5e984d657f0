package main

import (
	"io"
	"math"
)

// panel is one bar chart of writeChart: a column of a table, and the
// peer whose bar is highlighted.
type panel struct {
	t     *table
	title string
	ref   string
}

// writeChart draws one panel per headline figure, two to a row: a
// horizontal bar per peer that ran it, the reference peer's bar
// highlighted (ref, or for the proxy panels iomux-proxy). The TLS panels
// follow the plain ones, if TLS ran, then the proxy panels, the HTTP
// panels, and the WebSocket panels last.
func writeChart(w io.Writer, rep *report, ref string) error {
	var panels []panel
	add := func(t *table, ref string, titles ...string) {
		if len(t.peers) == 0 {
			return
		}
		for _, title := range titles {
			panels = append(panels, panel{t, title, ref})
		}
	}
	add(rep.plain, ref, "64 B C=1 rt/s", "64 B C=50 server CPU µs/rt", "64 B C=50 syscalls/rt",
		"pipelined P=16 C=50 msg/s", "16 KiB C=50 MB/s", "idle KiB/conn")
	add(rep.tls, ref, tlsChartPanels...)
	add(rep.proxy, proxyRef, proxyChartPanels...)
	add(rep.http, httpRef, httpChartPanels...)
	add(rep.ws, wsRef, wsChartPanels...)
	const panelW, barH, gap, labelW, cols = 430.0, 16.0, 4.0, 100.0, 2
	rowH := make([]float64, (len(panels)+cols-1)/cols)
	for k, p := range panels {
		rowH[k/cols] = max(rowH[k/cols], 40+float64(len(p.t.peers))*(barH+gap))
	}
	height := 50.0
	for _, h := range rowH {
		height += h
	}
	width := float64(cols)*panelW + 20
	s := newSVG(w, width, height, 11)
	s.text(width/2, 24, `text-anchor="middle" font-size="15"`, "iomux echo benchmark: medians, server on one core")
	y0 := 40.0
	for k, p := range panels {
		if k > 0 && k%cols == 0 {
			y0 += rowH[k/cols-1]
		}
		c := p.t.cols[columnIndex(p.t.cols, p.title)]
		x0 := 10 + float64(k%cols)*panelW
		best := "(higher is better)"
		if c.lower {
			best = "(lower is better)"
		}
		s.spans(x0, y0+12, `font-size="12" font-weight="bold"`, span{text: c.title + " "}, span{best, `font-weight="normal" fill="#666"`})
		maxV := 0.0
		for _, peer := range p.t.peers {
			if v := p.t.at(peer, p.title); !math.IsNaN(v) {
				maxV = math.Max(maxV, v)
			}
		}
		barMax := panelW - labelW - 70
		for j, peer := range p.t.peers {
			y := y0 + 22 + float64(j)*(barH+gap)
			s.text(x0+labelW-4, y+barH/2, `text-anchor="end" dominant-baseline="middle"`, peer)
			v := p.t.at(peer, p.title)
			if math.IsNaN(v) {
				s.text(x0+labelW+2, y+barH/2, `dominant-baseline="middle" fill="#999"`, "not run")
				continue
			}
			bw := 1.0
			if maxV > 0 {
				bw = math.Max(v/maxV*barMax, 1)
			}
			color := "#9bb7d4"
			if peer == p.ref {
				color = "#d62728"
			}
			s.rect(x0+labelW, y, bw, barH, color)
			s.text(x0+labelW+bw+4, y+barH/2, `dominant-baseline="middle"`, cell(v, c.format))
		}
	}
	return s.close()
}

// columnIndex is the index of the column titled title in cols.
func columnIndex(cols []column, title string) int {
	for i, c := range cols {
		if c.title == title {
			return i
		}
	}
	panic("report: no column " + title)
}
