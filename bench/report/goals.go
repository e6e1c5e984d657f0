package main

import (
	"fmt"
	"math"
)

// goal is one figure an issue asks for: one peer's median of the column
// titled title held against another peer's, their ratio at most limit
// (atMost) or at least limit.
type goal struct {
	title  string
	unit   string // after the second figure: " µs"
	limit  float64
	atMost bool
}

// check holds peer's median against other's in t and says how it went,
// as "10.00 against 15.00 µs (×0.667; spreads 5 % and 3 %): met", or with
// named, "iomux-proxy 10.00 against iocopy 15.00 µs (…): met". The
// verdict is the medians'; when the ratio is closer to the limit than
// either peer's spread between rounds, it adds ", within the spreads".
// ok is false when either peer lacks the figure.
func (g goal) check(t *table, peer, other string, named bool) (text string, ok bool) {
	a, b := t.at(peer, g.title), t.at(other, g.title)
	if math.IsNaN(a) || math.IsNaN(b) || b == 0 {
		return "", false
	}
	c := t.cols[columnIndex(t.cols, g.title)]
	r := a / b
	verdict := "not met"
	if g.atMost && r <= g.limit || !g.atMost && r >= g.limit {
		verdict = "met"
	}
	sa, sb := t.spreadAt(peer, g.title), t.spreadAt(other, g.title)
	if close := math.Abs(r/g.limit - 1); close < sa || close < sb {
		verdict += ", within the spreads"
	}
	na, nb := "", ""
	if named {
		na, nb = peer+" ", other+" "
	}
	return fmt.Sprintf("%s%s against %s%s%s (×%.3f; spreads %s and %s): %s", na, cell(a, c.format),
		nb, cell(b, c.format), g.unit, r, cell(100*sa, "%.0f %%"), cell(100*sb, "%.0f %%"), verdict), true
}
