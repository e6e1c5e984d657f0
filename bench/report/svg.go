package main

import (
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
)

// svgWriter writes one SVG document element by element, white background
// first: the one SVG code that both charts (results.svg's bars, wait.svg's
// lines) are drawn with. Coordinates are in pixels; attrs arguments are
// extra attributes written as given (`text-anchor="end"`); text is
// escaped. The first write error is kept, and close returns it.
type svgWriter struct {
	w   io.Writer
	err error
}

// newSVG starts a width × height document in a sans-serif font of
// fontSize pixels.
func newSVG(w io.Writer, width, height float64, fontSize int) *svgWriter {
	s := &svgWriter{w: w}
	w0, h0 := num(width), num(height)
	s.printf(`<svg xmlns="http://www.w3.org/2000/svg" width="%s" height="%s" viewBox="0 0 %s %s" font-family="sans-serif" font-size="%d">`+"\n",
		w0, h0, w0, h0, fontSize)
	s.rect(0, 0, width, height, "white")
	return s
}

func (s *svgWriter) printf(format string, args ...any) {
	if s.err == nil {
		_, s.err = fmt.Fprintf(s.w, format, args...)
	}
}

// close ends the document and returns the first error met writing it.
func (s *svgWriter) close() error {
	s.printf("</svg>\n")
	return s.err
}

func (s *svgWriter) rect(x, y, w, h float64, fill string) {
	s.printf(`<rect x="%s" y="%s" width="%s" height="%s" fill="%s"/>`+"\n", num(x), num(y), num(w), num(h), fill)
}

func (s *svgWriter) line(x1, y1, x2, y2 float64, stroke string) {
	s.printf(`<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="%s"/>`+"\n", num(x1), num(y1), num(x2), num(y2), stroke)
}

func (s *svgWriter) circle(x, y, r float64, fill string) {
	s.printf(`<circle cx="%s" cy="%s" r="%s" fill="%s"/>`+"\n", num(x), num(y), num(r), fill)
}

// point is a position on the chart, in pixels.
type point struct{ x, y float64 }

func (s *svgWriter) polyline(pts []point, stroke string) {
	xy := make([]string, len(pts))
	for i, p := range pts {
		xy[i] = num(p.x) + "," + num(p.y)
	}
	s.printf(`<polyline fill="none" stroke="%s" stroke-width="2" points="%s"/>`+"\n", stroke, strings.Join(xy, " "))
}

// span is a run of a text element's content; attrs, if any, make it a
// tspan ("(lower is better)" in normal weight after a bold title).
type span struct{ text, attrs string }

// text writes body at x, y (the baseline's start, unless attrs say
// otherwise).
func (s *svgWriter) text(x, y float64, attrs, body string) { s.spans(x, y, attrs, span{text: body}) }

func (s *svgWriter) spans(x, y float64, attrs string, spans ...span) {
	var b strings.Builder
	for _, sp := range spans {
		if sp.attrs == "" {
			b.WriteString(esc(sp.text))
		} else {
			fmt.Fprintf(&b, "<tspan %s>%s</tspan>", sp.attrs, esc(sp.text))
		}
	}
	if attrs != "" {
		attrs = " " + attrs
	}
	s.printf(`<text x="%s" y="%s"%s>%s</text>`+"\n", num(x), num(y), attrs, b.String())
}

// num writes a coordinate to a tenth of a pixel, without trailing zeros.
func num(v float64) string { return strconv.FormatFloat(math.Round(v*10)/10, 'f', -1, 64) }

func esc(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}
