// Package tlssession runs the standard library's crypto/tls over bytes the
// caller moves itself: a Session is fed the ciphertext read from a socket
// and returns the plaintext it completes, and hands the ciphertext of what
// is sent to a function the caller gives. Once the handshake is done it
// never blocks and needs no goroutine, which is what lets an event loop
// serve TLS connections the way it serves plain ones.
//
// It rests on a documented behaviour of crypto/tls.Conn: an error from the
// underlying connection that is a net.Error with Temporary() true is not
// sticky, so Read can return "would block" in the middle of a record and
// be called again when more bytes are fed (TestTemporaryIsNotSticky pins
// this). The handshake is not resumable that way, so Handshake blocks: run
// it on a goroutine of its own while Feed supplies what the peer sends.
package tlssession

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"slices"
	"sync"
	"time"
)

// ErrTooMuchInput is returned by Feed when more than MaxPending bytes wait
// to be consumed: a peer that floods a handshake, or a record the size no
// TLS record has.
var ErrTooMuchInput = errors.New("tlssession: too much input before the handshake consumed it")

// MaxPending bounds the ciphertext a Session holds unconsumed: a handshake
// flight (certificate chains included, crypto/tls takes handshake messages
// up to 64 KiB) and, once established, the start of one record.
const MaxPending = 128 << 10

// Session is one TLS connection's state. Feed, Read, Write and CloseWrite
// are for one goroutine at a time (the loop that owns the socket); Feed,
// Close and Handshake may run while another goroutine is in Handshake.
type Session struct {
	tc   *tls.Conn
	pipe *pipe
}

// Server returns a Session for the server side of a connection. send is
// how the ciphertext leaves: p is valid only during the call (copy what you
// keep), and send is called from Handshake's goroutine during the handshake
// and from Write's (and Read's, for post-handshake messages) afterwards.
// addrs gives the socket's addresses to crypto/tls's callbacks
// (ClientHelloInfo.Conn), asked only when they ask, from the handshake's
// goroutine; nil gives none.
func Server(config *tls.Config, send func([]byte) error, addrs Addrs) *Session {
	p := newPipe(send, addrs)
	p.recut = cutFirstRecords
	return &Session{tc: tls.Server(p, config), pipe: p}
}

// Client returns a Session for the client side of a connection; see Server.
func Client(config *tls.Config, send func([]byte) error, addrs Addrs) *Session {
	p := newPipe(send, addrs)
	return &Session{tc: tls.Client(p, config), pipe: p}
}

// Addrs are a socket's addresses, for crypto/tls's callbacks.
type Addrs interface {
	LocalAddr() net.Addr
	RemoteAddr() net.Addr
}

// Handshake runs the handshake to its end, blocking while it waits for
// what Feed supplies; ctx bounds it (its end aborts the handshake, as does
// Close). Afterwards Read no longer blocks.
func (s *Session) Handshake(ctx context.Context) error {
	err := s.tc.HandshakeContext(ctx)
	s.pipe.established()
	return err
}

// Feed adds bytes read from the socket. It fails with ErrTooMuchInput,
// keeping none of p, when that would leave more than MaxPending bytes
// unconsumed.
func (s *Session) Feed(p []byte) error { return s.pipe.feed(p) }

// FeedEOF says the peer closed its side: once what was fed is consumed, a
// Handshake still waiting for more fails with io.EOF.
func (s *Session) FeedEOF() { s.pipe.feedEOF() }

// Pending is how many fed bytes are not yet consumed.
func (s *Session) Pending() int { return s.pipe.pending() }

// FirstRecordIn reports whether what was fed is enough for a server's
// Handshake to start without waiting: a whole first record, five bytes
// that are no TLS handshake record's header or announce a record longer
// than TLS allows (the handshake fails on them at once), or the peer's EOF. A peer that sends nothing, or part of a
// record, then need not hold a goroutine in Handshake.
func (s *Session) FirstRecordIn() bool { return s.pipe.firstRecordIn() }

// Read appends to plain the plaintext the bytes fed so far complete, and
// returns it; a record not yet whole waits for more Feed. io.EOF says the
// peer ended the stream (close_notify), with what came before it in
// plain. Call it only after Handshake has returned nil.
func (s *Session) Read(plain []byte) ([]byte, error) {
	for {
		if cap(plain)-len(plain) < 4<<10 {
			plain = slices.Grow(plain, 16<<10) // room for a whole record
		}
		n, err := s.tc.Read(plain[len(plain):cap(plain)])
		plain = plain[:len(plain)+n]
		switch {
		case err == nil:
		case errors.Is(err, errWouldBlock):
			return plain, nil
		default:
			return plain, err
		}
	}
}

// Decrypt is Feed of wire then Read, without copying wire into the
// Session first: crypto/tls reads it where it is, and only what it leaves
// (rarely anything: it takes all there is) is kept for the next call.
// wire is not used after Decrypt returns. Call it only after Handshake has
// returned nil.
func (s *Session) Decrypt(wire, plain []byte) ([]byte, error) {
	if err := s.pipe.lend(wire); err != nil {
		return plain, err
	}
	plain, err := s.Read(plain)
	s.pipe.unlend()
	return plain, err
}

// Write sends p, as TLS records, through send. Call it only after
// Handshake has returned nil.
func (s *Session) Write(p []byte) error {
	_, err := s.tc.Write(p)
	return err
}

// CloseWrite sends close_notify: the peer reads EOF after what was sent
// before. Call it only after Handshake has returned nil.
func (s *Session) CloseWrite() error { return s.tc.CloseWrite() }

// Close makes a Handshake in progress fail at once and any later call
// fail; it does not send close_notify (see CloseWrite).
func (s *Session) Close() { s.pipe.Close() }

// ConnectionState is the negotiated state (version, cipher suite, ALPN,
// SNI, peer certificates), complete once Handshake has returned nil.
func (s *Session) ConnectionState() tls.ConnectionState { return s.tc.ConnectionState() }

// errWouldBlock is what the pipe's Read returns when nothing is fed, once
// the handshake is done: a net.Error with Temporary() true, which
// crypto/tls does not make sticky.
var errWouldBlock error = wouldBlock{}

type wouldBlock struct{}

func (wouldBlock) Error() string   { return "tlssession: no input yet" }
func (wouldBlock) Timeout() bool   { return true }
func (wouldBlock) Temporary() bool { return true }

// pipe is the net.Conn under the tls.Conn: reads come from what is fed,
// writes go to send. During the handshake Read blocks until data comes;
// afterwards it returns errWouldBlock instead.
type pipe struct {
	mu       sync.Mutex
	cond     *sync.Cond // the handshake's Read waits on it; nil once it is over
	in       []byte     // fed, not yet read by crypto/tls
	lent     []byte     // Decrypt's input, read after in
	blocking bool       // the handshake is running: Read waits
	eof      bool       // the peer closed its side: Read returns io.EOF when in is empty
	closed   bool
	recut    bool // a server's: its first record is yet to be looked at (see cutFirstRecord)
	cut      int  // bytes at the front of in that are cut records, not yet read
	fragLen  int  // the length of each (the last may be shorter)
	fragLeft int  // bytes to the end of the cut record being read
	send     func([]byte) error
	addrs    Addrs
}

// maxFragment bounds the records a server's first record (the
// ClientHello) is cut into before crypto/tls reads it. crypto/tls keeps
// its record buffer at the size the largest record read made it, for the
// connection's life, and its handshake buffer at the size the ClientHello
// made it: a 1.5 KiB ClientHello (a post-quantum key share) in one record
// leaves 2 KiB and 1.5 KiB there. Cut into records of at most 512 bytes,
// the record buffer stays at its first 576 bytes; cut into 2, 4, 8… equal
// parts, the handshake buffer grows by doubling from the first part's size
// straight to about the ClientHello's. That is 1.4 KiB less for every
// connection (BenchmarkSessionMemory). TLS lets a handshake message span
// records (RFC 8446, 5.1), and the transcript is of messages, not of
// records: the peer sees no difference.
const maxFragment = 512

// cutFirstRecords is whether servers cut their first record (see
// maxFragment); BenchmarkSessionMemory turns it off to compare.
var cutFirstRecords = true

// cutFirstRecord cuts the first record in p.in into 2, 4, 8… records of
// equal length, at most maxFragment bytes, if it is a handshake record
// longer than that and whole; p.mu is held. Read then hands crypto/tls
// one of them at a time, so that none of its reads leaves part of the next
// in its buffer.
func (p *pipe) cutFirstRecord() {
	p.recut = false
	if len(p.in) < recordHeaderLen || p.in[0] != recordTypeHandshake {
		return
	}
	n := recordLen(p.in)
	if n <= maxFragment || n > maxRecordLen || len(p.in) < recordHeaderLen+n {
		return
	}
	parts := 2
	for (n+parts-1)/parts > maxFragment {
		parts *= 2
	}
	size := (n + parts - 1) / parts
	payload, rest := p.in[recordHeaderLen:recordHeaderLen+n], p.in[recordHeaderLen+n:]
	cut := make([]byte, 0, parts*recordHeaderLen+n+len(rest))
	for len(payload) > 0 {
		m := min(len(payload), size)
		cut = append(cut, recordTypeHandshake, p.in[1], p.in[2], byte(m>>8), byte(m))
		cut = append(cut, payload[:m]...)
		payload = payload[m:]
	}
	p.cut, p.fragLen = len(cut), recordHeaderLen+size
	p.fragLeft = min(p.fragLen, p.cut)
	p.in = append(cut, rest...)
}

func newPipe(send func([]byte) error, addrs Addrs) *pipe {
	if addrs == nil {
		addrs = noAddrs{}
	}
	p := &pipe{blocking: true, send: send, addrs: addrs}
	p.cond = sync.NewCond(&p.mu)
	return p
}

func (p *pipe) feed(b []byte) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return net.ErrClosed
	}
	if len(p.in)+len(b) > MaxPending {
		return ErrTooMuchInput
	}
	if len(p.in) == 0 && cap(p.in) > 64<<10 {
		p.in = nil // a handshake's buffer is not kept for an idle connection
	}
	p.in = append(p.in, b...)
	p.wake()
	return nil
}

func (p *pipe) feedEOF() {
	p.mu.Lock()
	p.eof = true
	p.wake()
	p.mu.Unlock()
}

func (p *pipe) lend(b []byte) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return net.ErrClosed
	}
	p.lent = b
	return nil
}

// unlend keeps what crypto/tls left of the lent bytes.
func (p *pipe) unlend() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.lent) > 0 && !p.closed {
		p.in = append(p.in, p.lent...)
	}
	p.lent = nil
}

// What TLS says of records (RFC 8446, 5.1 and 5.2): their header's length,
// a handshake record's type, and the longest a record can be.
const (
	recordHeaderLen     = 5
	recordTypeHandshake = 22
	maxRecordLen        = 16384 + 2048
)

// recordLen is the payload length in the record header that b starts with.
func recordLen(b []byte) int { return int(b[3])<<8 | int(b[4]) }

func (p *pipe) firstRecordIn() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.eof || p.closed {
		return true
	}
	if len(p.in) < recordHeaderLen {
		return false
	}
	n := recordLen(p.in)
	if p.in[0] != recordTypeHandshake || n > maxRecordLen {
		return true
	}
	return len(p.in) >= recordHeaderLen+n
}

func (p *pipe) pending() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.in)
}

// wake wakes the handshake's Read, if it is still waiting; p.mu is held.
func (p *pipe) wake() {
	if p.cond != nil {
		p.cond.Broadcast()
	}
}

func (p *pipe) established() {
	p.mu.Lock()
	p.blocking = false
	p.cond = nil // Read no longer waits: an idle connection keeps no Cond
	p.mu.Unlock()
}

// Read implements net.Conn.
func (p *pipe) Read(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.in) == 0 && len(p.lent) > 0 {
		n := copy(b, p.lent)
		p.lent = p.lent[n:]
		return n, nil
	}
	for len(p.in) == 0 {
		switch {
		case p.closed:
			return 0, net.ErrClosed
		case p.eof:
			return 0, io.EOF
		case !p.blocking:
			return 0, errWouldBlock
		}
		p.cond.Wait()
	}
	if p.recut {
		p.cutFirstRecord()
	}
	if p.cut > 0 {
		b = b[:min(len(b), p.fragLeft)]
	}
	n := copy(b, p.in)
	if p.cut > 0 {
		p.cut -= n
		p.fragLeft -= n
		if p.fragLeft == 0 {
			p.fragLeft = min(p.fragLen, p.cut)
		}
	}
	p.in = p.in[n:]
	if len(p.in) == 0 {
		p.in = nil // let go of the array: a zero-length slice of it would keep it
	}
	return n, nil
}

// Write implements net.Conn: the bytes go to send.
func (p *pipe) Write(b []byte) (int, error) {
	p.mu.Lock()
	closed := p.closed
	p.mu.Unlock()
	if closed {
		return 0, net.ErrClosed
	}
	if err := p.send(b); err != nil {
		return 0, err
	}
	return len(b), nil
}

// Close implements net.Conn: a blocked Read returns at once.
func (p *pipe) Close() error {
	p.mu.Lock()
	p.closed = true
	p.in = nil
	p.wake()
	p.mu.Unlock()
	return nil
}

func (p *pipe) LocalAddr() net.Addr                { return orNone(p.addrs.LocalAddr()) }
func (p *pipe) RemoteAddr() net.Addr               { return orNone(p.addrs.RemoteAddr()) }
func (p *pipe) SetDeadline(t time.Time) error      { return nil }
func (p *pipe) SetReadDeadline(t time.Time) error  { return nil }
func (p *pipe) SetWriteDeadline(t time.Time) error { return nil }

// noAddrs is the Addrs of a Session given none.
type noAddrs struct{}

func (noAddrs) LocalAddr() net.Addr  { return nil }
func (noAddrs) RemoteAddr() net.Addr { return nil }

// orNone is a, or an address that says there is none: a net.Conn's
// addresses are never nil.
func orNone(a net.Addr) net.Addr {
	if a == nil {
		return pipeAddr{}
	}
	return a
}

type pipeAddr struct{}

func (pipeAddr) Network() string { return "tlssession" }
func (pipeAddr) String() string  { return "tlssession" }

var _ io.ReadWriteCloser = (*pipe)(nil)
