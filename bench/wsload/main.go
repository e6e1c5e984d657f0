// Command wsload measures a WebSocket server the way bench/run measures
// its echo and HTTP servers: the load from this process (pinned to its
// own core by bench/run), the server's CPU from /proc/PID/stat and its
// memory from /proc/PID/status, one JSON line per run for bench/report.
// The server speaks bench/internal/wspeer's protocol: an echo at
// /ws, POST /broadcast.
//
//	wsload --addr 127.0.0.1:9001 --conns 1000 --size 1024 --server-pid PID      # echo: messages/s, p99, server CPU per message
//	wsload --addr … --upgrades 50 --server-pid PID                               # upgrades/s, server CPU per upgrade
//	wsload --addr … --idle 10000 --hold 2s [--tls-ca cert.pem] [--deflate] [--broadcast 5] --server-pid PID
//
// Echo: --conns connections, each sending a binary message of --size
// random bytes, waiting for it to come back and checking it, again and
// again; after --warmup, for --duration: messages/s, latency, and the
// server's CPU (utime+stime) over the window per message.
//
// Upgrades: --upgrades connections at once, each over and over: connect,
// (TLS handshake,) upgrade, one --size echo, close handshake (a Close,
// the server's Close, the server's close of TCP): complete cycles per
// second, and the server's CPU per cycle.
//
// Idle: one connection upgraded, echoed once and closed (the server's
// first is not counted); the server's VmRSS; --idle connections each
// upgraded and echoed once (--size bytes of text, compressible), held
// --hold; VmRSS again: the growth over --idle is an idle connection's
// memory. Then every connection must still be open (a read times out).
// --broadcast K then POSTs K messages (--size bytes, binary) to
// /broadcast, one at a time, each with every connection waiting for it:
// the time from the request to the last connection having the message,
// the median of K; every connection must get each message whole.
//
// The client's side of WebSocket is written out over net.Conn (wire.go),
// one goroutine per connection. --deflate offers permessage-deflate as
// browsers do; --tls-ca speaks TLS, verifying the server's certificate.
// The exit status is 1 on any error or mismatch.
package main

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"time"

	"github.com/iomux/iomux/bench/internal/failures"
)

// config is the command line.
type config struct {
	addr      string
	serverPID int
	duration  time.Duration
	warmup    time.Duration
	conns     int
	size      int
	upgrades  int
	idle      int
	hold      time.Duration
	broadcast int
	tlsCA     string
	deflate   bool
	json      bool
	dialer    *dialer
}

// result is the --json line; the names of the figures are bench/loadgen's
// where they mean the same (a message echoed is a round trip), so that
// bench/report reads them alike.
type result struct {
	Mode     string  `json:"mode"` // "ws-echo", "ws-upgrades" or "ws-idle"
	Addr     string  `json:"addr"`
	Conns    int     `json:"conns"`
	Size     int     `json:"size"`
	Seconds  float64 `json:"seconds"`
	Messages int64   `json:"messages"`
	RTPerSec float64 `json:"rt_per_s,omitempty"` // messages echoed per second
	P50us    float64 `json:"p50_us,omitempty"`
	P99us    float64 `json:"p99_us,omitempty"`
	failures.Failures
	Extension string `json:"extension,omitempty"` // Sec-WebSocket-Extensions the server answered

	ServerCPUUsPerRT  float64 `json:"server_cpu_us_per_rt,omitempty"`
	ServerUserUsPerRT float64 `json:"server_user_us_per_rt,omitempty"`
	ServerSysUsPerRT  float64 `json:"server_sys_us_per_rt,omitempty"`
	ServerRSSKiB      int64   `json:"server_rss_kib,omitempty"`
	ClientCPUUsPerRT  float64 `json:"client_cpu_us_per_rt,omitempty"`

	UpgradesPerSec          float64   `json:"upgrades_per_s,omitempty"`
	ServerCPUUsPerUpgrade   float64   `json:"server_cpu_us_per_upgrade,omitempty"`
	ClientCPUUsPerUpgrade   float64   `json:"client_cpu_us_per_upgrade,omitempty"`
	IdleRSSBeforeKiB        int64     `json:"idle_rss_before_kib,omitempty"`
	IdleRSSAfterKiB         int64     `json:"idle_rss_after_kib,omitempty"`
	IdleKiBPerConn          float64   `json:"idle_kib_per_conn,omitempty"`
	BroadcastMs             float64   `json:"broadcast_ms,omitempty"` // median over --broadcast
	BroadcastMsAll          []float64 `json:"broadcast_ms_all,omitempty"`
	BroadcastFirstMs        float64   `json:"broadcast_first_ms,omitempty"` // median, to the first connection
	ServerCPUMsPerBroadcast float64   `json:"server_cpu_ms_per_broadcast,omitempty"`
	ClientCPUMsPerBroadcast float64   `json:"client_cpu_ms_per_broadcast,omitempty"`
	Deflate                 bool      `json:"deflate,omitempty"`
	TLS                     bool      `json:"tls,omitempty"`
	TLSVersion              string    `json:"tls_version,omitempty"`
	TLSCipher               string    `json:"tls_cipher,omitempty"`
	TLSGroup                string    `json:"tls_group,omitempty"`
}

var errUsage = errors.New("usage")

func main() {
	err := run(os.Args[1:], os.Stdout)
	switch {
	case errors.Is(err, flag.ErrHelp):
	case errors.Is(err, errUsage):
		fmt.Fprintln(os.Stderr, "wsload:", err, "(try --help)")
		os.Exit(2)
	case err != nil:
		fmt.Fprintln(os.Stderr, "wsload:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout io.Writer) error {
	var cfg config
	fs := flag.NewFlagSet("wsload", flag.ContinueOnError)
	fs.StringVar(&cfg.addr, "addr", "", "the server's `host:port`")
	fs.IntVar(&cfg.serverPID, "server-pid", 0, "the server's process id, for its CPU and RSS")
	fs.DurationVar(&cfg.duration, "duration", 5*time.Second, "measured time (echo, upgrades)")
	fs.DurationVar(&cfg.warmup, "warmup", time.Second, "time before the measured window (echo, upgrades)")
	fs.IntVar(&cfg.conns, "conns", 1000, "echo: connections")
	fs.IntVar(&cfg.size, "size", 1024, "message size in bytes")
	fs.IntVar(&cfg.upgrades, "upgrades", 0, "upgrades mode: this many connections at once, each connect, upgrade, one echo, close, again")
	fs.IntVar(&cfg.idle, "idle", 0, "idle mode: open this many connections, one echo each, and hold them")
	fs.DurationVar(&cfg.hold, "hold", 2*time.Second, "idle mode: how long to hold them before reading the server's RSS")
	fs.IntVar(&cfg.broadcast, "broadcast", 0, "idle mode: then POST this many messages to /broadcast, timing each to the last connection")
	fs.StringVar(&cfg.tlsCA, "tls-ca", "", "use TLS, verifying the server's certificate against this PEM `file`")
	fs.BoolVar(&cfg.deflate, "deflate", false, "offer permessage-deflate (as browsers do)")
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
	case cfg.idle > 0 && cfg.upgrades > 0:
		return fmt.Errorf("%w: --idle and --upgrades are two modes", errUsage)
	case cfg.broadcast > 0 && cfg.idle == 0:
		return fmt.Errorf("%w: --broadcast goes with --idle", errUsage)
	case cfg.conns < 1 || cfg.size < 1 || cfg.duration <= 0:
		return fmt.Errorf("%w: --conns, --size and --duration must be positive", errUsage)
	}
	cfg.dialer = &dialer{addr: cfg.addr, deflate: cfg.deflate}
	if cfg.tlsCA != "" {
		pem, err := os.ReadFile(cfg.tlsCA)
		if err != nil {
			return fmt.Errorf("%w: %v", errUsage, err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return fmt.Errorf("%w: --tls-ca %s: no certificate", errUsage, cfg.tlsCA)
		}
		host, _, _ := net.SplitHostPort(cfg.addr)
		cfg.dialer.tls = &tls.Config{RootCAs: pool, ServerName: host}
	}
	var res *result
	var err error
	switch {
	case cfg.idle > 0:
		res, err = runIdle(cfg)
	case cfg.upgrades > 0:
		res, err = runUpgrades(cfg)
	default:
		res, err = runEcho(cfg)
	}
	if err != nil {
		return err
	}
	res.Addr, res.Size, res.Deflate, res.TLS = cfg.addr, cfg.size, cfg.deflate, cfg.tlsCA != ""
	if cfg.json {
		line, _ := json.Marshal(res)
		fmt.Fprintf(stdout, "%s\n", line)
	} else {
		res.print(stdout)
	}
	return res.Err()
}

// noteTLS keeps what c's TLS handshake agreed, if it is TLS.
func (r *result) noteTLS(c net.Conn) {
	if tc, ok := c.(*tls.Conn); ok {
		st := tc.ConnectionState()
		r.TLSVersion, r.TLSCipher, r.TLSGroup = tls.VersionName(st.Version), tls.CipherSuiteName(st.CipherSuite), st.CurveID.String()
	}
}

func (r *result) print(w io.Writer) {
	what := ""
	if r.TLS {
		what += fmt.Sprintf(", %s %s %s", r.TLSVersion, r.TLSCipher, r.TLSGroup)
	}
	if r.Extension != "" {
		what += ", " + r.Extension
	}
	switch r.Mode {
	case "ws-idle":
		fmt.Fprintf(w, "%s: %d idle WebSocket connections after one echo each%s\n", r.Addr, r.Conns, what)
		fmt.Fprintf(w, "  server RSS %d KiB -> %d KiB: %.0f bytes per connection\n",
			r.IdleRSSBeforeKiB, r.IdleRSSAfterKiB, r.IdleKiBPerConn*1024)
		if len(r.BroadcastMsAll) > 0 {
			fmt.Fprintf(w, "  broadcast of %d B to all: median %.1f ms to the first, %.1f ms to the last (%v ms); server CPU %.1f ms, wsload %.1f ms per broadcast\n",
				r.Size, r.BroadcastFirstMs, r.BroadcastMs, r.BroadcastMsAll, r.ServerCPUMsPerBroadcast, r.ClientCPUMsPerBroadcast)
		}
	case "ws-upgrades":
		fmt.Fprintf(w, "%s: %d at once, connect, upgrade, echo, close%s: %.0f upgrades/s\n", r.Addr, r.Conns, what, r.UpgradesPerSec)
		if r.ServerCPUUsPerUpgrade > 0 {
			fmt.Fprintf(w, "  server CPU %.1f µs per upgrade; wsload %.1f µs\n", r.ServerCPUUsPerUpgrade, r.ClientCPUUsPerUpgrade)
		}
	default:
		fmt.Fprintf(w, "%s: echo of %d B, %d connections, %.1fs%s\n", r.Addr, r.Size, r.Conns, r.Seconds, what)
		fmt.Fprintf(w, "  %.0f messages/s, latency p50 %.0f µs, p99 %.0f µs\n", r.RTPerSec, r.P50us, r.P99us)
		if r.ServerCPUUsPerRT > 0 {
			fmt.Fprintf(w, "  server CPU %.2f µs per message (user %.2f, system %.2f), RSS %d KiB; wsload %.2f µs per message\n",
				r.ServerCPUUsPerRT, r.ServerUserUsPerRT, r.ServerSysUsPerRT, r.ServerRSSKiB, r.ClientCPUUsPerRT)
		}
	}
	fmt.Fprintf(w, "  errors %d, mismatches %d\n", r.Errors, r.Mismatches)
	for _, n := range r.Notes {
		fmt.Fprintf(w, "  %s\n", n)
	}
}
