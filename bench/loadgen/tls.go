package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"sync/atomic"
	"time"

	"github.com/iomux/iomux"
	"github.com/iomux/iomux/internal/sock"
	"github.com/iomux/iomux/internal/tlssession"
	"golang.org/x/sys/unix"
)

// TLS for the selector driver. Each connection has a tlssession.Session:
// the driver reads ciphertext from the socket, feeds it, and verifies the
// plaintext Read returns; Write's records go to the socket through send,
// queued when it is full. Once established a session needs no goroutine,
// so a round trip costs the driver what a plain one does, plus the
// records' crypto. Only the handshake blocks (crypto/tls cannot resume
// one): it runs on a goroutine of its own while the driver feeds it, and
// reports on hsDone.

// handshakesAtOnce bounds the handshakes in flight while the driver opens
// its connections: enough to keep a server's handshake workers busy, few
// enough that no connection waits long in a server's queue.
const handshakesAtOnce = 64

// handshakeStall ends a start-up whose handshakes stopped completing.
const handshakeStall = 10 * time.Second

// clientTLSConfig is the client's configuration: no ClientSessionCache, so
// every handshake is a full one; the certificate verified against the PEM
// CA in caFile for addr's host, or, without caFile, trusted as it comes.
func clientTLSConfig(addr, caFile string) (*tls.Config, error) {
	if caFile == "" {
		return &tls.Config{InsecureSkipVerify: true}, nil
	}
	b, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("--tls-ca: %v", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("--tls-ca %s: no PEM certificate in it", caFile)
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("--addr: %v", err)
	}
	return &tls.Config{RootCAs: pool, ServerName: host}, nil
}

// describeTLS adds to res what a TLS run negotiated (st: the first
// handshake's state) and how the certificate was trusted.
func describeTLS(res *echoResult, cfg echoConfig, st *tls.ConnectionState) {
	if cfg.tls == nil {
		return
	}
	res.TLS, res.TLSTrust = true, "any"
	if cfg.tlsCA != "" {
		res.TLSTrust = "ca"
	}
	if st != nil {
		res.TLSVersion = tls.VersionName(st.Version)
		res.TLSCipher = tls.CipherSuiteName(st.CipherSuite)
		res.TLSGroup = st.CurveID.String()
	}
}

// tlsConn is the TLS side of a selector connection.
type tlsConn struct {
	sess        *tlssession.Session
	fd          int
	out         []byte      // records the socket has not taken yet
	handshaking bool        // its goroutine runs: the fd stays open until it reports
	established bool        // the handshake is done (set by the driver after the report)
	closeLater  bool        // dropped while handshaking: close the fd once it reports
	cause       error       // what the socket said when it failed during the handshake
	aborted     atomic.Bool // the session was closed: a flight waiting for room gives up
}

// handshakeResult is a handshake goroutine's report.
type handshakeResult struct {
	c   *selectorConn
	err error
}

// startTLS gives c a client session and starts its handshake on a
// goroutine, which reports on d.hsDone and wakes the driver's Wait.
func (d *selectorDriver) startTLS(c *selectorConn) {
	t := &tlsConn{fd: c.fd, handshaking: true}
	t.sess = tlssession.Client(d.cfg.tls, t.send, nil)
	c.tls = t
	d.hsWG.Add(1)
	go func() {
		defer d.hsWG.Done()
		// No deadline: the driver aborts the session when it gives up.
		err := t.sess.Handshake(context.Background())
		d.hsDone <- handshakeResult{c, err}
		d.sel.Wake()
	}()
}

// yieldToHandshakes lets the handshake goroutines the driver just fed run
// before it blocks in Wait again. Without it they wait for the runtime to
// take the P back from the driver's thread, asleep in epoll_wait, which
// sysmon does only every 10 ms when the process looks idle to it.
func yieldToHandshakes() { runtime.Gosched() }

// abort ends the session: a handshake in progress fails at once.
func (t *tlsConn) abort() {
	t.aborted.Store(true)
	t.sess.Close()
}

// send is where the session's records go. During the handshake it runs on
// the handshake's goroutine, which writes its flight itself (a few KiB: an
// empty socket takes it at once). Afterwards it runs on the driver's
// thread, inside Write or Read, and queues what the socket does not take
// for writeTLS to flush when it turns writable.
func (t *tlsConn) send(p []byte) error {
	if !t.established {
		return t.writeFlight(p)
	}
	if len(t.out) == 0 {
		n, err := sock.Write(t.fd, p)
		switch {
		case sock.WouldBlock(err):
		case err != nil:
			return err
		default:
			p = p[n:]
		}
	}
	t.out = append(t.out, p...)
	return nil
}

// writeFlight writes all of p, waiting for room with poll.
func (t *tlsConn) writeFlight(p []byte) error {
	for len(p) > 0 {
		n, err := sock.Write(t.fd, p)
		switch {
		case sock.WouldBlock(err):
			if t.aborted.Load() {
				return net.ErrClosed
			}
			unix.Poll([]unix.PollFd{{Fd: int32(t.fd), Events: unix.POLLOUT}}, 100)
		case err != nil:
			return err
		default:
			p = p[n:]
		}
	}
	return nil
}

// openTLS opens the connections of a TLS run and does their handshakes,
// at most handshakesAtOnce at a time (a server's handshake timeout runs
// from its accept), serving the sockets meanwhile. Any failure ends it.
func (d *selectorDriver) openTLS() error {
	n := d.cfg.conns
	ready := make([]iomux.Ready, 256)
	opened, done := 0, 0
	last := time.Now()
	for done < n {
		for ; opened < n && opened-done < handshakesAtOnce; opened++ {
			c, err := d.open(opened)
			if err != nil {
				return fmt.Errorf("connection %d of %d: %w", opened+1, n, err)
			}
			d.startTLS(c)
		}
		k, err := d.sel.Wait(time.Second, ready)
		if err != nil {
			return err
		}
		d.serve(ready[:k])
		yieldToHandshakes()
		for more := true; more; {
			select {
			case r := <-d.hsDone:
				done++
				last = time.Now()
				if err := d.handshaken(r.c, r.err); err != nil {
					return fmt.Errorf("connection %d of %d: TLS handshake: %w", r.c.index+1, n, err)
				}
			default:
				more = false
			}
		}
		if time.Since(last) > handshakeStall {
			return fmt.Errorf("TLS handshakes: %d of %d done, then none for %v", done, n, handshakeStall)
		}
	}
	return nil
}

// handshaken takes a handshake goroutine's report: the connection is
// established, or it failed (counted) and the error says why.
func (d *selectorDriver) handshaken(c *selectorConn, err error) error {
	t := c.tls
	t.handshaking = false
	if t.closeLater {
		t.closeLater = false
		sock.Close(c.fd)
	}
	if t.cause != nil && (err == nil || errors.Is(err, net.ErrClosed)) {
		err = t.cause // the socket failed first, and the session was closed for it
	}
	if c.dead {
		if err == nil {
			err = net.ErrClosed
		}
		return err
	}
	if err != nil {
		d.fail(c)
		return err
	}
	t.established = true
	if d.st.tls == nil {
		st := t.sess.ConnectionState()
		d.st.tls = &st
	}
	// What came with the handshake's end (TLS 1.3 session tickets) may be
	// fed already: read it now, not at the next readiness.
	d.decrypt(c)
	return nil
}

// writeTLS hands what is left of the batch to the session, then flushes
// the records the socket has not taken yet.
func (d *selectorDriver) writeTLS(c *selectorConn) {
	t := c.tls
	if c.sent < len(c.want) {
		if err := t.sess.Write(c.want[c.sent:]); err != nil {
			d.fail(c)
			return
		}
		c.sent = len(c.want)
	}
	n := d.flush(c, t.out)
	t.out = append(t.out[:0], t.out[n:]...)
}

// readTLS feeds the session what the socket has and, once established,
// verifies the plaintext it completes.
func (d *selectorDriver) readTLS(c *selectorConn) {
	t := c.tls
	n, err := sock.Read(c.fd, d.buf)
	if sock.WouldBlock(err) {
		return
	}
	if err == nil && n == 0 {
		err = io.EOF
	}
	if err == nil {
		err = t.sess.Feed(d.buf[:n])
	}
	if err != nil {
		t.cause = err
		d.fail(c)
		return
	}
	if t.established {
		d.decrypt(c)
	}
}

// decrypt verifies the plaintext the bytes fed so far complete. The
// server's close_notify, or anything else it ends with, is a failure: an
// echo server speaks only when spoken to.
func (d *selectorDriver) decrypt(c *selectorConn) {
	plain, err := c.tls.sess.Read(d.plain[:0])
	d.plain = plain[:0] // keep what Read grew
	if len(plain) > 0 {
		d.check(c, plain)
	}
	if err != nil && !c.dead {
		d.fail(c)
	}
}
