package loop

import (
	"fmt"
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

// BenchmarkEcho measures 64-byte ping-pong round trips against a Server
// running the echo handler, over conns loopback connections at once (one
// op = one round trip on some connection). allocs/op counts the whole
// process, so the clients are Go net conns, which do not allocate per
// Read or Write: what remains is the loop's read/echo path.
func BenchmarkEcho(b *testing.B) {
	for _, conns := range []int{1, 50} {
		b.Run(fmt.Sprintf("conns=%d", conns), func(b *testing.B) {
			s := startServer(b, echoHandler{}, Options{}, "tcp", "127.0.0.1:0")
			clients := make([]net.Conn, conns)
			for i := range clients {
				clients[i] = dial(b, s)
			}
			msg := make([]byte, 64)
			for _, c := range clients { // warm up every connection
				if _, err := c.Write(msg); err != nil {
					b.Fatal(err)
				}
				if _, err := io.ReadFull(c, make([]byte, 64)); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportAllocs()
			b.SetBytes(64)
			b.ResetTimer()
			start := time.Now()
			var wg sync.WaitGroup
			errs := make(chan error, conns)
			for i, c := range clients {
				n := b.N / conns
				if i < b.N%conns {
					n++
				}
				wg.Go(func() {
					out, in := make([]byte, 64), make([]byte, 64)
					for range n {
						if _, err := c.Write(out); err != nil {
							errs <- err
							return
						}
						if _, err := io.ReadFull(c, in); err != nil {
							errs <- err
							return
						}
					}
				})
			}
			wg.Wait()
			elapsed := time.Since(start)
			b.StopTimer()
			select {
			case err := <-errs:
				b.Fatal(err)
			default:
			}
			b.ReportMetric(float64(b.N)/elapsed.Seconds(), "roundtrips/s")
		})
	}
}
