// Package latency is the latency histogram bench's load generators record
// round trips in: fixed size, so that recording never allocates.
package latency

import "math/bits"

// Histogram is log-linear (HDR-like): exact below 128 ns, then 64 buckets
// per power of two (under 1.6% error), fixed size, so recording never
// allocates.
type Histogram struct {
	counts [64 * 64]int64
	total  int64
}

func histIndex(v int64) int {
	if v < 0 {
		v = 0
	}
	shift := max(0, bits.Len64(uint64(v))-7)
	return min(shift*64+int(v>>shift), len(Histogram{}.counts)-1)
}

// histValue is the middle of bucket i, in the recorded unit.
func histValue(i int) float64 {
	if i < 128 {
		return float64(i)
	}
	shift := i/64 - 1
	low := int64(i-shift*64) << shift
	return float64(low) + float64(int64(1)<<shift)/2
}

// Record adds one sample, in the unit of the histogram (bench uses ns).
func (h *Histogram) Record(v int64) {
	h.counts[histIndex(v)]++
	h.total++
}

// Merge adds o's samples to h.
func (h *Histogram) Merge(o *Histogram) {
	for i, n := range o.counts {
		h.counts[i] += n
	}
	h.total += o.total
}

// Quantile returns the value below which a fraction q of samples fall.
func (h *Histogram) Quantile(q float64) float64 {
	if h.total == 0 {
		return 0
	}
	rank := int64(q*float64(h.total)+0.5) - 1
	rank = max(rank, 0)
	var seen int64
	for i, n := range h.counts {
		seen += n
		if seen > rank {
			return histValue(i)
		}
	}
	return histValue(len(h.counts) - 1)
}
