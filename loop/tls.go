package loop

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"

	"github.com/iomux/iomux/internal/sock"
	"github.com/iomux/iomux/internal/tlssession"
)

// TLS on the loop, with the standard library's crypto/tls unforked: a
// Transport and Handshaker like any other, using only what the Transport
// seam gives.
//
// The handshake runs on a goroutine of the Server's handshake pool (at
// most Options.MaxHandshakes at once, the rest wait their turn), fed by
// Decode with what the peer sends; its records leave through Wire.Send,
// straight from that goroutine. When it is done the connection opens
// (Wire.Open), and from then on the records are read and written on the
// loop like any bytes, with no goroutine: internal/tlssession explains
// how.

// ListenTLS is Listen for TLS: connections accepted on address run the
// TLS handshake with config (as crypto/tls takes it: certificates, SNI with
// GetCertificate or GetConfigForClient, ALPN, client certificates) before
// OnOpen, and the Handler reads and writes plaintext. network is "tcp",
// "tcp4", "tcp6" or "unix".
func (s *Server) ListenTLS(network, address string, config *tls.Config) error {
	if err := checkStreamNetwork("listen tls", network); err != nil {
		return err
	}
	if config == nil {
		return errors.New("loop: listen tls: no tls.Config")
	}
	if err := s.Listen(network, address); err != nil {
		return err
	}
	s.specs[len(s.specs)-1].newTransport = TLSServer(config)
	return nil
}

// TLSServer returns a factory of server-side TLS Transports with config,
// for Options.Transport (ListenTLS is the usual way).
func TLSServer(config *tls.Config) func(Wire) Transport {
	return func(w Wire) Transport { return newTLSTransport(w, config, true) }
}

// TLSClient returns a factory of client-side TLS Transports with config,
// for DialOptions.Transport: the Dial returns once the handshake is done
// (config.ServerName names the server, unless it is InsecureSkipVerify).
func TLSClient(config *tls.Config) func(Wire) Transport {
	return func(w Wire) Transport { return newTLSTransport(w, config, false) }
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
	w    Wire
	sess *tlssession.Session
	fd   int // the socket's, for LocalAddr: read from the handshake's goroutine
	// established: the handshake is done; records go through the loop.
	established atomic.Bool
	// waiting: a server's handshake, not yet on the pool, because the
	// peer's first record is not whole.
	waiting bool
}

func newTLSTransport(w Wire, config *tls.Config, server bool) *tlsTransport {
	t := &tlsTransport{w: w, fd: w.Conn().Fd()}
	if server {
		t.sess = tlssession.Server(config, t.send, t)
		t.waiting = true
	} else {
		t.sess = tlssession.Client(config, t.send, t)
	}
	return t
}

// LocalAddr and RemoteAddr are the socket's addresses for crypto/tls's
// callbacks (ClientHelloInfo.Conn), made when asked, from the handshake's
// goroutine: they read only what does not change (t.fd, the Conn's peer).
func (t *tlsTransport) LocalAddr() net.Addr { return sock.LocalAddr(t.fd, false) }

// RemoteAddr: see LocalAddr.
func (t *tlsTransport) RemoteAddr() net.Addr {
	if a := t.w.Conn().peer.Addr(); a != nil {
		return a
	}
	return sock.RemoteAddr(t.fd)
}

// StartHandshake implements Handshaker: a client's handshake goes on the
// pool at once (it speaks first), a server's once the peer's first record
// is in (see submitWhenReady), so a peer that connects and says nothing,
// or sends part of a record, holds no goroutine of the pool while it
// waits for the timeout.
func (t *tlsTransport) StartHandshake() {
	if !t.waiting {
		t.submit()
	}
}

// HandshakeRoom implements Handshaker: the session holds at most
// tlssession.MaxPending bytes.
func (t *tlsTransport) HandshakeRoom() int { return tlssession.MaxPending - t.sess.Pending() }

// HandshakeEOF implements Handshaker: the handshake fails at once, or
// ends with what came before the EOF.
func (t *tlsTransport) HandshakeEOF() {
	t.sess.FeedEOF()
	t.submitWhenReady()
}

// AbortHandshake implements Handshaker: a handshake in progress fails at
// once.
func (t *tlsTransport) AbortHandshake(error) { t.sess.Close() }

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
	l := t.w.Conn().Loop()
	l.YieldBeforeWait()
	// The goroutine's own bound is a backstop: the loop closes the
	// connection at Options.HandshakeTimeout, which aborts the handshake.
	ctx, cancel := context.Background(), context.CancelFunc(func() {})
	if d := l.srv.opts.HandshakeTimeout; d > 0 {
		ctx, cancel = context.WithTimeout(ctx, d)
	}
	l.srv.handshakes.submit(func() {
		err := t.sess.Handshake(ctx)
		cancel()
		if t.w.Post(func() { t.finished(err) }) != nil {
			t.sess.Close() // the loop is gone, and the connection with it
		}
	})
}

// send is where the session's records go: during the handshake from its
// goroutine, through Wire.Send; afterwards on the loop, through Wire.Write.
func (t *tlsTransport) send(p []byte) error {
	if t.established.Load() {
		_, err := t.w.Write(p)
		return err
	}
	return t.w.Send(p)
}

// finished runs on the loop when the handshake goroutine is done.
func (t *tlsTransport) finished(err error) {
	if err != nil {
		t.w.Fail(fmt.Errorf("TLS handshake: %w", err))
		return
	}
	t.established.Store(true)
	t.w.Open()
}

// Decode implements Transport.
func (t *tlsTransport) Decode(wire, plain []byte) ([]byte, error) {
	if t.established.Load() {
		return t.sess.Decrypt(wire, plain) // wire is the loop's buffer: read in place
	}
	if err := t.sess.Feed(wire); err != nil {
		return plain, fmt.Errorf("TLS: %w", err)
	}
	t.w.Conn().Loop().YieldBeforeWait() // the handshake goroutine has input now
	t.submitWhenReady()
	return plain, nil
}

// Encode implements Transport: the handler writes only once the
// connection is open, after the handshake.
func (t *tlsTransport) Encode(p []byte) error { return t.sess.Write(p) }

// Shutdown implements Transport: close_notify.
func (t *tlsTransport) Shutdown() error { return t.sess.CloseWrite() }

// handshakePool runs TLS handshakes on at most max goroutines at once
// (max < 0: no bound); the others wait in order. A goroutine ends when
// nothing waits, so an idle Server has none.
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
	if p.running < p.max || p.max < 0 {
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

var _ Handshaker = (*tlsTransport)(nil)
