package loop

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/iomux/iomux/internal/sock"
)

// DialOptions say how Dial and DialAsync connect. nil, like the zero
// value, is a plain connection on a loop the Server picks.
type DialOptions struct {
	// Transport makes the connection's Transport: TLSClient(config) for
	// TLS. Default Options.Transport.
	Transport func(Wire) Transport
	// Loop is the loop to own the connection: from a handler, its own
	// (c.Loop()), so that the two connections need no Post between them.
	// Default: the Server picks one, as for accepted connections.
	Loop *Loop
	// Timeout bounds the connect and the handshake as a deadline of ctx
	// would, from the Dial's call, but with the loop's own timer: no
	// context, goroutine or runtime timer per Dial (a proxy dials one per
	// client). The Dial then fails with an error matching ErrTimeout.
	// 0: only ctx bounds it.
	Timeout time.Duration
}

// Dial connects to address ("tcp", "tcp4", "tcp6" or "unix") from a loop
// and returns the connection once it is open, after OnOpen ran (and,
// with a Transport that has one, its handshake). ctx bounds the connect
// and the handshake: its end closes a connection not yet open, and Dial
// returns ctx's error. Dial blocks its caller, so call it from outside
// the loops; handlers use DialAsync. The Conn is the loop's: use it from
// the caller only through its Async methods, and set its state in OnOpen
// (or use DialAsync).
func (s *Server) Dial(ctx context.Context, network, address string, opts *DialOptions) (*Conn, error) {
	type result struct {
		c   *Conn
		err error
	}
	ch := make(chan result, 1)
	if err := s.DialAsync(ctx, network, address, opts, func(c *Conn, err error) { ch <- result{c, err} }); err != nil {
		return nil, err
	}
	r := <-ch
	return r.c, r.err
}

// DialAsync starts a connect and calls done on the connection's loop when
// it completes: with the Conn (after OnOpen, before the first OnData, so
// per-connection state set there is in place for the first reply) or with
// the error (then the connection never opened: no OnOpen, no OnClose). ctx
// bounds the name's resolution, the connect and the handshake, as for
// Dial. The connect is non-blocking (EINPROGRESS, then writability, then
// SO_ERROR); a host name is resolved on a goroutine of its own, never on a
// loop, so DialAsync may be called from a handler.
func (s *Server) DialAsync(ctx context.Context, network, address string, opts *DialOptions, done func(*Conn, error)) error {
	if opts == nil {
		opts = &DialOptions{}
	}
	if s.loops == nil {
		return fmt.Errorf("loop: Dial before Start")
	}
	if err := checkStreamNetwork("dial", network); err != nil {
		return err
	}
	if opts.Loop != nil && opts.Loop.srv != s {
		return fmt.Errorf("loop: dial: DialOptions.Loop is another Server's")
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("dial %s %s: %w", network, address, err)
	}
	l := opts.Loop
	if l == nil {
		l = s.pick()
	}
	wrapped := func(c *Conn, err error) {
		if err != nil {
			err = fmt.Errorf("dial %s %s: %w", network, address, err)
		}
		done(c, err)
	}
	b := dialBound{ctx: ctx, timeout: opts.Timeout}
	if b.timeout > 0 {
		b.deadline = instantOf(time.Now()).add(b.timeout)
	}
	if !needsLookup(network, address) {
		if err := s.connect(b, l, network, address, opts.Transport, wrapped); err != nil {
			return fmt.Errorf("dial %s %s: %w", network, address, err)
		}
		return nil
	}
	go func() { // a name: looked up here, so that no loop waits for DNS
		lookupCtx := ctx
		if b.timeout > 0 {
			var cancel context.CancelFunc
			lookupCtx, cancel = context.WithTimeout(ctx, b.timeout)
			defer cancel()
		}
		resolved, err := resolveName(lookupCtx, network, address)
		if err == nil {
			err = s.connect(b, l, network, resolved, opts.Transport, wrapped)
		}
		if err != nil {
			_ = l.post(func() { wrapped(nil, err) }, false) // an ended loop: the Server stopped, nobody waits
		}
	}()
	return nil
}

// needsLookup reports whether address names its host (not an IP address,
// nor a Unix socket's path).
func needsLookup(network, address string) bool {
	host, _, err := net.SplitHostPort(address)
	if network == "unix" || err != nil || host == "" {
		return false
	}
	_, err = netip.ParseAddr(host)
	return err != nil
}

// lookupIP resolves host names for DialAsync (the tests replace it).
var lookupIP = defaultLookupIP

var defaultLookupIP = net.DefaultResolver.LookupNetIP

// resolveName returns address with its host name replaced by the first of
// its addresses of network's family.
func resolveName(ctx context.Context, network, address string) (string, error) {
	host, port, err := net.SplitHostPort(address)
	if err != nil {
		return "", err
	}
	family := map[string]string{"tcp": "ip", "tcp4": "ip4", "tcp6": "ip6"}[network]
	ips, err := lookupIP(ctx, family, host)
	if err != nil {
		return "", err
	}
	if len(ips) == 0 {
		return "", fmt.Errorf("lookup %s: no %s address", host, family)
	}
	return net.JoinHostPort(ips[0].Unmap().String(), port), nil
}

// dialBound is what bounds a Dial: its context, and DialOptions.Timeout
// (deadline 0: none).
type dialBound struct {
	ctx      context.Context
	timeout  time.Duration
	deadline instant
}

// connect opens a socket, starts its non-blocking connect to address (an
// IP address, or a Unix socket's path) and hands it to l; its error is
// not wrapped.
func (s *Server) connect(b dialBound, l *Loop, network, address string, newTransport func(Wire) Transport, done func(*Conn, error)) error {
	e, err := sock.Resolve(network, address)
	if err != nil {
		return err
	}
	fd, err := sock.Open(e)
	if err != nil {
		return err
	}
	s.tune(fd, !e.IsUnix())
	// Buffer sizes before connect: the SYN carries the window scale.
	err = sock.SetBuffers(fd, s.opts.SocketReadBuffer, s.opts.SocketWriteBuffer)
	if err == nil {
		_, err = sock.Connect(fd, e) // pending or connected: writability says which
	}
	if err != nil {
		sock.Close(fd)
		return err
	}
	l.incoming.Add(1)
	if perr := l.post(func() { l.startDial(b, fd, e.Peer(), newTransport, done); l.incoming.Add(-1) }, false); perr != nil {
		l.incoming.Add(-1)
		sock.Close(fd)
		return perr
	}
	return nil
}

// checkStreamNetwork reports a network that Dial and ListenTLS do not take.
func checkStreamNetwork(op, network string) error {
	switch network {
	case "tcp", "tcp4", "tcp6", "unix":
		return nil
	}
	return fmt.Errorf("loop: %s: unsupported network %q (want tcp, tcp4, tcp6 or unix)", op, network)
}

// startDial adopts a connecting socket: it waits for writability, and for
// b's context and deadline, whose end closes it until it opens.
func (l *Loop) startDial(b dialBound, fd int, peer sock.Peer, newTransport func(Wire) Transport, done func(*Conn, error)) {
	c := l.newConn(fd, peer, stateConnecting)
	if c == nil {
		done(nil, ErrServerClosed)
		return
	}
	c.extraState().dialed = true
	x := c.rareState()
	x.dialDone, x.dialTransport = done, newTransport
	c.updateInterest()
	if c.Closed() {
		return
	}
	if b.deadline != 0 {
		d := b.timeout
		x.dialTimer = l.AfterFunc(max(b.deadline.sub(l.refreshNow()), 0), func() {
			if c.state < stateOpen {
				c.closeWith(fmt.Errorf("no connection within %v: %w", d, ErrTimeout))
			}
		})
	}
	if ctx := b.ctx; ctx.Done() != nil {
		x.dialStop = context.AfterFunc(ctx, func() {
			_ = l.post(func() {
				if c.state < stateOpen {
					c.closeWith(context.Cause(ctx))
				}
			}, false)
		})
	}
}

// dialBounded stops what bounds a Dial (its context's watch, its
// Timeout's timer): it opened, or closed.
func (x *connRare) dialBounded() {
	if x.dialStop != nil {
		x.dialStop()
		x.dialStop = nil
	}
	if x.dialTimer != nil {
		x.dialTimer.Stop()
		x.dialTimer = nil
	}
}

// finishDial runs when a connecting socket turns writable: SO_ERROR says
// whether the connect worked. Then the connection opens, or its
// Transport's handshake starts, which opens it when done.
func (c *Conn) finishDial() {
	if err := sock.ConnectError(int(c.fd)); err != nil {
		c.closeWith(err)
		return
	}
	c.loop.stats.Total.Add(1)
	newTransport := c.extra.rare.dialTransport
	c.extra.rare.dialTransport = nil
	c.connected(newTransport)
}
