package loop

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/iomux/iomux/internal/sock"
	"github.com/iomux/iomux/internal/tlssession"
)

// TLS on the loop, with the standard library's crypto/tls unforked.
//
// A TLS connection is a Conn whose Transport is a tlsTransport. Its
// handshake runs on a goroutine of the Server's handshake pool (at most
// Options.MaxHandshakes at once, the rest wait their turn), fed by the
// loop with what the peer sends, its own writes posted back to the loop;
// Options.HandshakeTimeout bounds it from accept or connect. When it is
// done, OnOpen runs (for a Dial, then its callback), and from then on the
// records are read and written on the loop like any bytes, with no
// goroutine: internal/tlssession explains how.

// ErrHandshakeTimeout is the error of a TLS handshake that took longer
// than Options.HandshakeTimeout.
var ErrHandshakeTimeout = errors.New("loop: TLS handshake timed out")

// ListenTLS is Listen for TLS: connections accepted on address run the
// TLS handshake with config (as crypto/tls takes it: certificates, SNI with
// GetCertificate or GetConfigForClient, ALPN, client certificates) before
// OnOpen, and the Handler reads and writes plaintext. network is "tcp",
// "tcp4", "tcp6" or "unix".
func (s *Server) ListenTLS(network, address string, config *tls.Config) error {
	switch network {
	case "tcp", "tcp4", "tcp6", "unix":
	default:
		return fmt.Errorf("loop: listen tls: unsupported network %q (want tcp, tcp4, tcp6 or unix)", network)
	}
	if config == nil {
		return errors.New("loop: listen tls: no tls.Config")
	}
	if err := s.Listen(network, address); err != nil {
		return err
	}
	s.specs[len(s.specs)-1].tls = config
	return nil
}

// DialTLS is Dial for TLS: it returns once the TLS handshake with config
// is done too (config.ServerName names the server, unless it is
// InsecureSkipVerify). timeout bounds the connect; the handshake has
// Options.HandshakeTimeout.
func (s *Server) DialTLS(network, address string, timeout time.Duration, config *tls.Config) (*Conn, error) {
	return s.dialAndWait(network, address, timeout, config)
}

// DialAsyncTLS is DialAsync for TLS; done runs after the handshake.
func (s *Server) DialAsyncTLS(network, address string, timeout time.Duration, config *tls.Config, done func(*Conn, error)) error {
	if config == nil {
		return errors.New("loop: dial tls: no tls.Config")
	}
	return s.dial(network, address, timeout, config, done)
}

// TLS returns the connection's negotiated TLS state (version, cipher
// suite, ALPN protocol, server name, peer certificates); ok is false on a
// plain connection.
func (c *Conn) TLS() (state tls.ConnectionState, ok bool) {
	t, ok := c.Transport().(*tlsTransport)
	if !ok {
		return tls.ConnectionState{}, false
	}
	return t.sess.ConnectionState(), true
}

// tlsTransport is the Transport of a TLS connection.
type tlsTransport struct {
	c     *Conn
	sess  *tlssession.Session
	timer *Timer // HandshakeTimeout, from accept or connect
	early []byte // plaintext written before the handshake was done
	fd    int    // the socket's, for LocalAddr and send: read from the handshake's goroutine

	// The handshake's goroutine writes its records to the socket itself
	// (see send); wmu keeps the socket open while it does.
	wmu         sync.Mutex
	established atomic.Bool // the handshake is done: sends go straight to the socket
	settled     bool        // the handshake ended (done, failed or aborted): counted once
	waiting     bool        // a server's handshake, not yet on the pool: the peer's first record is not whole
	gone        bool        // under wmu: the connection is closed, fd may be another's
	posted      bool        // under wmu: a record went through the loop; the rest follow it
}

// LocalAddr and RemoteAddr are the socket's addresses for crypto/tls's
// callbacks (ClientHelloInfo.Conn), made when asked, from the handshake's
// goroutine: they read only what does not change (t.fd, c.peer).
func (t *tlsTransport) LocalAddr() net.Addr { return sock.LocalAddr(t.fd, false) }

// RemoteAddr: see LocalAddr.
func (t *tlsTransport) RemoteAddr() net.Addr {
	if a := t.c.peer.Addr(); a != nil {
		return a
	}
	return sock.RemoteAddr(t.fd)
}

// startTLS makes c a TLS connection; its handshake starts with handshake.
func (c *Conn) startTLS(config *tls.Config, server bool) {
	t := &tlsTransport{c: c}
	t.fd = int(c.fd)
	if server {
		t.sess = tlssession.Server(config, t.send, t)
		t.waiting = true
	} else {
		t.sess = tlssession.Client(config, t.send, t)
	}
	c.more().transport = t
	c.flags |= flagTransport | flagHandshaking
	c.loop.stats.handshaking.Add(1)
}

// handshake starts c's TLS handshake timeout, and the handshake itself
// on the pool: a client's at once (it speaks first), a server's once the
// peer's first record is in (see submitWhenReady), so a peer that connects and
// says nothing, or sends part of a record, holds no goroutine of the pool
// while it waits for the timeout.
func (c *Conn) handshake() {
	t := c.extra.transport.(*tlsTransport)
	l := c.loop
	timeout := l.srv.opts.HandshakeTimeout
	t.timer = l.AfterFunc(timeout, func() {
		if c.flags&flagHandshaking != 0 {
			c.closeWith(fmt.Errorf("%w after %v", ErrHandshakeTimeout, timeout))
		}
	})
	if !t.waiting {
		t.submit()
	}
}

// submitWhenReady submits a server's handshake once what was fed lets it
// start without waiting (tlssession's FirstRecordIn).
func (t *tlsTransport) submitWhenReady() {
	if t.waiting && t.sess.FirstRecordIn() {
		t.waiting = false
		t.submit()
	}
}

// submit runs the handshake on the pool; its end is posted to the loop.
func (t *tlsTransport) submit() {
	l := t.c.loop
	deadline := t.timer.when // the goroutine's backstop: the timer closes the connection then
	l.handshakeFed = true
	l.srv.handshakes.submit(func() {
		ctx, cancel := context.WithDeadline(context.Background(), deadline)
		err := t.sess.Handshake(ctx)
		cancel()
		if l.post(func() { t.finished(err) }, false) != nil {
			t.sess.Close() // the loop is gone, and the connection with it
		}
	})
}

// send is where the session's records go. Afterwards the handshake it runs
// on the loop and writes (or queues) them at once. During the handshake it
// runs on a pool goroutine, which writes them to the socket itself (the
// loop writes nothing to it until the handshake is done), so a server's
// flight leaves as soon as it is made rather than when the loop next runs;
// what the socket does not take is posted to the loop, and so is every
// record after it, in order.
func (t *tlsTransport) send(p []byte) error {
	c := t.c
	if t.established.Load() {
		_, err := (*wire)(c).Write(p)
		return err
	}
	t.wmu.Lock()
	if t.gone {
		t.wmu.Unlock()
		return net.ErrClosed
	}
	if !t.posted && c.loop.observe == nil { // with Options.Observe, writes go through the loop, which reports them

		n, err := sock.Write(t.fd, p)
		switch {
		case err != nil && !sock.WouldBlock(err):
			t.wmu.Unlock()
			return err // the handshake fails with it, and the loop closes c
		case n > 0:
			c.loop.stats.bytesOut.Add(int64(n))
			p = p[n:]
		}
		if len(p) == 0 {
			t.wmu.Unlock()
			return nil
		}
	}
	t.posted = true
	t.wmu.Unlock()
	record := append([]byte(nil), p...)
	return c.loop.post(func() {
		if !c.Closed() {
			(*wire)(c).Write(record)
		}
	}, false)
}

// finished runs on the loop when the handshake goroutine is done.
func (t *tlsTransport) finished(err error) {
	c := t.c
	if c.Closed() {
		return // closed meanwhile (timeout, Stop, a write error): settled then
	}
	if err != nil {
		c.closeWith(fmt.Errorf("loop: TLS handshake: %w", err))
		return
	}
	t.settle(true)
	t.established.Store(true)
	c.flags &^= flagHandshaking
	c.updateInterest() // reading may have stopped while the handshake held MaxPending
	if early := t.early; len(early) > 0 {
		t.early = nil
		if err := t.sess.Write(early); err != nil {
			c.closeWith(err)
			return
		}
	}
	done := c.dialing()
	if done != nil {
		c.extra.dialDone = nil
	}
	c.loop.opened(c)
	if done != nil {
		if c.Closed() {
			done(nil, ErrClosed)
			return
		}
		done(c, nil)
	}
	if !c.Closed() {
		// Records that came with the end of the handshake may be fed
		// already, or even read into crypto/tls's own buffer with it.
		c.decode(nil)
	}
	if c.flags&flagEOF != 0 && !c.Closed() { // the peer closed during the handshake
		c.toldEOF()
	}
}

// handshakeRoom is how many more bytes a TLS connection's handshake can
// hold: the loop stops reading it at 0, and reads on once it is done.
func (c *Conn) handshakeRoom() int {
	return tlssession.MaxPending - c.extra.transport.(*tlsTransport).sess.Pending()
}

// settle counts the end of the handshake, once: done, or failed (ok false).
func (t *tlsTransport) settle(ok bool) {
	if t.settled {
		return
	}
	t.settled = true
	st := &t.c.loop.stats
	st.handshaking.Add(-1)
	if ok {
		st.handshakes.Add(1)
	} else {
		st.handshakeErrors.Add(1)
	}
	if t.timer != nil {
		t.timer.Stop()
		t.timer = nil // an idle TLS connection keeps no timer
	}
}

// abort is closeWith's part for a TLS connection: a handshake in progress
// ends at once, and counts as failed.
func (t *tlsTransport) abort(err error) {
	t.sess.Close()
	t.wmu.Lock()
	t.gone = true // closeWith closes the socket next: send must not write to it
	t.wmu.Unlock()
	if !t.settled {
		t.settle(false)
		l := t.c.loop
		if l.srv.debugOn() {
			l.debug("loop: TLS handshake failed", slog.Any("addr", t.c.RemoteAddr()), slog.Any("err", err))
		}
		if l.observe != nil {
			l.observe(Event{Kind: EventHandshakeFailed, Loop: l, Conn: t.c, Err: err})
		}
	}
}

// Decode implements Transport.
func (t *tlsTransport) Decode(_ Wire, wire, plain []byte) ([]byte, error) {
	if t.established.Load() {
		return t.sess.Decrypt(wire, plain) // wire is the loop's buffer: read in place
	}
	if err := t.sess.Feed(wire); err != nil {
		return plain, fmt.Errorf("loop: TLS: %w", err)
	}
	t.c.loop.handshakeFed = true // the handshake goroutine has input now
	t.submitWhenReady()
	return plain, nil
}

// Encode implements Transport.
func (t *tlsTransport) Encode(_ Wire, p []byte) error {
	if !t.established.Load() {
		t.early = append(t.early, p...)
		return nil
	}
	return t.sess.Write(p)
}

// Shutdown implements Transport: close_notify, if the handshake is done.
func (t *tlsTransport) Shutdown(Wire) error {
	if !t.established.Load() {
		return nil
	}
	return t.sess.CloseWrite()
}

// handshakePool runs TLS handshakes on at most max goroutines at once; the
// others wait in order. A goroutine ends when nothing waits, so an idle
// Server has none.
type handshakePool struct {
	mu      sync.Mutex
	queue   []func()
	running int
	max     int
	wg      sync.WaitGroup // Stop waits for the goroutines to end
}

func (p *handshakePool) submit(job func()) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.queue = append(p.queue, job)
	if p.running < p.max {
		p.running++
		p.wg.Add(1)
		go p.work()
	}
}

func (p *handshakePool) work() {
	defer p.wg.Done()
	for {
		p.mu.Lock()
		if len(p.queue) == 0 {
			p.running--
			p.mu.Unlock()
			return
		}
		job := p.queue[0]
		p.queue[0] = nil
		p.queue = p.queue[1:]
		p.mu.Unlock()
		job()
	}
}
