package loop

import (
	"errors"
	"log/slog"
	"net"

	"github.com/iomux/iomux"
	"golang.org/x/sys/unix"
)

// Errors a Conn's methods return or OnClose reports.
var (
	ErrClosed  = errors.New("loop: connection closed")
	ErrTimeout = errors.New("loop: timeout")
)

type connFlags uint16

const (
	flagClosed     connFlags = 1 << iota // fd closed, OnClose ran
	flagEOF                              // peer shut down its writing half
	flagPaused                           // reading stopped by back-pressure
	flagClosing                          // Close: close once output drains
	flagShutWrite                        // CloseWrite: shut down once output drains
	flagWriteShut                        // our writing half is shut down
	flagConnecting                       // Dial in progress
	flagUDP                              // a UDP socket, not a connection
	flagOpened                           // OnOpen ran: OnClose will too
)

// Conn is one connection (or, for UDP, one socket) owned by a Loop. Its
// methods must be called from that loop (inside Handler methods, timers and
// Post'ed functions), except AsyncWrite, AsyncClose and Wake, which are safe
// from any goroutine.
//
// Its fields are ordered to fit the 144-byte size class on 64-bit systems
// (TestConnSize checks): an idle connection's memory is a headline figure
// (see README, Performance).
type Conn struct {
	loop *Loop
	fd   int

	view []byte // the unconsumed input: during OnData maybe the loop's buffer, else a suffix of in
	in   []byte // the connection's own input buffer
	out  []byte // queued output; out[head:] is still to send
	head int

	ctx   any
	extra *connExtra // what few connections need, allocated on first use

	peer     peerAddr // the remote IP and port (zero for Unix sockets)
	flags    connFlags
	interest iomux.Events // what the Selector watches now
}

// connExtra holds a connection's rarely used state, so an idle connection
// costs one 144-byte Conn: memory per connection is a headline figure.
type connExtra struct {
	local, remote net.Addr
	peer          unix.Sockaddr      // UDP: the sender of the datagram being handled
	timeouts      *timeouts          // nil until a timeout or deadline is set
	dialDone      func(*Conn, error) // set while a Dial is in progress
}

func (c *Conn) more() *connExtra {
	if c.extra == nil {
		c.extra = &connExtra{}
	}
	return c.extra
}

// limitsSet returns the connection's timeouts, nil if none was ever set.
func (c *Conn) limitsSet() *timeouts {
	if c.extra == nil {
		return nil
	}
	return c.extra.timeouts
}

func (c *Conn) dialing() func(*Conn, error) {
	if c.extra == nil {
		return nil
	}
	return c.extra.dialDone
}

// Loop returns the loop that owns the connection.
func (c *Conn) Loop() *Loop { return c.loop }

// Fd returns the connection's file descriptor (-1 once closed).
func (c *Conn) Fd() int { return c.fd }

// Context returns the value stored with SetContext.
func (c *Conn) Context() any { return c.ctx }

// SetContext stores a value with the connection (per-connection state).
func (c *Conn) SetContext(v any) { c.ctx = v }

// Closed reports whether the connection is closed.
func (c *Conn) Closed() bool { return c.flags&flagClosed != 0 }

// EOF reports whether the peer has shut down its writing half.
func (c *Conn) EOF() bool { return c.flags&flagEOF != 0 }

// Paused reports whether back-pressure stopped reading the connection.
func (c *Conn) Paused() bool { return c.flags&flagPaused != 0 }

// Buffered returns how many received bytes are not yet consumed, also
// outside OnData (in a timer or a Post'ed function).
func (c *Conn) Buffered() int { return len(c.view) }

// Peek returns the first n unconsumed bytes (all of them if n < 0 or fewer
// are buffered) without consuming them. The slice is valid until the
// handler returns; copy what you keep.
func (c *Conn) Peek(n int) []byte {
	if n < 0 || n > len(c.view) {
		n = len(c.view)
	}
	return c.view[:n:n]
}

// Next returns and consumes the first n unconsumed bytes (all if n < 0).
// Like Peek, the slice is valid until the handler returns.
func (c *Conn) Next(n int) []byte {
	p := c.Peek(n)
	c.view = c.view[len(p):]
	return p
}

// Discard consumes n bytes (all if n < 0) and returns how many it consumed.
func (c *Conn) Discard(n int) int {
	return len(c.Next(n))
}

// Outbound returns how many bytes are queued for sending.
func (c *Conn) Outbound() int { return len(c.out) - c.head }

// LocalAddr returns the local address (nil if it cannot be known). It is
// looked up (getsockname) on first use, so in OnClose, after the socket is
// closed, it is nil unless it was asked for before: ask in OnOpen to keep it.
func (c *Conn) LocalAddr() net.Addr {
	x := c.more()
	if x.local == nil && c.fd >= 0 {
		if sa, err := unix.Getsockname(c.fd); err == nil {
			x.local = sockaddrToAddr(sa, c.flags&flagUDP != 0)
		}
	}
	return x.local
}

// RemoteAddr returns the peer's address, also in OnClose; for UDP, the
// sender of the datagram being handled.
func (c *Conn) RemoteAddr() net.Addr {
	if c.flags&flagUDP != 0 {
		return sockaddrToAddr(c.more().peer, true)
	}
	if a := c.peer.addr(); a != nil {
		return a
	}
	x := c.more()
	if x.remote == nil && c.fd >= 0 {
		if sa, err := unix.Getpeername(c.fd); err == nil {
			x.remote = sockaddrToAddr(sa, false)
		}
	}
	return x.remote
}

// Write sends p: straight to the socket when nothing is queued (the steady
// state, with no Selector call), the rest queued with write interest until
// it drains. It never blocks and keeps no reference to p. On UDP it sends
// one datagram to the sender of the datagram being handled.
func (c *Conn) Write(p []byte) (int, error) {
	if c.flags&(flagClosed|flagClosing|flagShutWrite|flagWriteShut) != 0 {
		return 0, ErrClosed
	}
	if c.flags&flagUDP != 0 {
		return c.sendDatagram(p)
	}
	total := len(p)
	if c.Outbound() == 0 && c.flags&flagConnecting == 0 {
		n, err := c.writeSocket(p)
		if err != nil {
			c.closeWith(err)
			return n, err
		}
		p = p[n:]
		if len(p) == 0 {
			c.loop.traceDrained(c)
			return total, nil
		}
	}
	c.queue(p)
	return total, nil
}

// Writev sends several buffers with one writev(2) when nothing is queued,
// queuing what the socket does not take. On UDP it sends them as one
// datagram.
func (c *Conn) Writev(bufs [][]byte) (int, error) {
	if len(bufs) == 1 {
		return c.Write(bufs[0]) // no copy, no iovec
	}
	if c.flags&(flagClosed|flagClosing|flagShutWrite|flagWriteShut) != 0 {
		return 0, ErrClosed
	}
	total := 0
	for _, b := range bufs {
		total += len(b)
	}
	if c.flags&flagUDP != 0 {
		p := make([]byte, 0, total) // one datagram: sendto takes one buffer
		for _, b := range bufs {
			p = append(p, b...)
		}
		return c.Write(p)
	}
	sent := 0
	if c.Outbound() == 0 && c.flags&flagConnecting == 0 && total > 0 {
		n, err := c.writevSocket(bufs)
		if err != nil {
			c.closeWith(err)
			return 0, err
		}
		sent = n
	}
	for _, b := range bufs {
		if sent >= len(b) {
			sent -= len(b)
			continue
		}
		c.queue(b[sent:])
		sent = 0
	}
	if c.Outbound() == 0 {
		c.loop.traceDrained(c)
	}
	return total, nil
}

// writevSocket makes one writev(2) of bufs; see sent.
func (c *Conn) writevSocket(bufs [][]byte) (int, error) {
	n, err := c.loop.writev(c.fd, bufs)
	return c.sent(n, err, bufs...)
}

// writeSocket makes one write(2) of p; see sent.
func (c *Conn) writeSocket(p []byte) (int, error) {
	n, err := unix.Write(c.fd, p)
	return c.sent(n, err, p)
}

// sent accounts for a write(2) or writev(2) of bufs that returned n, err:
// EAGAIN is not an error, just 0 written; the n bytes sent count as output
// and as write activity for timeouts, and are traced.
func (c *Conn) sent(n int, err error, bufs ...[]byte) (int, error) {
	switch {
	case err == unix.EAGAIN || err == unix.EINTR:
		return 0, nil
	case err != nil:
		return 0, err
	}
	c.loop.countOut(c, n)
	if c.loop.srv.opts.Trace != nil {
		for rest, i := n, 0; rest > 0 && i < len(bufs); i++ {
			if k := min(rest, len(bufs[i])); k > 0 { // an empty buffer sends nothing
				c.loop.traceSend(c, bufs[i][:k])
				rest -= k
			}
		}
	}
	if t := c.limitsSet(); t != nil && n > 0 {
		t.wrote(c.loop.now())
	}
	return n, nil
}

// queue copies p into the output queue, asks for writability when the
// queue was empty, and pauses reading above the high-water mark.
func (c *Conn) queue(p []byte) {
	if len(p) == 0 {
		return
	}
	if c.head > 0 && c.head == len(c.out) {
		c.out, c.head = c.out[:0], 0
	}
	if t := c.limitsSet(); t != nil && c.Outbound() == 0 {
		t.wrote(c.loop.now()) // a write timeout counts from now
	}
	if len(c.out)+len(p) > cap(c.out) {
		c.grow(len(p))
	}
	c.out = append(c.out, p...)
	hw := c.loop.srv.opts.HighWater
	if hw > 0 && c.Outbound() > hw && c.flags&flagPaused == 0 {
		c.flags |= flagPaused
		c.loop.stats.paused.Add(1)
		if c.loop.srv.debugOn() {
			c.loop.debug("loop: connection paused", slog.Any("addr", c.RemoteAddr()), slog.Int("queued", c.Outbound()))
		}
		c.loop.srv.handler.OnPause(c)
	}
	c.updateInterest()
}

// grow makes room for n more queued bytes, dropping the part already sent:
// in place when that is enough, else in a buffer of twice the size, where
// append would grow a large one by a quarter: a queue filling towards
// HighWater (a slow reader) then leaves half the garbage behind and needs
// half the copies. It stops doubling at HighWater plus one read buffer,
// what an echoing connection holds when it pauses, so the buffer a paused
// connection keeps is not larger either.
func (c *Conn) grow(n int) {
	opts := &c.loop.srv.opts
	need := c.Outbound() + n
	if need <= cap(c.out) { // the part already sent makes room: no new buffer
		rest := copy(c.out[:cap(c.out)], c.out[c.head:])
		c.out, c.head = c.out[:rest], 0
		return
	}
	size := max(2*cap(c.out), need)
	if limit := opts.HighWater + opts.ReadBufferSize; opts.HighWater > 0 && need <= limit {
		size = min(size, limit)
	}
	out := make([]byte, c.Outbound(), size)
	copy(out, c.out[c.head:])
	c.out, c.head = out, 0
}

// flush sends queued output after the Selector reported writability.
func (c *Conn) flush() {
	if c.Outbound() == 0 {
		c.updateInterest()
		return
	}
	n, err := c.writeSocket(c.out[c.head:])
	if err != nil {
		c.closeWith(err)
		return
	}
	c.head += n
	if c.head > 0 && c.head >= len(c.out)/2 { // reclaim the sent half
		rest := copy(c.out, c.out[c.head:])
		c.out, c.head = c.out[:rest], 0
	}
	pending := c.Outbound()
	if pending == 0 {
		if cap(c.out) > 64<<10 {
			c.out = nil // a burst's buffer is not kept for an idle connection
		} else {
			c.out = c.out[:0]
		}
		c.head = 0
		c.loop.traceDrained(c)
	}
	if c.flags&flagPaused != 0 && pending <= c.loop.srv.opts.LowWater {
		c.flags &^= flagPaused
		c.loop.stats.paused.Add(-1)
		if c.loop.srv.debugOn() {
			c.loop.debug("loop: connection resumed", slog.Any("addr", c.RemoteAddr()), slog.Int("queued", pending))
		}
		c.loop.srv.handler.OnResume(c)
		if c.Closed() {
			return
		}
	}
	if pending == 0 {
		c.drained()
	}
	c.updateInterest()
}

// drained finishes a Close or CloseWrite that waited for the queue.
func (c *Conn) drained() {
	switch {
	case c.flags&flagClosing != 0:
		c.closeWith(nil)
	case c.flags&flagShutWrite != 0:
		c.flags = c.flags&^flagShutWrite | flagWriteShut
		if err := unix.Shutdown(c.fd, unix.SHUT_WR); err != nil {
			c.closeWith(err)
		}
	}
}

// updateInterest tells the Selector what the connection waits for now; it
// makes a system call only when that changes, never per message.
func (c *Conn) updateInterest() {
	if c.flags&flagClosed != 0 {
		return
	}
	var want iomux.Events
	if c.flags&(flagEOF|flagPaused|flagClosing) == 0 && c.flags&flagConnecting == 0 {
		want |= iomux.Readable
	}
	if c.Outbound() > 0 || c.flags&flagConnecting != 0 {
		want |= iomux.Writable
	}
	if want == c.interest {
		return
	}
	var err error
	switch {
	case want == 0:
		err = c.loop.unregister(c.fd)
	case c.interest == 0:
		err = c.loop.register(c.fd, want, c)
	default:
		err = c.loop.modify(c.fd, want, c)
	}
	if err != nil {
		c.interest = 0
		c.closeWith(err)
		return
	}
	c.interest = want
}

// Close sends what is queued, then closes the connection. Further input is
// ignored. Safe to call more than once.
func (c *Conn) Close() error {
	if c.flags&flagClosed != 0 {
		return nil
	}
	if c.Outbound() == 0 || c.flags&flagConnecting != 0 {
		c.closeWith(nil)
		return nil
	}
	c.flags |= flagClosing
	c.updateInterest()
	return nil
}

// CloseNow closes the connection at once, dropping queued output.
func (c *Conn) CloseNow() error {
	c.closeWith(nil)
	return nil
}

// CloseWrite half-closes: once queued output is sent, the peer reads EOF,
// while the connection stays open for reading.
func (c *Conn) CloseWrite() error {
	if c.flags&(flagClosed|flagWriteShut|flagShutWrite) != 0 {
		return nil
	}
	c.flags |= flagShutWrite
	if c.Outbound() == 0 {
		c.drained()
	}
	return nil
}

// closeWith closes the connection and reports err to OnClose, once.
func (c *Conn) closeWith(err error) {
	if c.flags&flagClosed != 0 {
		return
	}
	l := c.loop
	var addr net.Addr // for the Debug event: asked before the socket goes
	debug := c.flags&flagUDP == 0 && l.srv.debugOn()
	if debug {
		addr = c.RemoteAddr()
	}
	c.flags |= flagClosed
	if c.interest != 0 {
		_ = l.unregister(c.fd)
		c.interest = 0
	}
	if c.flags&flagPaused != 0 {
		l.stats.paused.Add(-1)
	}
	if t := c.limitsSet(); t != nil && t.timer != nil {
		t.timer.Stop()
	}
	if c.flags&flagUDP == 0 {
		l.forget(c)
	}
	unix.Close(c.fd)
	c.fd = -1
	c.view, c.in, c.out, c.head = nil, nil, nil, 0
	if c.flags&flagUDP != 0 {
		return // a UDP socket is not a connection: no OnClose
	}
	if done := c.dialing(); done != nil { // a Dial that never connected: no OnOpen, no OnClose
		c.extra.dialDone = nil
		if err == nil {
			err = ErrClosed
		}
		done(nil, err)
		return
	}
	if c.flags&flagOpened == 0 {
		// The Selector refused a connection just accepted (select past
		// FD_SETSIZE): the handler never had it, so it gets no OnClose
		// either, and the loop says why.
		l.stats.acceptErrors.Add(1)
		l.srv.warn(l, "register", "loop: connection dropped: the Selector cannot watch it",
			"addr", c.RemoteAddr(), "err", err)
		return
	}
	if debug {
		l.debug("loop: connection closed", slog.Any("addr", addr), slog.Any("err", err))
	}
	l.srv.handler.OnClose(c, err)
}

// AsyncWrite queues p for sending from any goroutine; the loop writes it in
// order with other AsyncWrites. The Conn takes ownership of p.
func (c *Conn) AsyncWrite(p []byte) error {
	return c.loop.Post(func() {
		if c.flags&flagClosed == 0 {
			c.Write(p)
		}
	})
}

// AsyncClose closes the connection from any goroutine (after flushing).
func (c *Conn) AsyncClose() error {
	return c.loop.Post(func() { c.Close() })
}

// Wake makes the loop call OnData for this connection from any goroutine,
// with whatever input is buffered (possibly none).
func (c *Conn) Wake() error {
	return c.loop.Post(func() {
		if c.flags&flagClosed == 0 {
			c.loop.srv.handler.OnData(c)
			c.keepUnread(false)
		}
	})
}

// keepUnread runs after OnData. Outside OnData, c.view is the unconsumed
// input and always a suffix of c.in, so OnEOF, timers and Wake see it too.
// borrowed says c.view points into the loop's read buffer, which the next
// read reuses: leftovers are then copied into the connection's own buffer.
func (c *Conn) keepUnread(borrowed bool) {
	switch {
	case c.flags&flagClosed != 0:
		c.view = nil
	case len(c.view) == 0 || c.flags&flagUDP != 0:
		// all consumed (a datagram not consumed is dropped: datagrams do
		// not concatenate); a burst's buffer is not kept for an idle conn
		c.view = nil
		if cap(c.in) > 4<<10 {
			c.in = nil
		} else {
			c.in = c.in[:0]
		}
	case borrowed:
		c.in = append(c.in[:0], c.view...)
		c.view = c.in
	}
}

func sockaddrToAddr(sa unix.Sockaddr, udp bool) net.Addr {
	switch a := sa.(type) {
	case *unix.SockaddrInet4:
		ip := net.IP(append([]byte(nil), a.Addr[:]...))
		if udp {
			return &net.UDPAddr{IP: ip, Port: a.Port}
		}
		return &net.TCPAddr{IP: ip, Port: a.Port}
	case *unix.SockaddrInet6:
		ip := net.IP(append([]byte(nil), a.Addr[:]...))
		if udp {
			return &net.UDPAddr{IP: ip, Port: a.Port}
		}
		return &net.TCPAddr{IP: ip, Port: a.Port}
	case *unix.SockaddrUnix:
		return &net.UnixAddr{Name: a.Name, Net: "unix"}
	}
	return nil
}
