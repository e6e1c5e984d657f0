package latency

import "testing"

func TestHistogramQuantiles(t *testing.T) {
	var h Histogram
	for v := int64(1); v <= 100000; v++ {
		h.Record(v * 10) // 10 ns .. 1 ms, uniform
	}
	for _, tc := range []struct{ q, want float64 }{{0.5, 500000}, {0.99, 990000}, {0.999, 999000}} {
		got := h.Quantile(tc.q)
		if got < tc.want*0.98 || got > tc.want*1.02 {
			t.Errorf("Quantile(%v) = %.0f, want %.0f ± 2%%", tc.q, got, tc.want)
		}
	}
	for v := int64(0); v < 1<<20; v = v*3 + 1 {
		if i := histIndex(v); histValue(i) < float64(v)*0.98 || histValue(i) > float64(v)*1.02+1 {
			t.Errorf("value %d lands in bucket %d worth %.0f", v, i, histValue(i))
		}
	}
}
