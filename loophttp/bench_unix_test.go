//go:build unix

package loophttp

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// BenchmarkWrk serves /plaintext to wrk (C=64, keep-alive, 3 s) from
// loophttp and from net/http.Server, one after the other in this process,
// and reports requests/s and this process's CPU per request (run it with
// -cpuprofile to see where a server's time goes). WRK_SCRIPT names a wrk
// script to run with (../bench/http/pipeline.lua: 16 requests a write).
func BenchmarkWrk(b *testing.B) {
	if _, err := exec.LookPath("wrk"); err != nil {
		b.Skip("no wrk")
	}
	plaintext := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h["Content-Type"] = []string{"text/plain"}
		h["Content-Length"] = []string{"13"}
		io.WriteString(w, "Hello, World!")
	})
	for _, name := range []string{"loophttp", "loophttp-nonblocking", "net-http"} {
		b.Run(name, func(b *testing.B) {
			var addr string
			if name != "net-http" {
				s := Server{}
				if name == "loophttp-nonblocking" {
					s.NonBlocking = func(*http.Request) bool { return true }
				}
				s.Loop.Loops = 1
				addr = serve(b, &s, plaintext)
			} else {
				ln, err := net.Listen("tcp", "127.0.0.1:0")
				if err != nil {
					b.Fatal(err)
				}
				srv := &http.Server{Handler: plaintext}
				go srv.Serve(ln)
				b.Cleanup(func() { srv.Close() })
				addr = ln.Addr().String()
			}
			for range b.N {
			}
			var m0, m1 runtime.MemStats
			runtime.ReadMemStats(&m0)
			cpu0 := cpuTime()
			args := []string{"-t1", "-c64", "-d3s", "http://" + addr + "/"}
			if script := os.Getenv("WRK_SCRIPT"); script != "" {
				args = append(args, "-s", script) // a pipelining script, say
			}
			out, err := exec.Command("wrk", args...).CombinedOutput()
			cpu := cpuTime() - cpu0
			runtime.ReadMemStats(&m1)
			if err != nil {
				b.Fatalf("wrk: %v\n%s", err, out)
			}
			m := regexp.MustCompile(`(\d+) requests in`).FindSubmatch(out)
			if m == nil {
				b.Fatalf("wrk: %s", out)
			}
			n, _ := strconv.Atoi(string(m[1]))
			b.ReportMetric(float64(n)/3, "req/s")
			b.ReportMetric(float64(cpu.Microseconds())/float64(n), "cpu-µs/req")
			b.ReportMetric(float64(m1.Mallocs-m0.Mallocs)/float64(n), "allocs/req")
			b.ReportMetric(float64(m1.TotalAlloc-m0.TotalAlloc)/float64(n), "B/req")
		})
	}
}

func cpuTime() time.Duration {
	var ru unix.Rusage
	unix.Getrusage(unix.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkPipelined: batches of 16 pipelined GET /plaintext on one
// connection, on workers and on the loop (NonBlocking); an op is a batch,
// allocs/req and B/req are the whole process's (the client allocates
// nothing a batch) over its 16 requests.
func BenchmarkPipelined(b *testing.B) {
	const depth = 16
	plaintext := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h["Content-Type"] = []string{"text/plain"}
		h["Content-Length"] = []string{"13"}
		io.WriteString(w, "Hello, World!")
	})
	batch := []byte(strings.Repeat("GET /plaintext HTTP/1.1\r\nHost: x\r\n\r\n", depth))
	body := []byte("Hello, World!")
	for _, name := range []string{"workers", "nonblocking"} {
		b.Run(name, func(b *testing.B) {
			s := Server{}
			if name == "nonblocking" {
				s.NonBlocking = func(*http.Request) bool { return true }
			}
			s.Loop.Loops = 1
			nc, err := net.Dial("tcp", serve(b, &s, plaintext))
			if err != nil {
				b.Fatal(err)
			}
			defer nc.Close()
			buf := make([]byte, 64<<10)
			exchange := func() {
				if _, err := nc.Write(batch); err != nil {
					b.Fatal(err)
				}
				got, n := 0, 0
				for got < depth {
					m, err := nc.Read(buf[n:])
					if err != nil {
						b.Fatal(err)
					}
					n += m
					got = bytes.Count(buf[:n], body)
				}
			}
			exchange() // the connection's first batch makes what it keeps
			var m0, m1 runtime.MemStats
			runtime.ReadMemStats(&m0)
			b.ResetTimer()
			for range b.N {
				exchange()
			}
			b.StopTimer()
			runtime.ReadMemStats(&m1)
			b.ReportMetric(float64(m1.Mallocs-m0.Mallocs)/float64(b.N*depth), "allocs/req")
			b.ReportMetric(float64(m1.TotalAlloc-m0.TotalAlloc)/float64(b.N*depth), "B/req")
		})
	}
}
