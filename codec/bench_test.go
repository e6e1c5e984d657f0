package codec

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"testing"
)

// frameCount frames of each size are buffered for the split benchmarks,
// as if one large read had delivered them.
const frameCount = 1000

// benchBuffers returns, per framing, a buffer of frameCount frames whose
// payload is size bytes of 'x'.
func benchBuffers(size int) []struct {
	name  string
	split bufio.SplitFunc
	buf   []byte
} {
	payload := bytes.Repeat([]byte("x"), size)
	encode := func(suffix string) []byte {
		var buf []byte
		for range frameCount {
			buf = append(append(buf, payload...), suffix...)
		}
		return buf
	}
	var lp []byte
	for range frameCount {
		lp, _ = AppendLengthPrefixed(lp, 4, binary.BigEndian, payload)
	}
	return []struct {
		name  string
		split bufio.SplitFunc
		buf   []byte
	}{
		{"Lines", Lines(4096), encode("\r\n")},
		{"Delimiter", must(Delimiter([]byte("\r\n\r\n"), 4096)), encode("\r\n\r\n")},
		{"Fixed", must(Fixed(size)), encode("")},
		{"LengthPrefixed", must(LengthPrefixed(4, binary.BigEndian, 4096)), lp},
	}
}

// BenchmarkEach measures Each over a buffer of frameCount complete frames:
// ns/frame is the per-frame cost, allocs/op must stay 0.
func BenchmarkEach(b *testing.B) {
	for _, size := range []int{64, 1024} {
		for _, bb := range benchBuffers(size) {
			b.Run(fmt.Sprintf("%s/%dB", bb.name, size), func(b *testing.B) {
				b.ReportAllocs()
				b.SetBytes(int64(len(bb.buf)))
				frames := 0
				count := func([]byte) error { frames++; return nil }
				for b.Loop() {
					n, err := Each(bb.split, bb.buf, count)
					if n != len(bb.buf) || err != nil {
						b.Fatalf("Each = %d, %v", n, err)
					}
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(frames), "ns/frame")
			})
		}
	}
}

// BenchmarkIncomplete measures the "need more" answer for a 4000-byte
// line that has not ended yet: a terminator Splitter rescans it on every
// read, bounded by max.
func BenchmarkIncomplete(b *testing.B) {
	buf := bytes.Repeat([]byte("x"), 4000)
	for _, bb := range []struct {
		name  string
		split bufio.SplitFunc
	}{
		{"Lines", Lines(4096)},
		{"Delimiter", must(Delimiter([]byte("\r\n\r\n"), 4096))},
	} {
		b.Run(bb.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if n, _, err := bb.split(buf, false); n != 0 || err != nil {
					b.Fatal(n, err)
				}
			}
		})
	}
}

// BenchmarkAppendLengthPrefixed measures encoding a 64-byte message into
// a reused output buffer.
func BenchmarkAppendLengthPrefixed(b *testing.B) {
	b.ReportAllocs()
	payload := bytes.Repeat([]byte("x"), 64)
	dst := make([]byte, 0, 128)
	for b.Loop() {
		var err error
		if dst, err = AppendLengthPrefixed(dst[:0], 4, binary.BigEndian, payload); err != nil {
			b.Fatal(err)
		}
	}
}

// TestNoAllocations keeps the zero-allocation promise from silently
// regressing (allocation counts, unlike timings, are deterministic).
func TestNoAllocations(t *testing.T) {
	for _, bb := range benchBuffers(64) {
		count := func([]byte) error { return nil }
		allocs := testing.AllocsPerRun(10, func() {
			if _, err := Each(bb.split, bb.buf, count); err != nil {
				t.Fatal(err)
			}
		})
		if allocs != 0 {
			t.Errorf("%s: %v allocations per Each over %d frames, want 0", bb.name, allocs, frameCount)
		}
	}
	dst := make([]byte, 0, 128)
	payload := make([]byte, 64)
	if allocs := testing.AllocsPerRun(10, func() {
		dst, _ = AppendLengthPrefixed(dst[:0], 2, binary.LittleEndian, payload)
	}); allocs != 0 {
		t.Errorf("AppendLengthPrefixed into a large enough dst: %v allocations, want 0", allocs)
	}
}
