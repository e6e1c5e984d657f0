// Command loadgen is the echo load generator bench/run measures every peer
// with: it drives an echo server's connections from one thread through an
// iomux Selector, in plain TCP or TLS, verifies every echoed byte, and
// reports round trips per second, MB/s, latency, TLS handshakes per second,
// and (given the server's pid) the server's CPU per round trip or
// handshake, RSS and system calls, as text or one JSON line.
//
//	loadgen --addr 127.0.0.1:7000 --conns 50 --size 64 --duration 10s
//	loadgen --addr 127.0.0.1:7443 --tls --handshakes 50
//	loadgen --help
package main

import (
	"crypto/tls"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"runtime/pprof"
	"strings"
	"time"

	"github.com/iomux/iomux/bench/internal/latency"
	"github.com/iomux/iomux/bench/internal/procstat"
	"github.com/iomux/iomux/internal/sock"
)

const usage = `Usage: loadgen [flags]

loadgen opens --conns connections to an echo server from one thread and
plays ping-pong on each: send --size bytes, wait for exactly those bytes back,
verify every byte, repeat (--pipeline P sends P messages per batch). After
--warmup it measures for --duration and reports round trips (messages) per
second, MB/s (payload echoed, 1 MB = 10^6 bytes), latency p50/p99/p99.9,
errors and content mismatches. With --server-pid it also reports the server's
CPU per round trip (user and system, from /proc/PID/stat) and its RSS; with
--syscalls also the server's system calls per round trip (perf stat). It exits
1 if any error or mismatch was seen or no round trip completed (a server that
never answers), 2 on a usage error.

--idle C --hold T opens C connections, echoes --size bytes once on each,
holds them for T and reports the server's RSS growth per connection.

--tls speaks TLS (crypto/tls, TLS 1.2 or 1.3 as the server offers, full
handshakes: no session resumption) on every scenario above: the handshakes
are done before the warmup (with --idle, before the RSS is read), so the
window measures established connections only. The server's certificate is
trusted as it comes, as a benchmark may; --tls-ca FILE verifies it against
that PEM CA for the --addr host instead. --handshakes N measures handshakes:
N connections at once, each over and over: connect, full handshake, one
--size echo (verified), close_notify, close; it reports handshakes per
second and the server's CPU per handshake (implies --tls).

The load generator is one thread driving every connection through an iomux
Selector (--driver selector: iomux's "auto" backend, epoll on Linux);
--driver goroutines uses one goroutine and net.Conn per connection, and costs
more per round trip. Pin it and the server to different cores (taskset) for
figures that mean something; --cpuprofile profiles the generator itself.

Examples:
  $ loadgen --addr 127.0.0.1:7000 --conns 50 --size 64 --duration 10s
  $ loadgen --addr 127.0.0.1:7000 --conns 50 --pipeline 16 --server-pid 1234 --json
  $ loadgen --addr 127.0.0.1:7000 --idle 10000 --hold 2s --server-pid 1234
  $ loadgen --addr 127.0.0.1:7443 --tls --tls-ca cert.pem --conns 50 --size 16384
  $ loadgen --addr 127.0.0.1:7443 --handshakes 50 --server-pid 1234
`

// The drivers --driver names.
const (
	driverSelector   = "selector"
	driverGoroutines = "goroutines"
)

// dialTimeout bounds each connect: a server whose backlog is full drops
// the SYN, and the retries should not hang the run for minutes.
const dialTimeout = 10 * time.Second

// errUsage marks bad command-line input: exit status 2.
var errUsage = errors.New("usage")

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

// run runs "loadgen args..." and returns the exit status: 0, 1 when the
// run failed or saw an error or mismatch, 2 for a usage error.
func run(args []string, stdout, stderr io.Writer) int {
	err := runLoad(args, stdout, stderr)
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errUsage):
		fmt.Fprintf(stderr, "loadgen: %s\nRun 'loadgen --help' for usage.\n", strings.TrimPrefix(err.Error(), "usage: "))
		return 2
	}
	fmt.Fprintf(stderr, "loadgen: %v\n", err)
	return 1
}

// echoConfig is what the load generator was asked to do.
type echoConfig struct {
	addr       string // as given, for the report
	dialAddr   string // addr resolved once, so 10,000 dials look nothing up
	conns      int
	size       int
	pipeline   int
	duration   time.Duration
	warmup     time.Duration
	serverPID  int
	json       bool
	idle       int
	hold       time.Duration
	driver     string
	syscalls   bool
	tls        *tls.Config // nil: plain TCP
	tlsCA      string      // the --tls-ca file, "" to trust any certificate
	handshakes int         // handshake mode: connections handshaking at once
	progress   io.Writer   // nil: no progress line
	warnings   io.Writer
}

// echoResult is the measured outcome; its JSON form is the --json line
// that bench/run collects in raw.jsonl and bench/report reads.
type echoResult struct {
	Mode       string  `json:"mode"` // "pingpong", "pipeline", "idle" or "handshake"
	Addr       string  `json:"addr"`
	Driver     string  `json:"driver"`
	Conns      int     `json:"conns"`
	Size       int     `json:"size"`
	Pipeline   int     `json:"pipeline"`
	Seconds    float64 `json:"seconds"`
	RoundTrips int64   `json:"round_trips"` // messages echoed in the window (handshake mode: one per handshake)
	RTPerSec   float64 `json:"rt_per_s"`
	MBPerSec   float64 `json:"mb_per_s"`
	P50us      float64 `json:"p50_us"`
	P99us      float64 `json:"p99_us"`
	P999us     float64 `json:"p999_us"`
	Errors     int64   `json:"errors"`
	Mismatches int64   `json:"mismatches"`

	ServerUserUsPerRT float64 `json:"server_user_us_per_rt,omitempty"`
	ServerSysUsPerRT  float64 `json:"server_sys_us_per_rt,omitempty"`
	ServerCPUUsPerRT  float64 `json:"server_cpu_us_per_rt,omitempty"`
	ServerRSSKiB      int64   `json:"server_rss_kib,omitempty"`
	SyscallsPerRT     float64 `json:"server_syscalls_per_rt,omitempty"`
	ClientCPUUsPerRT  float64 `json:"client_cpu_us_per_rt,omitempty"` // the load generator's own cost

	IdleRSSBeforeKiB int64   `json:"idle_rss_before_kib,omitempty"`
	IdleRSSAfterKiB  int64   `json:"idle_rss_after_kib,omitempty"`
	IdleKiBPerConn   float64 `json:"idle_kib_per_conn,omitempty"`

	// TLS runs: what was negotiated (on the first connection), and whether
	// the certificate was verified ("ca") or trusted as it came ("any").
	TLS        bool   `json:"tls,omitempty"`
	TLSVersion string `json:"tls_version,omitempty"`
	TLSCipher  string `json:"tls_cipher,omitempty"`
	TLSGroup   string `json:"tls_group,omitempty"` // the key exchange
	TLSTrust   string `json:"tls_trust,omitempty"`

	// Handshake mode: complete cycles (connect, handshake, echo, close) in
	// the window; the per-round-trip figures above count the same cycles.
	Handshakes              int64   `json:"handshakes,omitempty"`
	HandshakesPerSec        float64 `json:"handshakes_per_s,omitempty"`
	ServerCPUUsPerHandshake float64 `json:"server_cpu_us_per_handshake,omitempty"`
	ClientCPUUsPerHandshake float64 `json:"client_cpu_us_per_handshake,omitempty"`
}

// runLoad parses the flags, runs the load and prints the result. --help
// prints the usage and returns flag.ErrHelp.
func runLoad(args []string, stdout, stderr io.Writer) error {
	cfg, cpuprofile, err := parseConfig(args, stdout)
	if err != nil {
		return err
	}
	cfg.warnings = stderr
	if f, ok := stderr.(*os.File); ok && isTerminal(f) && !cfg.json {
		cfg.progress = stderr
	}
	if cpuprofile != "" {
		f, err := os.Create(cpuprofile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	res, err := benchEcho(cfg)
	if err != nil {
		return err
	}
	if cfg.json {
		line, _ := json.Marshal(res)
		fmt.Fprintf(stdout, "%s\n", line)
	} else {
		res.print(stdout)
	}
	if res.Errors > 0 || res.Mismatches > 0 {
		return fmt.Errorf("%d errors, %d content mismatches", res.Errors, res.Mismatches)
	}
	if res.RoundTrips == 0 { // a server that accepts and never answers measures nothing
		return fmt.Errorf("0 round trips in %v: %s never answered", cfg.duration, cfg.addr)
	}
	return nil
}

// parseConfig reads the flags into an echoConfig and checks them; help
// goes to stdout.
func parseConfig(args []string, stdout io.Writer) (cfg echoConfig, cpuprofile string, err error) {
	fs := flag.NewFlagSet("loadgen", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&cfg.addr, "addr", "127.0.0.1:7000", "echo server `host:port`")
	fs.IntVar(&cfg.conns, "conns", 50, "connections, all driven from one thread")
	fs.IntVar(&cfg.size, "size", 64, "message size in `bytes`")
	fs.IntVar(&cfg.pipeline, "pipeline", 1, "messages sent per batch before waiting for them (1 = ping-pong)")
	fs.DurationVar(&cfg.duration, "duration", 10*time.Second, "measured window")
	fs.DurationVar(&cfg.warmup, "warmup", time.Second, "unmeasured run before the window")
	fs.IntVar(&cfg.serverPID, "server-pid", 0, "server `pid`: report its CPU per round trip and RSS from /proc")
	fs.BoolVar(&cfg.syscalls, "syscalls", false, "count the server's system calls with perf stat (needs --server-pid and perf)")
	fs.BoolVar(&cfg.json, "json", false, "print one JSON line instead of the text report")
	fs.IntVar(&cfg.idle, "idle", 0, "idle mode: open this many connections, echo once on each, hold them")
	fs.DurationVar(&cfg.hold, "hold", 2*time.Second, "idle mode: how long to hold the connections before measuring RSS")
	useTLS := fs.Bool("tls", false, "speak TLS: full handshakes before the warmup, the certificate trusted as it comes unless --tls-ca")
	fs.StringVar(&cfg.tlsCA, "tls-ca", "", "verify the server's certificate against this PEM CA `file` for the --addr host (implies --tls; default: trust any)")
	fs.IntVar(&cfg.handshakes, "handshakes", 0, "handshake mode: this many connections at once, each repeatedly connect, handshake, echo --size bytes once, close (implies --tls)")
	fs.StringVar(&cfg.driver, "driver", driverSelector, "load generator: selector (one thread, an iomux Selector; epoll is an old name for it) or goroutines (one per connection)")
	fs.StringVar(&cpuprofile, "cpuprofile", "", "write the load generator's CPU profile to this `file` (go tool pprof)")
	if err := fs.Parse(args); errors.Is(err, flag.ErrHelp) {
		fmt.Fprint(stdout, usage, "\nFlags:\n")
		fs.SetOutput(stdout)
		fs.PrintDefaults()
		return cfg, "", err
	} else if err != nil {
		return cfg, "", fmt.Errorf("%w: %v", errUsage, err)
	}
	if fs.NArg() > 0 {
		return cfg, "", fmt.Errorf("%w: unexpected arguments %q", errUsage, fs.Args())
	}
	if cfg.idle > 0 {
		cfg.conns = cfg.idle
	}
	if cfg.handshakes > 0 {
		cfg.conns = cfg.handshakes
	}
	if cfg.driver == "epoll" { // the name before the driver ran on any backend
		cfg.driver = driverSelector
	}
	switch {
	case cfg.conns < 1:
		return cfg, "", fmt.Errorf("%w: --conns must be at least 1", errUsage)
	case cfg.size < 1:
		return cfg, "", fmt.Errorf("%w: --size must be at least 1", errUsage)
	case cfg.pipeline < 1:
		return cfg, "", fmt.Errorf("%w: --pipeline must be at least 1", errUsage)
	case cfg.duration <= 0 && cfg.idle == 0:
		return cfg, "", fmt.Errorf("%w: --duration must be positive", errUsage)
	case cfg.driver != driverSelector && cfg.driver != driverGoroutines:
		return cfg, "", fmt.Errorf("%w: --driver must be selector or goroutines", errUsage)
	case cfg.syscalls && cfg.serverPID == 0:
		return cfg, "", fmt.Errorf("%w: --syscalls needs --server-pid", errUsage)
	case cfg.handshakes < 0:
		return cfg, "", fmt.Errorf("%w: --handshakes must be at least 1", errUsage)
	case cfg.handshakes > 0 && (cfg.idle > 0 || cfg.pipeline > 1):
		return cfg, "", fmt.Errorf("%w: --handshakes goes with neither --idle nor --pipeline", errUsage)
	}
	e, err := sock.Resolve("tcp", cfg.addr)
	if err != nil {
		return cfg, "", fmt.Errorf("%w: --addr: %v", errUsage, err)
	}
	cfg.dialAddr = e.Addr().String()
	if *useTLS || cfg.tlsCA != "" || cfg.handshakes > 0 {
		if cfg.tls, err = clientTLSConfig(cfg.addr, cfg.tlsCA); err != nil {
			return cfg, "", fmt.Errorf("%w: %v", errUsage, err)
		}
	}
	return cfg, cpuprofile, nil
}

// isTerminal reports whether f is a character device: a terminal, for the
// progress line's purpose (redirected output is a file or a pipe).
func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

func (r *echoResult) print(w io.Writer) {
	fmt.Fprintf(w, "%s %s: %d conns, %d B", r.Mode, r.Addr, r.Conns, r.Size)
	if r.Pipeline > 1 {
		fmt.Fprintf(w, " x %d pipelined", r.Pipeline)
	}
	fmt.Fprintf(w, ", %.1fs (driver %s)\n", r.Seconds, r.Driver)
	if r.TLS {
		trust := "certificate verified against --tls-ca"
		if r.TLSTrust != "ca" {
			trust = "certificate not verified (no --tls-ca)"
		}
		fmt.Fprintf(w, "  %s, %s, %s; %s\n", r.TLSVersion, r.TLSCipher, r.TLSGroup, trust)
	}
	switch r.Mode {
	case "handshake":
		fmt.Fprintf(w, "  %.0f handshakes/s (each: connect, full handshake, one %d B echo, close)\n", r.HandshakesPerSec, r.Size)
		fmt.Fprintf(w, "  one cycle p50 %.1f µs, p99 %.1f µs, p99.9 %.1f µs\n", r.P50us, r.P99us, r.P999us)
		if r.ServerCPUUsPerHandshake > 0 {
			fmt.Fprintf(w, "  server CPU %.1f µs per handshake (user %.1f, system %.1f), RSS %d KiB\n",
				r.ServerCPUUsPerHandshake, r.ServerUserUsPerRT, r.ServerSysUsPerRT, r.ServerRSSKiB)
		}
		if r.ClientCPUUsPerHandshake > 0 {
			fmt.Fprintf(w, "  load generator CPU %.1f µs per handshake\n", r.ClientCPUUsPerHandshake)
		}
	case "idle":
		fmt.Fprintf(w, "  server RSS %d KiB -> %d KiB: %.2f KiB per connection\n",
			r.IdleRSSBeforeKiB, r.IdleRSSAfterKiB, r.IdleKiBPerConn)
	default:
		unit := "round trips"
		if r.Pipeline > 1 {
			unit = "messages"
		}
		fmt.Fprintf(w, "  %.0f %s/s, %.1f MB/s\n", r.RTPerSec, unit, r.MBPerSec)
		fmt.Fprintf(w, "  latency p50 %.1f µs, p99 %.1f µs, p99.9 %.1f µs\n", r.P50us, r.P99us, r.P999us)
		if r.ServerCPUUsPerRT > 0 || r.ServerRSSKiB > 0 {
			fmt.Fprintf(w, "  server CPU %.2f µs per round trip (user %.2f, system %.2f), RSS %d KiB\n",
				r.ServerCPUUsPerRT, r.ServerUserUsPerRT, r.ServerSysUsPerRT, r.ServerRSSKiB)
		}
		if r.ClientCPUUsPerRT > 0 {
			fmt.Fprintf(w, "  load generator CPU %.2f µs per round trip\n", r.ClientCPUUsPerRT)
		}
		if r.SyscallsPerRT > 0 {
			fmt.Fprintf(w, "  server system calls %.2f per round trip\n", r.SyscallsPerRT)
		}
	}
	fmt.Fprintf(w, "  errors %d, mismatches %d\n", r.Errors, r.Mismatches)
}

// benchEcho runs the whole benchmark: connect, warm up, measure, report.
func benchEcho(cfg echoConfig) (*echoResult, error) {
	res := &echoResult{Addr: cfg.addr, Driver: cfg.driver, Conns: cfg.conns, Size: cfg.size, Pipeline: cfg.pipeline, Mode: "pingpong"}
	if cfg.pipeline > 1 {
		res.Mode = "pipeline"
	}
	if cfg.handshakes > 0 {
		res.Mode = "handshake"
	}
	if cfg.idle > 0 {
		res.Mode = "idle"
		return res, benchIdle(cfg, res)
	}
	var d echoDriver
	var err error
	if cfg.driver == driverGoroutines {
		d, err = newGoroutineDriver(cfg)
	} else {
		d, err = newSelectorDriver(cfg)
	}
	if err != nil {
		return nil, err
	}
	defer d.close()

	var cpu0, cpu1 procstat.CPU
	var self0, self1 time.Duration
	var perf *perfCounter
	var syscalls int64
	var perfErr error
	s := d.stats()
	err = d.run(func(phase int) {
		switch phase {
		case phaseMeasure:
			if cfg.syscalls {
				perf = startPerf(cfg.serverPID)
			}
			if cfg.serverPID > 0 {
				cpu0, _ = procstat.ReadCPU(cfg.serverPID)
			}
			self0 = selfCPU()
		case phaseDone:
			self1 = selfCPU()
			if cfg.serverPID > 0 {
				cpu1, _ = procstat.ReadCPU(cfg.serverPID)
			}
			if perf != nil {
				syscalls, perfErr = perf.stop()
			}
		}
	})
	if err != nil {
		return nil, err
	}
	res.Seconds = s.window.Seconds()
	res.RoundTrips = s.messages
	res.Errors, res.Mismatches = s.errors, s.mismatches
	if res.Seconds > 0 {
		res.RTPerSec = float64(s.messages) / res.Seconds
		res.MBPerSec = float64(s.messages) * float64(cfg.size) / res.Seconds / 1e6
	}
	res.P50us = s.hist.Quantile(0.50) / 1e3
	res.P99us = s.hist.Quantile(0.99) / 1e3
	res.P999us = s.hist.Quantile(0.999) / 1e3
	if s.messages > 0 {
		res.ClientCPUUsPerRT = float64((self1 - self0).Microseconds()) / float64(s.messages)
	}
	if cfg.serverPID > 0 && s.messages > 0 {
		rt := float64(s.messages)
		res.ServerUserUsPerRT = float64(cpu1.User-cpu0.User) / procstat.ClockTicks * 1e6 / rt
		res.ServerSysUsPerRT = float64(cpu1.System-cpu0.System) / procstat.ClockTicks * 1e6 / rt
		res.ServerCPUUsPerRT = res.ServerUserUsPerRT + res.ServerSysUsPerRT
		res.ServerRSSKiB, _ = procstat.ReadRSS(cfg.serverPID)
		if perfErr != nil {
			fmt.Fprintf(cfg.warnings, "loadgen: counting syscalls: %v\n", perfErr)
		} else if perf != nil {
			res.SyscallsPerRT = float64(syscalls) / rt
		}
	}
	describeTLS(res, cfg, s.tls)
	if cfg.handshakes > 0 {
		res.Handshakes, res.HandshakesPerSec = res.RoundTrips, res.RTPerSec
		res.ServerCPUUsPerHandshake, res.ClientCPUUsPerHandshake = res.ServerCPUUsPerRT, res.ClientCPUUsPerRT
	}
	return res, nil
}

// Phases of a run, reported to the run callback as they begin.
const (
	phaseWarmup = iota
	phaseMeasure
	phaseDone
)

// echoStats are the figures a driver gathers in the measured window.
type echoStats struct {
	messages   int64 // messages echoed and verified (P per pipelined batch)
	errors     int64 // connect, read and write failures, early EOFs
	mismatches int64 // batches whose echoed bytes differed from those sent
	hist       latency.Histogram
	window     time.Duration
	tls        *tls.ConnectionState // the first handshake's outcome; nil on plain TCP
}

// echoDriver drives the connections; run calls at(phase) as each phase
// starts and returns when the measured window is over.
type echoDriver interface {
	stats() *echoStats
	run(at func(phase int)) error
	close()
}

// errInterrupted reports a run stopped by SIGINT or SIGTERM before its
// measured window began.
var errInterrupted = errors.New("interrupted during warmup")

// payload returns the bytes every connection sends: pseudo-random, with
// spare room so each batch starts at a different offset, and so a server
// that mixes up connections or batches is caught.
func payload(batch int) []byte {
	p := make([]byte, batch+251)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range p {
		p[i] = byte(r.Uint32())
	}
	return p
}

// batchOffset picks where in the payload connection i's batch number seq
// starts.
func batchOffset(i int, seq uint64) int { return int((uint64(i)*31 + seq*7) % 251) }
