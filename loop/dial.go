package loop

import (
	"context"
	"fmt"

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
// bounds the connect and the handshake, as for Dial. The connect is
// non-blocking (EINPROGRESS, then writability, then SO_ERROR); name
// resolution, if the address needs it, happens in the caller.
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
	e, err := sock.Resolve(network, address)
	if err != nil {
		return fmt.Errorf("dial %s %s: %w", network, address, err)
	}
	fd, err := sock.Open(e)
	if err != nil {
		return fmt.Errorf("dial %s %s: %w", network, address, err)
	}
	s.tune(fd, !e.IsUnix())
	// Buffer sizes before connect: the SYN carries the window scale.
	err = sock.SetBuffers(fd, s.opts.SocketReadBuffer, s.opts.SocketWriteBuffer)
	if err == nil {
		_, err = sock.Connect(fd, e) // pending or connected: writability says which
	}
	if err != nil {
		sock.Close(fd)
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
	newTransport := opts.Transport
	l.incoming.Add(1)
	if perr := l.post(func() { l.startDial(ctx, fd, e.Peer(), newTransport, wrapped); l.incoming.Add(-1) }, false); perr != nil {
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
// ctx, whose end closes it until it opens.
func (l *Loop) startDial(ctx context.Context, fd int, peer sock.Peer, newTransport func(Wire) Transport, done func(*Conn, error)) {
	c := l.newConn(fd, peer, stateConnecting)
	if c == nil {
		done(nil, ErrServerClosed)
		return
	}
	x := c.extraState()
	x.dialDone, x.dialTransport = done, newTransport
	c.updateInterest()
	if c.Closed() {
		return
	}
	if ctx.Done() != nil {
		x.dialStop = context.AfterFunc(ctx, func() {
			_ = l.post(func() {
				if c.state < stateOpen {
					c.closeWith(context.Cause(ctx))
				}
			}, false)
		})
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
	newTransport := c.extra.dialTransport
	c.extra.dialTransport = nil
	c.connected(newTransport)
}
