// Package proxy is iomux proxy: a TCP reverse proxy and load balancer on
// the loop, with TLS on either side if asked. Each client accepted is
// paired with a connection to one of the upstreams, dialed on the
// client's loop; each end is the other's source (loop.Conn.SetSource), so
// a peer that reads slowly holds back only what is sent to it; a pair of
// plain TCP connections on one loop is spliced (loop.Conn.Splice: the
// bytes go socket to socket in the kernel on Linux); half-closes
// and resets go through; an upstream that refuses or does not answer is
// skipped for a while. No goroutine per connection: an idle pair costs two
// loop.Conns.
package proxy

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync/atomic"
	"time"

	"github.com/iomux/iomux/loop"
)

// Balance is how a Proxy picks an upstream for a client.
type Balance int

const (
	// RoundRobin takes the upstreams in turn.
	RoundRobin Balance = iota
	// LeastConnections takes the upstream with the fewest pairs open.
	LeastConnections
)

// ParseBalance reads "round-robin" or "least-connections".
func ParseBalance(s string) (Balance, error) {
	switch s {
	case "round-robin":
		return RoundRobin, nil
	case "least-connections":
		return LeastConnections, nil
	}
	return 0, fmt.Errorf("balance %q: want round-robin or least-connections", s)
}

// Defaults of Config's zero fields.
const (
	DefaultConnectTimeout = 5 * time.Second
	DefaultRetryAfter     = 10 * time.Second
)

// Config says where a Proxy relays to and how. Zero fields are their
// defaults.
type Config struct {
	// Upstreams are the servers, host:port each (a host name is looked up
	// for each connection, off the loop).
	Upstreams []string
	Balance   Balance
	// ConnectTimeout bounds a connect to an upstream (and its TLS
	// handshake). Default DefaultConnectTimeout.
	ConnectTimeout time.Duration
	// RetryAfter is how long an upstream that refused or timed out is
	// skipped (unless every upstream is). Default DefaultRetryAfter.
	RetryAfter time.Duration
	// IdleTimeout closes a pair with no traffic either way for this long;
	// 0: never.
	IdleTimeout time.Duration
	// UpstreamTLS, when set, makes the connections to the upstreams TLS;
	// with no ServerName, each upstream's host is the name its certificate
	// must have.
	UpstreamTLS *tls.Config
	// Log receives the notes: an upstream found down, or back; with
	// Verbose, each pair opened and closed. Default: none.
	Log     io.Writer
	Verbose bool

	// across dials each upstream on another loop than its client's (the
	// tests' way to hold the relay across loops); copy relays every byte
	// through OnData, never spliced (the tests' way to hold that path on
	// Linux).
	across, copy bool
}

// Proxy relays clients to upstreams: a loop.Handler. Serve it with a
// loop.Server that listens where clients connect.
type Proxy struct {
	cfg   Config
	ups   []*upstream
	turn  atomic.Uint32
	pairs atomic.Int64 // open now
	total atomic.Int64 // since the start
}

// upstream is one server of Config.Upstreams and what the Proxy knows of it.
type upstream struct {
	addr      string
	transport func(loop.Wire) loop.Transport // TLS, with Config.UpstreamTLS
	open      atomic.Int64                   // pairs open to it now
	failures  atomic.Int64                   // connects that failed, since the start
	downUntil atomic.Int64                   // unix nanoseconds: skipped until then (0: up)
}

// New checks cfg and returns its Proxy.
func New(cfg Config) (*Proxy, error) {
	if len(cfg.Upstreams) == 0 {
		return nil, errors.New("proxy: no upstream")
	}
	if cfg.ConnectTimeout == 0 {
		cfg.ConnectTimeout = DefaultConnectTimeout
	}
	if cfg.RetryAfter == 0 {
		cfg.RetryAfter = DefaultRetryAfter
	}
	if cfg.ConnectTimeout < 0 || cfg.RetryAfter < 0 || cfg.IdleTimeout < 0 {
		return nil, errors.New("proxy: negative ConnectTimeout, RetryAfter or IdleTimeout")
	}
	if cfg.Log == nil {
		cfg.Log = io.Discard
	}
	p := &Proxy{cfg: cfg}
	for _, a := range cfg.Upstreams {
		host, _, err := net.SplitHostPort(a)
		if err != nil {
			return nil, fmt.Errorf("proxy: upstream %q: want host:port", a)
		}
		u := &upstream{addr: a}
		if c := cfg.UpstreamTLS; c != nil {
			if c.ServerName == "" && !c.InsecureSkipVerify {
				c = c.Clone()
				c.ServerName = host // the name its certificate must have
			}
			u.transport = loop.TLSClient(c)
		}
		p.ups = append(p.ups, u)
	}
	return p, nil
}

// pair is a client's context: its upstream connection (nil until it is
// there) and the upstream it goes to. An upstream connection's context is
// its client: an idle pair costs two loop.Conns, their links and this.
type pair struct {
	peer *loop.Conn
	up   *upstream
}

func pairOf(client *loop.Conn) *pair {
	p, _ := client.Context().(*pair)
	return p
}

// peerOf is the other end of c's pair, nil if there is none yet.
func peerOf(c *loop.Conn) *loop.Conn {
	if c.Dialed() {
		client, _ := c.Context().(*loop.Conn)
		return client
	}
	if p := pairOf(c); p != nil {
		return p.peer
	}
	return nil
}

// The Proxy's optional loop.Handler methods.
var _ loop.EOFHandler = (*Proxy)(nil)

// OnOpen pairs a client with an upstream; an upstream's end is paired in
// its dial's callback.
func (p *Proxy) OnOpen(c *loop.Conn) {
	if c.Dialed() {
		return
	}
	c.PauseRead() // until the upstream is there: what comes meanwhile waits
	c.SetContext(&pair{})
	if p.cfg.IdleTimeout > 0 {
		// On the client only: its reads and writes are the pair's traffic
		// both ways, so one timer serves the pair.
		c.SetIdleTimeout(p.cfg.IdleTimeout)
	}
	p.connect(c, 0)
}

// connect dials an upstream for client c, the (tried+1)th it tries.
func (p *Proxy) connect(c *loop.Conn, tried int) {
	up := p.pick()
	if tried == len(p.ups) || up == nil {
		fmt.Fprintf(p.cfg.Log, "proxy: no upstream answered for %s: closing it\n", c.RemoteAddr())
		c.Close()
		return
	}
	l := c.Loop()
	if p.cfg.across {
		loops := l.Server().Loops()
		l = loops[(l.Index()+1)%len(loops)]
	}
	// The loop's timer bounds the connect: no context and runtime timer
	// per client.
	opts := &loop.DialOptions{Loop: l, Transport: up.transport, Timeout: p.cfg.ConnectTimeout}
	up.open.Add(1) // counted from the start, so LeastConnections sees dials in progress
	err := c.Loop().Server().DialAsync(context.Background(), "tcp", up.addr, opts, func(u *loop.Conn, err error) {
		if err != nil {
			up.open.Add(-1)
			p.failed(up, err)
			onLoopOf(l, c, func() {
				if !c.Closed() {
					p.connect(c, tried+1)
				}
			})
			return
		}
		p.recovered(up)
		u.SetContext(c)
		u.SetSource(c)
		onLoopOf(l, c, func() {
			if c.Closed() { // the client left meanwhile
				up.open.Add(-1)
				onLoopOf(c.Loop(), u, func() { u.Close() })
				return
			}
			pr := pairOf(c)
			pr.peer, pr.up = u, up
			// Both plain TCP on one loop (and no -v: Observe sees every
			// byte): the loop splices, socket to socket in the kernel.
			if p.cfg.copy || !c.Splice(u) {
				c.SetSource(u)
			}
			p.pairs.Add(1)
			p.total.Add(1)
			if p.cfg.Verbose {
				fmt.Fprintf(p.cfg.Log, "proxy: %s ↔ %s\n", c.RemoteAddr(), up.addr)
			}
			c.ResumeRead() // and OnData for what came meanwhile
		})
	})
	if err != nil {
		up.open.Add(-1)
		p.failed(up, err)
		p.connect(c, tried+1)
	}
}

// onLoopOf runs fn on c's loop: at once if that is from, else posted.
func onLoopOf(from *loop.Loop, c *loop.Conn, fn func()) {
	if c.Loop() == from {
		fn()
		return
	}
	if c.Loop().Post(fn) != nil {
		c.AsyncClose() // the loop is behind: the pair cannot go on
	}
}

// pick chooses an upstream by the Balance among those up; if none is up,
// the one down the longest, to see whether it is back.
func (p *Proxy) pick() *upstream {
	now := time.Now().UnixNano()
	var best *upstream
	switch p.cfg.Balance {
	case LeastConnections:
		for _, u := range p.ups {
			if u.downUntil.Load() <= now && (best == nil || u.open.Load() < best.open.Load()) {
				best = u
			}
		}
	default:
		for range p.ups {
			u := p.ups[int(p.turn.Add(1)-1)%len(p.ups)]
			if u.downUntil.Load() <= now {
				best = u
				break
			}
		}
	}
	if best == nil {
		for _, u := range p.ups {
			if best == nil || u.downUntil.Load() < best.downUntil.Load() {
				best = u
			}
		}
	}
	return best
}

// failed marks up down for RetryAfter.
func (p *Proxy) failed(up *upstream, err error) {
	up.failures.Add(1)
	if up.downUntil.Swap(time.Now().Add(p.cfg.RetryAfter).UnixNano()) == 0 {
		fmt.Fprintf(p.cfg.Log, "proxy: upstream %s is down (%v): skipped for %v\n", up.addr, err, p.cfg.RetryAfter)
	}
}

// recovered marks up as up.
func (p *Proxy) recovered(up *upstream) {
	if up.downUntil.Swap(0) != 0 {
		fmt.Fprintf(p.cfg.Log, "proxy: upstream %s is back\n", up.addr)
	}
}

// OnData relays what came to the other end.
func (p *Proxy) OnData(c *loop.Conn) {
	if to := peerOf(c); to != nil {
		to.WriteFrom(c, c.Next(-1))
	}
}

// OnEOF passes a half-close on; once both halves are closed, so is the
// pair.
func (p *Proxy) OnEOF(c *loop.Conn) {
	to := peerOf(c)
	if to == nil {
		c.Close()
		return
	}
	onLoopOf(c.Loop(), to, func() {
		to.CloseWrite()
		if to.EOF() {
			to.Close()
			onLoopOf(to.Loop(), c, func() { c.Close() })
		}
	})
}

// OnClose closes the other end: with a reset if this end was reset.
func (p *Proxy) OnClose(c *loop.Conn, err error) {
	to := peerOf(c)
	if to == nil {
		return
	}
	if pr := pairOf(c); pr != nil {
		p.pairs.Add(-1)
		pr.up.open.Add(-1)
		if p.cfg.Verbose {
			fmt.Fprintf(p.cfg.Log, "proxy: %s ↔ %s closed (%v)\n", c.RemoteAddr(), pr.up.addr, errOrNone(err))
		}
	}
	reset := errors.Is(err, loop.ErrReset)
	onLoopOf(c.Loop(), to, func() {
		if reset {
			to.Abort()
		} else {
			to.Close()
		}
	})
}

func errOrNone(err error) any {
	if err == nil {
		return "closed"
	}
	return err
}

var _ loop.Handler = (*Proxy)(nil)

// Stats are a Proxy's counters.
type Stats struct {
	Pairs, Total int64 // pairs open now, and since the start
	Upstreams    []UpstreamStats
}

// UpstreamStats are one upstream's.
type UpstreamStats struct {
	Addr     string
	Open     int64 // pairs open to it now (and connects in progress)
	Failures int64 // connects that failed
	Down     bool  // skipped now
}

// Stats returns the Proxy's counters now.
func (p *Proxy) Stats() Stats {
	st := Stats{Pairs: p.pairs.Load(), Total: p.total.Load()}
	now := time.Now().UnixNano()
	for _, u := range p.ups {
		st.Upstreams = append(st.Upstreams, UpstreamStats{Addr: u.addr, Open: u.open.Load(), Failures: u.failures.Load(), Down: u.downUntil.Load() > now})
	}
	return st
}

// String is the Stats as one line for a log.
func (st Stats) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d pairs open, %d since the start", st.Pairs, st.Total)
	for _, u := range st.Upstreams {
		state := "up"
		if u.Down {
			state = "down"
		}
		fmt.Fprintf(&b, "; %s %s, %d open, %d failed", u.Addr, state, u.Open, u.Failures)
	}
	return b.String()
}
