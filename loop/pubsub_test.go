package loop_test

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"net"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/iomux/iomux/loop"
)

// TestPubSubFlood is the hub of ExampleLoop_Post under load: 200
// subscribers (a few of them slow readers) and a publisher writing as fast
// as it can. Every subscriber gets every message in order, none is
// dropped, the publisher is held back (its reads paused while subscribers'
// queues are past HighWater) and the heap stays bounded: output queued is
// at most 200 x (HighWater + one batch), whatever the publisher sends.
func TestPubSubFlood(t *testing.T) {
	loop.SkipUnderWine(t, "the test needs the slow subscribers to fall behind the publisher; under Wine every socket call is a wineserver round trip, the publisher may be no faster than they are, and then there is nothing to hold back")
	const subscribers, slow, highWater = 200, 5, 32 << 10
	messages := 100_000
	if loop.RaceEnabled || testing.Short() {
		messages = 50_000
	}
	// Small socket buffers, so that the slow readers' queues fill in the
	// loop, not in the kernel.
	// The loop's Debug log tells each pause.
	pauses := &countPauses{}
	s := newHub(loop.Options{Loops: 2, HighWater: highWater, SocketWriteBuffer: 32 << 10, Logger: slog.New(pauses)})
	if err := s.Listen("tcp", "127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	defer s.Stop(context.Background())
	addr := s.Addrs()[0].String()

	var heapPeak, queuedPeak atomic.Uint64
	sampling := make(chan struct{})
	var sampler sync.WaitGroup
	sampler.Go(func() {
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		var ms runtime.MemStats
		for {
			select {
			case <-sampling:
				return
			case <-tick.C:
			}
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > heapPeak.Load() {
				heapPeak.Store(ms.HeapInuse)
			}
			st := s.Stats()
			if q := uint64(st.Queued); q > queuedPeak.Load() {
				queuedPeak.Store(q)
			}
		}
	})
	defer func() { close(sampling); sampler.Wait() }()

	errs := make(chan error, subscribers+1)
	var readers sync.WaitGroup
	for i := range subscribers {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if i < slow {
			c.(*net.TCPConn).SetReadBuffer(16 << 10)
		}
		c.SetDeadline(time.Now().Add(5 * time.Minute))
		if _, err := c.Write([]byte("sub\n")); err != nil {
			t.Fatal(err)
		}
		r := bufio.NewReader(c)
		if line, err := r.ReadString('\n'); err != nil || line != "subscribed\n" {
			t.Fatalf("subscriber %d: %q, %v", i, line, err)
		}
		readers.Go(func() {
			for want := range messages {
				if i < slow && want%500 == 0 {
					time.Sleep(10 * time.Millisecond) // a slow reader: the publisher waits for it
				}
				line, err := r.ReadSlice('\n')
				if err != nil {
					errs <- fmt.Errorf("subscriber %d, message %d: %w", i, want, err)
					return
				}
				if got, err := strconv.Atoi(string(line[:len(line)-1])); err != nil || got != want {
					errs <- fmt.Errorf("subscriber %d: got %q, want message %d", i, line, want)
					return
				}
			}
		})
	}

	pub, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	start := time.Now()
	w := bufio.NewWriterSize(pub, 32<<10)
	w.WriteString("pub\n")
	for i := range messages {
		w.WriteString(strconv.Itoa(i))
		w.WriteByte('\n')
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	readers.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	st := s.Stats()
	t.Logf("%d messages to %d subscribers (%d slow) in %v: peak heap in use %.1f MiB, peak queued %.1f MiB, %d pauses",
		messages, subscribers, slow, time.Since(start).Round(time.Millisecond),
		float64(heapPeak.Load())/(1<<20), float64(queuedPeak.Load())/(1<<20), pauses.n.Load())
	if pauses.n.Load() == 0 {
		t.Errorf("no subscriber's queue ever reached HighWater: the publisher was never held back")
	}
	if st.Open != subscribers+1 {
		t.Errorf("%d connections open, want %d: a subscriber was dropped", st.Open, subscribers+1)
	}
	// The bound on queued output: each subscriber's queue passes
	// HighWater by at most one batch (one read buffer of 64 KiB).
	if limit := uint64(subscribers * (highWater + 64<<10)); queuedPeak.Load() > limit {
		t.Errorf("peak queued %d bytes, over %d", queuedPeak.Load(), limit)
	}
	if limit := uint64(128 << 20); heapPeak.Load() > limit {
		t.Errorf("peak heap in use %d bytes, over %d", heapPeak.Load(), limit)
	}
}

// countPauses is a slog.Handler that counts the loop's "connection
// paused" events.
type countPauses struct{ n atomic.Int64 }

func (h *countPauses) Enabled(context.Context, slog.Level) bool { return true }

func (h *countPauses) Handle(_ context.Context, r slog.Record) error {
	if r.Message == "loop: connection paused" {
		h.n.Add(1)
	}
	return nil
}

func (h *countPauses) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *countPauses) WithGroup(string) slog.Handler      { return h }
