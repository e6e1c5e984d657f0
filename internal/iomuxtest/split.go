package iomuxtest

import (
	"fmt"
	"math/rand/v2"
)

// Split is how a protocol test feeds an input: whole, a byte at a time, or
// in random cuts. For Random, Cuts chooses which: the same number makes the
// same cuts of the same input, so a failure can be replayed.
type Split struct {
	Mode SplitMode
	Cuts uint64
}

// SplitMode is a Split's way of cutting.
type SplitMode int

const (
	Whole      SplitMode = iota // one piece
	ByteByByte                  // one piece per byte
	Random                      // random cuts, chosen by Split.Cuts
)

// Splits are the three ways every input of a protocol test is fed.
var Splits = []Split{{Mode: Whole}, {Mode: ByteByByte}, {Mode: Random, Cuts: 1}}

func (s Split) String() string {
	switch s.Mode {
	case Whole:
		return "whole"
	case ByteByByte:
		return "bytes"
	default:
		return fmt.Sprintf("random%d", s.Cuts)
	}
}

// Pieces cuts raw as s says (the pieces share raw's bytes).
func (s Split) Pieces(raw []byte) [][]byte {
	switch {
	case len(raw) == 0:
		return nil
	case s.Mode == Whole:
		return [][]byte{raw}
	case s.Mode == ByteByByte:
		p := make([][]byte, len(raw))
		for i := range raw {
			p[i] = raw[i : i+1]
		}
		return p
	}
	r := rand.New(rand.NewPCG(s.Cuts, uint64(len(raw))))
	var p [][]byte
	for len(raw) > 0 {
		n := 1 + r.IntN(min(len(raw), max(len(raw)/4, 8)))
		p = append(p, raw[:n])
		raw = raw[n:]
	}
	return p
}
