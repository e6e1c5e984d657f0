package iomux

import (
	"fmt"
	"testing"
	"time"
)

// BenchmarkWait measures one Wait with N registered fds of which exactly
// one is ready: select and poll hand all N to the kernel on every call
// (O(N)), epoll and kqueue keep the interest set in the kernel (O(ready)).
// The fds are both ends of N/2 pipes, all watched for Readable; one pipe
// holds a byte that is never read, so every Wait finds it.
//
//	go test -run '^$' -bench Wait -benchtime=2000x .
func BenchmarkWait(b *testing.B) {
	for _, backend := range Backends() {
		b.Run(backend, func(b *testing.B) {
			for _, n := range []int{10, 100, 1000, 10000} {
				b.Run(fmt.Sprintf("N=%d", n), func(b *testing.B) { benchmarkWait(b, backend, n) })
			}
		})
	}
}

func benchmarkWait(b *testing.B, backend string, n int) {
	s := mustOpen(b, backendOpener(backend))
	if limit := s.Capabilities().FDLimit; limit != 0 && n >= limit {
		b.Skipf("%s stops at fd %d (Capabilities.FDLimit)", backend, limit)
	}
	fds := manyPipes(b, n/2)
	for _, fd := range fds {
		register(b, s, fd, Readable, nil)
	}
	write(b, fds[len(fds)-1], "x") // the last pipe: the worst case for a scan
	ready := make([]Ready, 64)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		got, err := s.Wait(time.Second, ready)
		if err != nil || got != 1 {
			b.Fatalf("Wait = %d, %v; want 1 ready", got, err)
		}
	}
}
