// Command httpload measures an HTTP server the way bench/run measures its
// echo servers: the load from this process (pinned to its own core by
// bench/run), the server's CPU from /proc/PID/stat and its memory from
// /proc/PID/status, one JSON line per run for bench/report.
//
// Three modes:
//
//	httpload --addr 127.0.0.1:8080 --conns 256 --server-pid PID                  # wrk: keep-alive requests/s, p99, server CPU per request
//	httpload --addr … --conns 256 --script bench/http/pipeline.lua --pipeline 16  # the same, pipelined (the script's depth)
//	httpload --addr … --idle 10000 --hold 2s [--tls-ca cert.pem] --server-pid PID # RSS per idle keep-alive connection
//	httpload --addr … --file /big --duration 5s --server-pid PID                 # a large file, again and again: MB/s, server CPU per GB
//
// The wrk mode runs wrk (-t1: one thread, as this process is pinned to one
// core) once for --warmup, then for --duration with --latency, and takes
// requests/s and p99 from its output and the server's CPU over the
// measured run; wrk's socket errors and non-2xx/3xx responses are errors.
// Before it, one connection sends --pipeline requests for --path at once
// and checks every response (status 200, body --expect): wrk checks none.
//
// The idle mode sends one request on a connection of its own and closes
// it (the server's first request is not counted), reads the server's
// VmRSS, opens --idle connections (TLS when --tls-ca is given, the
// certificate verified), sends one request for --path on each and reads
// its response whole, holds them --hold, reads VmRSS again and checks
// that the server closed none of them. The growth over --idle is the
// memory one idle keep-alive connection costs the server.
//
// The file mode GETs --file over one keep-alive connection, again and
// again until --duration has passed (once at least), reading each body
// to the end and checking its length against Content-Length: MB/s of body
// and the server's CPU seconds per 10^9 bytes sent.
//
// The exit status is 1 on any error, mismatch or failed check.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/iomux/iomux/bench/internal/failures"
)

// config is the command line.
type config struct {
	addr      string
	path      string
	expect    string
	serverPID int
	duration  time.Duration
	warmup    time.Duration
	conns     int
	pipeline  int
	script    string
	idle      int
	hold      time.Duration
	tlsCA     string
	file      string
	json      bool
}

// result is the --json line; the names of the figures are bench/loadgen's
// where they mean the same (a request is a round trip), so that
// bench/report reads both.
type result struct {
	Mode     string  `json:"mode"` // "http", "http-idle" or "http-file"
	Addr     string  `json:"addr"`
	Path     string  `json:"path"`
	Conns    int     `json:"conns"`
	Pipeline int     `json:"pipeline"`
	Seconds  float64 `json:"seconds"`
	Requests int64   `json:"requests"`
	RTPerSec float64 `json:"rt_per_s"` // requests (file mode: whole files) per second
	MBPerSec float64 `json:"mb_per_s"` // response bytes (wrk: as it counts them; file mode: bodies), 10^6 a second
	P50us    float64 `json:"p50_us"`
	P99us    float64 `json:"p99_us"`
	failures.Failures

	ServerCPUUsPerRT  float64 `json:"server_cpu_us_per_rt,omitempty"`
	ServerUserUsPerRT float64 `json:"server_user_us_per_rt,omitempty"`
	ServerSysUsPerRT  float64 `json:"server_sys_us_per_rt,omitempty"`
	ServerRSSKiB      int64   `json:"server_rss_kib,omitempty"`
	ClientCPUUsPerRT  float64 `json:"client_cpu_us_per_rt,omitempty"` // wrk's, or this process's

	IdleRSSBeforeKiB int64   `json:"idle_rss_before_kib,omitempty"`
	IdleRSSAfterKiB  int64   `json:"idle_rss_after_kib,omitempty"`
	IdleKiBPerConn   float64 `json:"idle_kib_per_conn,omitempty"`
	TLS              bool    `json:"tls,omitempty"`
	TLSVersion       string  `json:"tls_version,omitempty"`
	TLSCipher        string  `json:"tls_cipher,omitempty"`
	TLSGroup         string  `json:"tls_group,omitempty"`

	FileBytes       int64   `json:"file_bytes,omitempty"`
	ServerCPUSPerGB float64 `json:"server_cpu_s_per_gb,omitempty"`
}

var errUsage = errors.New("usage")

func main() {
	err := run(os.Args[1:], os.Stdout)
	switch {
	case errors.Is(err, flag.ErrHelp):
	case errors.Is(err, errUsage):
		fmt.Fprintln(os.Stderr, "httpload:", err, "(try --help)")
		os.Exit(2)
	case err != nil:
		fmt.Fprintln(os.Stderr, "httpload:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout io.Writer) error {
	var cfg config
	fs := flag.NewFlagSet("httpload", flag.ContinueOnError)
	fs.StringVar(&cfg.addr, "addr", "", "the server's `host:port`")
	fs.StringVar(&cfg.path, "path", "/plaintext", "what to request (wrk and idle modes)")
	fs.StringVar(&cfg.expect, "expect", "Hello, World!", "the body --path answers (\"\": not checked)")
	fs.IntVar(&cfg.serverPID, "server-pid", 0, "the server's process id, for its CPU and RSS")
	fs.DurationVar(&cfg.duration, "duration", 5*time.Second, "measured time (wrk: whole seconds, 1 at least)")
	fs.DurationVar(&cfg.warmup, "warmup", time.Second, "wrk mode: a wrk run this long first, not measured (whole seconds; under 1 s: none)")
	fs.IntVar(&cfg.conns, "conns", 256, "wrk mode: connections")
	fs.IntVar(&cfg.pipeline, "pipeline", 1, "wrk mode: requests the --script sends in one write (the check sends as many)")
	fs.StringVar(&cfg.script, "script", "", "wrk mode: a wrk Lua `script` (bench/http/pipeline.lua pipelines 16 requests a write)")
	fs.IntVar(&cfg.idle, "idle", 0, "idle mode: open this many keep-alive connections, one request each, and hold them")
	fs.DurationVar(&cfg.hold, "hold", 2*time.Second, "idle mode: how long to hold them before reading the server's RSS")
	fs.StringVar(&cfg.tlsCA, "tls-ca", "", "idle mode: use TLS, verifying the server's certificate against this PEM `file`")
	fs.StringVar(&cfg.file, "file", "", "file mode: GET this `path` again and again for --duration")
	fs.BoolVar(&cfg.json, "json", false, "print the result as one JSON line")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	switch {
	case fs.NArg() > 0:
		return fmt.Errorf("%w: unexpected %q", errUsage, fs.Arg(0))
	case cfg.addr == "":
		return fmt.Errorf("%w: --addr is required", errUsage)
	case cfg.idle > 0 && cfg.file != "":
		return fmt.Errorf("%w: --idle and --file are two modes", errUsage)
	case cfg.tlsCA != "" && cfg.idle == 0:
		return fmt.Errorf("%w: --tls-ca goes with --idle", errUsage)
	case cfg.conns < 1 || cfg.pipeline < 1:
		return fmt.Errorf("%w: --conns and --pipeline must be at least 1", errUsage)
	}
	var res *result
	var err error
	switch {
	case cfg.idle > 0:
		res, err = runIdle(cfg)
	case cfg.file != "":
		res, err = runFile(cfg)
	default:
		res, err = runWrk(cfg)
	}
	if err != nil {
		return err
	}
	if cfg.json {
		line, _ := json.Marshal(res)
		fmt.Fprintf(stdout, "%s\n", line)
	} else {
		res.print(stdout)
	}
	return res.Err()
}

func (r *result) print(w io.Writer) {
	switch r.Mode {
	case "http-idle":
		fmt.Fprintf(w, "%s: %d idle keep-alive connections to %s after one request each", r.Addr, r.Conns, r.Path)
		if r.TLS {
			fmt.Fprintf(w, " (%s, %s, %s)", r.TLSVersion, r.TLSCipher, r.TLSGroup)
		}
		fmt.Fprintf(w, "\n  server RSS %d KiB -> %d KiB: %.0f bytes per connection\n",
			r.IdleRSSBeforeKiB, r.IdleRSSAfterKiB, r.IdleKiBPerConn*1024)
	case "http-file":
		fmt.Fprintf(w, "%s%s: %d B, %d times in %.1fs: %.0f MB/s\n", r.Addr, r.Path, r.FileBytes, r.Requests, r.Seconds, r.MBPerSec)
		if r.ServerCPUSPerGB > 0 {
			fmt.Fprintf(w, "  server CPU %.3f s per GB\n", r.ServerCPUSPerGB)
		}
	default:
		fmt.Fprintf(w, "%s%s: wrk, %d connections, %d requests a write, %.1fs\n", r.Addr, r.Path, r.Conns, r.Pipeline, r.Seconds)
		fmt.Fprintf(w, "  %.0f requests/s, latency p50 %.0f µs, p99 %.0f µs\n", r.RTPerSec, r.P50us, r.P99us)
		if r.ServerCPUUsPerRT > 0 {
			fmt.Fprintf(w, "  server CPU %.2f µs per request (user %.2f, system %.2f), RSS %d KiB; wrk %.2f µs per request\n",
				r.ServerCPUUsPerRT, r.ServerUserUsPerRT, r.ServerSysUsPerRT, r.ServerRSSKiB, r.ClientCPUUsPerRT)
		}
	}
	fmt.Fprintf(w, "  errors %d, mismatches %d\n", r.Errors, r.Mismatches)
	for _, n := range r.Notes {
		fmt.Fprintf(w, "  %s\n", n)
	}
}
