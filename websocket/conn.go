package websocket

import (
	"errors"
	"io"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/iomux/iomux/loop"
)

// Handler receives a WebSocket connection's events, on the connection's
// loop, one at a time: like a loop.Handler, its methods must not block.
type Handler interface {
	// OnOpen runs when the opening handshake is done.
	OnOpen(c *Conn)
	// OnMessage runs for each whole data message: m.Opcode is OpText
	// (checked UTF-8) or OpBinary, m.Data its payload, reassembled from
	// its fragments and inflated. m.Data is valid only until OnMessage
	// returns: copy what you keep.
	OnMessage(c *Conn, m Message)
	// OnClose runs once when the connection is over for the Handler (its
	// TCP close may follow: the loop flushes and lingers). code and
	// reason are the peer's Close frame when it sent one, whether it
	// began the close or answered this side's (err is then nil); the
	// code this side sent when the peer broke a rule of the protocol (err
	// is the *CloseError); or CloseAbnormal (1006) when the connection
	// ended without a Close frame, err saying why (ErrPongTimeout,
	// ErrCloseTimeout, io.ErrUnexpectedEOF, a loop error).
	OnClose(c *Conn, code CloseCode, reason string, err error)
}

// StreamHandler is a Handler that takes data messages piece by piece, as
// they arrive, instead of whole: OnStream then runs in place of
// OnMessage, for each piece, m.Fin on a message's last (a compressed
// message still comes whole, in one piece). For messages too large to
// hold, or to pass on as they come: MaxMessage still bounds a message.
type StreamHandler interface {
	Handler
	OnStream(c *Conn, m Message)
}

// BaseHandler's methods do nothing: embed it for the methods you do not need.
type BaseHandler struct{}

func (BaseHandler) OnOpen(*Conn)                            {}
func (BaseHandler) OnMessage(*Conn, Message)                {}
func (BaseHandler) OnClose(*Conn, CloseCode, string, error) {}

type connState uint8

const (
	stateHandshake connState = iota // ServeLoop reads the request, or Dial the response
	stateOpen
	stateClosing // this side sent its Close frame and waits for the peer's
	stateClosed  // OnClose ran (or never will: the handshake failed)
)

// Conn is one WebSocket connection on a loop. Its methods are for the
// connection's loop (inside Handler methods, and timers and functions
// posted to that loop), except AsyncWrite, AsyncWritePrepared,
// AsyncClose and Broadcast, which are safe from any goroutine.
//
// An idle Conn holds no buffer: a message's bytes are kept only while
// it is arriving in pieces, and frames are built in pooled buffers. Its
// reader is taken from a pool when bytes arrive and given back between
// messages, and what a server connection does without (a compression
// context, a client's masking, a subprotocol, the opening handshake) is in
// a record of its own: an idle server connection, plain or compressing
// without a context, is this struct alone (its keepalive is a place in a
// list of its loop's: timeouts.go).
type Conn struct {
	c    *loop.Conn
	h    Handler
	opts *Options
	ctx  any
	r    *MessageReader // while a frame, a message or a close is partly read; nil between messages
	x    *connExtra     // nil for a plain server connection once open

	prev, next *Conn // the loop's list of connections waiting as long as this one
	due        int64 // when the wait ends (clock): tick runs

	async atomic.Uint32 // AsyncWrite's admission: asyncShut, asyncUsed, and the writes on their way (asyncSend)

	state      connState
	compressed bool // permessage-deflate agreed
	read       bool // something arrived since the keepalive timer last looked
	pinged     bool // a keepalive Ping is unanswered
}

// connExtra is the part of a Conn that a server connection does without
// once open, unless it has a subprotocol or a compression context.
type connExtra struct {
	proto    string
	infl     *Inflater    // the peer compresses with context takeover: its window
	defl     *Deflater    // this side does: its compressor (AsyncWrite then sends uncompressed)
	mask     *FrameWriter // a client's: its masking keys
	hs       *handshake   // while the opening handshake runs (ServeLoop, Dial)
	takeover bool         // counted in opts.takeovers
}

// extra returns the connection's connExtra, made if need be.
func (ws *Conn) extra() *connExtra {
	if ws.x == nil {
		ws.x = &connExtra{}
	}
	return ws.x
}

// deflater is the connection's compressor: nil without permessage-deflate;
// its own with context takeover; else the one shared by every connection
// at its level.
func (ws *Conn) deflater() *Deflater {
	switch {
	case !ws.compressed:
		return nil
	case ws.x != nil && ws.x.defl != nil:
		return ws.x.defl
	}
	return NewDeflater(ws.opts.CompressionLevel, false)
}

// inflater is the connection's inflater, if permessage-deflate was
// agreed: its own with context takeover, else plainInflater.
func (ws *Conn) inflater() *Inflater {
	if ws.x != nil && ws.x.infl != nil {
		return ws.x.infl
	}
	return plainInflater
}

// Accessors of connExtra's fields that read nil as their zero value.

func (ws *Conn) mask() *FrameWriter {
	if ws.x == nil {
		return nil
	}
	return ws.x.mask
}

func (ws *Conn) hs() *handshake {
	if ws.x == nil {
		return nil
	}
	return ws.x.hs
}

// plainInflater serves every connection whose peer compresses without
// context takeover: such an Inflater keeps nothing between messages.
var plainInflater = NewInflater(false, 15)

func newConn(c *loop.Conn, h Handler, opts *Options, role Role) *Conn {
	ws := &Conn{c: c, h: h, opts: opts}
	if role == Client {
		ws.extra().mask = &FrameWriter{Role: Client}
	}
	return ws
}

// setDeflate turns on permessage-deflate as negotiated: only a context
// takeover is kept in connExtra.
func (ws *Conn) setDeflate(in *Inflater, out *Deflater) {
	ws.compressed = true
	if in.takeover {
		ws.extra().infl = in
	}
	if out.takeover {
		ws.extra().defl = out
	}
}

// readers hold the MessageReaders of connections with a frame or message
// partly read.
var readers = sync.Pool{New: func() any { return new(MessageReader) }}

// reader returns the connection's MessageReader, taken from the pool and
// set up if it had none.
func (ws *Conn) reader() *MessageReader {
	if ws.r != nil {
		return ws.r
	}
	r := readers.Get().(*MessageReader)
	r.MaxFrame, r.MaxMessage = ws.opts.MaxFrame, ws.opts.MaxMessage
	_, r.Stream = ws.h.(StreamHandler)
	if ws.mask() != nil {
		r.Role = Client
	}
	if ws.compressed {
		r.Compression, r.Inflater = true, ws.inflater()
	}
	ws.r = r
	return r
}

// releaseReader gives r back to the pool when it holds nothing of a frame
// or message, or the connection is over.
func (ws *Conn) releaseReader(r *MessageReader) {
	if ws.state != stateClosed && !r.atRest() {
		return
	}
	if ws.r == r {
		ws.r = nil
	}
	*r = MessageReader{}
	readers.Put(r)
}

// open ends the handshake: the Handler sees the connection from now on.
func (ws *Conn) open() {
	if x := ws.x; x != nil {
		x.hs = nil
		if *x == (connExtra{}) {
			ws.x = nil
		}
	}
	ws.state = stateOpen
	ws.disarm() // the handshake's timeout
	ws.armKeepalive()
	ws.h.OnOpen(ws)
}

// Subprotocol is the subprotocol the handshake agreed, or "".
func (ws *Conn) Subprotocol() string {
	if ws.x == nil {
		return ""
	}
	return ws.x.proto
}

// Compressed reports whether permessage-deflate was agreed.
func (ws *Conn) Compressed() bool { return ws.compressed }

// Context and SetContext hold the application's per-connection state.
func (ws *Conn) Context() any { return ws.ctx }

// SetContext sets what Context returns.
func (ws *Conn) SetContext(v any) { ws.ctx = v }

// Loop is the loop the connection runs on: Post to it to act on the
// connection from elsewhere.
func (ws *Conn) Loop() *loop.Loop { return ws.c.Loop() }

// NetConn is the loop's connection under the WebSocket, for its
// addresses, TLS state and counters; write to it only through Conn.
func (ws *Conn) NetConn() *loop.Conn { return ws.c }

// RemoteAddr is the peer's address.
func (ws *Conn) RemoteAddr() net.Addr { return ws.c.RemoteAddr() }

// Congested reports whether the connection's queued output passed the
// loop's HighWater (see loop.Conn.Congested): a broadcaster skips it, or
// waits, rather than queue more.
func (ws *Conn) Congested() bool { return ws.c.Congested() }

// Closed reports whether the connection sent its Close frame or is gone:
// writes then return ErrClosed.
func (ws *Conn) Closed() bool { return ws.state != stateOpen }

// The loop.Handler of one connection: Upgrade hands it to loophttp, and
// ServeLoop's handler passes each connection's events to it. A named type
// of its own keeps these methods off Conn's API.
type connHandler Conn

var (
	_ loop.EOFHandler = (*connHandler)(nil)
)

// OnOpen runs when loophttp hands the connection over (Upgrade).
func (ch *connHandler) OnOpen(c *loop.Conn) {
	ws := (*Conn)(ch)
	ws.c = c
	ws.open()
}

func (ch *connHandler) OnData(c *loop.Conn) { (*Conn)(ch).onData() }

func (ch *connHandler) OnEOF(c *loop.Conn) { (*Conn)(ch).onEOF() }

func (ch *connHandler) OnClose(_ *loop.Conn, err error) {
	ws := (*Conn)(ch)
	if err == nil {
		err = io.ErrUnexpectedEOF
	}
	ws.finish(CloseAbnormal, "", err)
	ws.r = nil // a frame cut short: its reader is left to the collector
	x := ws.x
	if x == nil {
		return
	}
	if x.takeover {
		ws.opts.takeovers.Add(-1)
		x.takeover = false
		if x.defl != nil {
			x.defl.Release()
		}
	}
	if x.hs != nil {
		x.hs.fail(err)
	}
}

// onData reads what arrived: frames, in any split.
func (ws *Conn) onData() {
	c := ws.c
	ws.read = true
	if ws.state == stateHandshake {
		if !ws.handshakeData() {
			return
		}
	}
	if ws.state == stateClosed {
		c.Discard(-1) // after the Close frames, nothing is read
		return
	}
	r := ws.reader()
	n, err := r.Read(c.Peek(-1), ws.deliver)
	c.Discard(n)
	ws.releaseReader(r)
	if err == errStopRead || err == nil {
		if ws.state == stateClosed {
			c.Discard(-1)
		}
		return
	}
	if ce, ok := err.(*CloseError); ok {
		// RFC 6455 section 7.1.7: fail the connection, with the code
		// (after this side's own Close frame, none is sent again).
		if ws.state == stateOpen {
			ws.sendClose(ce.Code, ce.Reason, true)
		} else {
			c.Close()
		}
		ws.finish(ce.Code, ce.Reason, ce)
		c.Discard(-1)
	}
}

// errStopRead stops MessageReader.Read: the connection is over.
var errStopRead = errors.New("websocket: stop reading")

// deliver takes what MessageReader completed.
func (ws *Conn) deliver(m Message) error {
	switch m.Opcode {
	case OpPing:
		if ws.state == stateOpen { // no frame follows this side's Close
			ws.writeFrame(Header{Fin: true, Opcode: OpPong, Length: int64(len(m.Data))}, m.Data)
		}
		return nil
	case OpPong:
		return nil // it proved the peer alive: read is set
	case OpClose:
		ws.peerClosed(m.Data)
		return errStopRead
	}
	if ws.state != stateOpen {
		return nil // after this side's Close, data is dropped
	}
	if sh, ok := ws.h.(StreamHandler); ok {
		sh.OnStream(ws, m)
	} else {
		ws.h.OnMessage(ws, m)
	}
	if ws.state == stateClosed {
		return errStopRead
	}
	return nil
}

// peerClosed answers the peer's Close frame (MessageReader checked it):
// with the same code if it began the close, then the TCP close, which a
// server does first (RFC 6455 section 7.1.1); a client's loop lingers for
// the server's.
func (ws *Conn) peerClosed(payload []byte) {
	code, reason, _ := ParseClose(payload)
	if ws.state == stateOpen {
		ws.sendClose(code, "", true)
	} else {
		ws.c.Close()
	}
	ws.finish(code, reason, nil)
}

// onEOF: the peer ended its side. After the Close frames that is the
// end; without them, the connection failed.
func (ws *Conn) onEOF() {
	ws.finish(CloseAbnormal, "", io.ErrUnexpectedEOF)
	ws.c.Close()
}

// finish tells the Handler the connection is over, once.
func (ws *Conn) finish(code CloseCode, reason string, err error) {
	prev := ws.state
	if prev == stateClosed {
		return
	}
	ws.state = stateClosed
	ws.disarm()
	if prev == stateHandshake {
		return // the Handler never saw it open
	}
	ws.h.OnClose(ws, code, reason, err)
}

// Close begins the close handshake: it sends a Close frame with code and
// reason (cut to 123 bytes), drops the data that still arrives, and
// closes the connection when the peer's Close frame comes, or after
// CloseTimeout. OnClose runs then. A code of 0 sends a Close frame
// without one.
func (ws *Conn) Close(code CloseCode, reason string) error {
	if ws.state != stateOpen {
		return ErrClosed
	}
	if code != 0 && code != CloseNoStatus && !code.Sendable() {
		return &CloseError{Code: CloseProtocolError, Reason: "close code " + itoa(int(code)) + " may not be sent"}
	}
	ws.state = stateClosing
	ws.sendClose(code, reason, false)
	ws.arm(ws.opts.closeTimeout())
	return nil
}

// AsyncClose is Close from any goroutine. Like loop.Loop.Post, it is
// refused with loop.ErrQueueFull while MaxPosts functions wait for the
// loop: try again.
func (ws *Conn) AsyncClose(code CloseCode, reason string) error {
	return ws.c.Loop().Post(func() { ws.Close(code, reason) })
}

// AsyncWrite's admission, the bits of Conn.async: asyncShut once the Close
// frame is on its way (AsyncWrite refuses), asyncUsed once a write was
// admitted (the Close frame then goes behind them), and in the bits above,
// counted in asyncOne, the writes admitted and not yet handed to the loop.
const (
	asyncShut = 1 << iota
	asyncUsed
	asyncOne
)

// sendClose writes this side's Close frame, its last frame: no data frame
// may follow, also none of AsyncWrite's still on their way to the loop,
// so once one was admitted the Close frame is posted behind them (after
// those admitted before asyncShut reach the loop's queue: a few
// instructions away, never blocked). Then the TCP close, if closeTCP.
func (ws *Conn) sendClose(code CloseCode, reason string, closeTCP bool) {
	a := ws.async.Or(asyncShut)
	for a >= asyncOne {
		runtime.Gosched()
		a = ws.async.Load()
	}
	behind := a&asyncUsed != 0
	var b [MaxHeaderLen + MaxControlPayload]byte
	payload := AppendClosePayload(b[MaxHeaderLen:MaxHeaderLen], code, reason)
	frame := ws.appendFrame(nil, Header{Fin: true, Opcode: OpClose, Length: int64(len(payload))}, payload)
	send := func() {
		ws.c.Write(frame)
		if closeTCP {
			ws.c.Close()
		}
	}
	if !behind {
		send()
		return
	}
	ws.postBehind(send)
}

// postBehind posts fn to run on the loop after the functions queued there
// now (the writes AsyncWrite admitted). While the queue is full (MaxPosts
// functions wait: tiny writes from several goroutines fill it before
// HighWater) it tries again on a loop timer: run at once, fn would pass
// them. Once the loop has ended, fn runs at once.
func (ws *Conn) postBehind(fn func()) {
	l := ws.c.Loop()
	switch err := l.Post(fn); {
	case err == nil:
	case errors.Is(err, loop.ErrQueueFull):
		l.AfterFunc(time.Millisecond, func() { ws.postBehind(fn) })
	default:
		fn()
	}
}

// armKeepalive starts keepalive.
func (ws *Conn) armKeepalive() {
	if d := ws.opts.pingInterval(); d > 0 {
		ws.arm(d)
	}
}

// tick is the end of the connection's wait (arm): the handshake's or the
// close's timeout, or keepalive. A connection that was read from since the last tick is
// alive; one silent for PingInterval gets a Ping; one still silent
// PongTimeout after it is closed.
func (ws *Conn) tick() {
	switch ws.state {
	case stateHandshake:
		ws.c.Close()
		if hs := ws.hs(); hs != nil {
			hs.fail(ErrHandshakeTimeout)
		}
		ws.state = stateClosed
	case stateClosing:
		ws.c.Close()
		ws.finish(CloseAbnormal, "", ErrCloseTimeout)
	case stateOpen:
		switch {
		case ws.read:
			ws.read, ws.pinged = false, false
			ws.arm(ws.opts.pingInterval())
		case ws.pinged:
			ws.c.Close()
			ws.finish(CloseAbnormal, "", ErrPongTimeout)
		default:
			ws.pinged = true
			ws.writeFrame(Header{Fin: true, Opcode: OpPing}, nil)
			ws.arm(ws.opts.pongTimeout())
		}
	}
}

func itoa(n int) string {
	var b [20]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
		if n == 0 {
			return string(b[i:])
		}
	}
}
