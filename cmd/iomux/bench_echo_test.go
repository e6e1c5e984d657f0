package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"

	"go.uber.org/goleak"
)

// checkBenchLeaks fails the test if, once its cleanups have run, it left
// goroutines or descriptors behind. Call it first: its cleanup runs last.
func checkBenchLeaks(t *testing.T) {
	t.Helper()
	count := func() int {
		ents, err := os.ReadDir("/proc/self/fd")
		if err != nil {
			return -1 // no /proc: goroutines only
		}
		return len(ents)
	}
	fds := count()
	ignore := goleak.IgnoreCurrent()
	t.Cleanup(func() {
		if t.Failed() {
			return
		}
		goleak.VerifyNone(t, ignore)
		if now := count(); now != fds {
			t.Errorf("%d descriptors open after the test, %d before", now, fds)
		}
	})
}

// startBenchEchoServer runs a goroutine-per-connection echo server on an
// ephemeral loopback port. corrupt, if set, alters what is echoed.
func startBenchEchoServer(t *testing.T, corrupt func([]byte)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				buf := make([]byte, 32<<10)
				for {
					n, err := c.Read(buf)
					if n > 0 {
						if corrupt != nil {
							corrupt(buf[:n])
						}
						if _, err := c.Write(buf[:n]); err != nil {
							return
						}
					}
					if err != nil {
						return
					}
				}
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return ln.Addr().String()
}

// benchJSON runs bench echo with --json and decodes its line.
func benchJSON(t *testing.T, args ...string) (echoResult, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := runBenchEcho(append(args, "--json"), &out, &errOut)
	var res echoResult
	if jerr := json.Unmarshal(out.Bytes(), &res); jerr != nil {
		t.Fatalf("output %q (stderr %q) is not one JSON line: %v (run error: %v)", out.String(), errOut.String(), jerr, err)
	}
	return res, err
}

func TestBenchEchoVerifiesEveryByte(t *testing.T) {
	checkBenchLeaks(t)
	addr := startBenchEchoServer(t, nil)
	pid := strconv.Itoa(os.Getpid()) // the test process is the server: its /proc entries exist
	for _, tc := range []struct {
		name   string
		driver string
		args   []string
		mode   string
	}{
		{"pingpong", "epoll", []string{"--conns", "8", "--size", "64"}, "pingpong"},
		{"pipelined", "epoll", []string{"--conns", "4", "--size", "100", "--pipeline", "16"}, "pipeline"},
		{"large", "epoll", []string{"--conns", "2", "--size", "100000"}, "pingpong"},
		{"goroutines", "goroutines", []string{"--conns", "4", "--size", "64", "--pipeline", "4"}, "pipeline"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"--addr", addr, "--duration", "300ms", "--warmup", "50ms",
				"--driver", tc.driver, "--server-pid", pid}, tc.args...)
			res, err := benchJSON(t, args...)
			if err != nil {
				t.Fatalf("bench echo: %v", err)
			}
			if res.Mode != tc.mode || res.RoundTrips == 0 || res.RTPerSec <= 0 || res.MBPerSec <= 0 {
				t.Fatalf("nothing measured: %+v", res)
			}
			if res.Errors != 0 || res.Mismatches != 0 {
				t.Fatalf("errors %d, mismatches %d against a correct server", res.Errors, res.Mismatches)
			}
			if !(0 < res.P50us && res.P50us <= res.P99us && res.P99us <= res.P999us) {
				t.Fatalf("latency quantiles out of order: %+v", res)
			}
			if res.ServerRSSKiB <= 0 || res.ServerCPUUsPerRT < 0 {
				t.Fatalf("server figures missing: %+v", res)
			}
			if res.RoundTrips%int64(res.Pipeline) != 0 {
				t.Fatalf("%d messages is not whole batches of %d", res.RoundTrips, res.Pipeline)
			}
		})
	}
}

func TestBenchEchoCountsMismatches(t *testing.T) {
	checkBenchLeaks(t)
	// Flip one bit in every chunk: lengths stay right, contents do not.
	addr := startBenchEchoServer(t, func(b []byte) { b[len(b)/2] ^= 0x20 })
	for _, driver := range []string{"epoll", "goroutines"} {
		t.Run(driver, func(t *testing.T) {
			res, err := benchJSON(t, "--addr", addr, "--conns", "3", "--size", "64",
				"--duration", "200ms", "--warmup", "0s", "--driver", driver)
			if err == nil || !strings.Contains(err.Error(), "mismatch") {
				t.Fatalf("want a mismatch error, got %v", err)
			}
			if res.Mismatches == 0 {
				t.Fatalf("corrupted echoes not counted: %+v", res)
			}
		})
	}
}

func TestBenchEchoExitStatus(t *testing.T) {
	checkBenchLeaks(t)
	addr := startBenchEchoServer(t, func(b []byte) { b[0]++ })
	var out, errOut bytes.Buffer
	code := run([]string{"bench", "echo", "--addr", addr, "--conns", "1", "--duration", "100ms", "--warmup", "0s", "--json"}, &out, &errOut)
	if code != 1 || !strings.Contains(errOut.String(), "mismatches") {
		t.Fatalf("exit status %d (want 1), stderr %q", code, errOut.String())
	}
}

func TestBenchEchoServerGone(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	var out bytes.Buffer
	err = runBenchEcho([]string{"--addr", addr, "--conns", "1", "--duration", "100ms"}, &out, io.Discard)
	if err == nil {
		t.Fatal("no error dialing a closed port")
	}
}

func TestBenchEchoIdle(t *testing.T) {
	checkBenchLeaks(t)
	addr := startBenchEchoServer(t, nil)
	res, err := benchJSON(t, "--addr", addr, "--idle", "50", "--hold", "10ms", "--server-pid", strconv.Itoa(os.Getpid()))
	if err != nil {
		t.Fatal(err)
	}
	if res.Mode != "idle" || res.RoundTrips != 50 || res.IdleRSSAfterKiB <= 0 {
		t.Fatalf("idle: want 50 echoes and an RSS, got %+v", res)
	}
}

func TestBenchEchoBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"--conns", "0"},
		{"--size", "0"},
		{"--pipeline", "0"},
		{"--driver", "threads"},
		{"--syscalls"},
		{"extra"},
	} {
		err := runBenchEcho(args, io.Discard, io.Discard)
		if !errors.Is(err, errUsage) {
			t.Errorf("%q: want a usage error, got %v", args, err)
		}
	}
}

func TestHistogramQuantiles(t *testing.T) {
	var h histogram
	for v := int64(1); v <= 100000; v++ {
		h.record(v * 10) // 10 ns .. 1 ms, uniform
	}
	for _, tc := range []struct{ q, want float64 }{{0.5, 500000}, {0.99, 990000}, {0.999, 999000}} {
		got := h.quantile(tc.q)
		if got < tc.want*0.98 || got > tc.want*1.02 {
			t.Errorf("quantile(%v) = %.0f, want %.0f ± 2%%", tc.q, got, tc.want)
		}
	}
	for v := int64(0); v < 1<<20; v = v*3 + 1 {
		if i := histIndex(v); histValue(i) < float64(v)*0.98 || histValue(i) > float64(v)*1.02+1 {
			t.Errorf("value %d lands in bucket %d worth %.0f", v, i, histValue(i))
		}
	}
}
