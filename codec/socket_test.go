package codec

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"testing"
)

// TestOverLoopbackTCP sends frames in writes of random sizes over a real
// TCP connection and splits them from a small read buffer that keeps the
// unconsumed tail, as a loop connection does: frames cut by the kernel at
// arbitrary points must all come out, whole and in order.
func TestOverLoopbackTCP(t *testing.T) {
	const count = 5000
	for _, tc := range []struct {
		name   string
		split  bufio.SplitFunc
		encode func(dst []byte, i int) []byte
	}{
		{"Lines", Lines(64), func(dst []byte, i int) []byte {
			return fmt.Appendf(dst, "line %d\r\n", i)
		}},
		{"LengthPrefixed", must(LengthPrefixed(2, binary.LittleEndian, 64)), func(dst []byte, i int) []byte {
			dst, _ = AppendLengthPrefixed(dst, 2, binary.LittleEndian, fmt.Appendf(nil, "line %d", i))
			return dst
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { ln.Close() })
			sent := make(chan error, 1)
			go func() {
				c, err := ln.Accept()
				if err != nil {
					sent <- err
					return
				}
				defer c.Close()
				var wire []byte
				for i := range count {
					wire = tc.encode(wire, i)
				}
				rng := rand.New(rand.NewPCG(1, 2))
				for len(wire) > 0 {
					k := min(1+rng.IntN(300), len(wire))
					if _, err := c.Write(wire[:k]); err != nil {
						sent <- err
						return
					}
					wire = wire[k:]
				}
				sent <- nil
			}()

			c, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { c.Close() })
			buf := make([]byte, 0, 256) // small, so frames straddle reads
			next := 0
			for {
				n, err := c.Read(buf[len(buf):cap(buf)])
				buf = buf[:len(buf)+n]
				used, splitErr := Each(tc.split, buf, func(f []byte) error {
					if want := fmt.Sprintf("line %d", next); string(f) != want {
						return fmt.Errorf("frame %d = %q, want %q", next, f, want)
					}
					next++
					return nil
				})
				if splitErr != nil {
					t.Fatal(splitErr)
				}
				buf = buf[:copy(buf, buf[used:])] // keep the unconsumed tail
				if errors.Is(err, io.EOF) {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
			}
			if err := <-sent; err != nil {
				t.Fatal(err)
			}
			if next != count || len(buf) != 0 {
				t.Fatalf("got %d frames and %d stray bytes, want %d and 0", next, len(buf), count)
			}
		})
	}
}
