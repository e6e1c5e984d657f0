package loophttp

import (
	"bufio"
	"errors"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/iomux/iomux/loop"
)

// A connection leaves HTTP in one of two ways: Upgrade hands it to a
// loop.Handler (WebSocket on the loop: no goroutine per connection), and
// Hijack (http.Hijacker) to a goroutine as a net.Conn, as net/http does.
// Either way loophttp stops reading requests from it; a request that asks
// for an upgrade (Connection: upgrade) is the last one parsed until its
// response is done, so that what follows it stays for the new owner.

// ErrNotLoophttp is returned by Upgrade for a ResponseWriter that is not
// loophttp's (nor wraps one with an Unwrap method).
var ErrNotLoophttp = errors.New("loophttp: not a loophttp ResponseWriter")

// Upgrade hands the connection to h once the handler returns, if its
// response is 101 Switching Protocols (otherwise it stays HTTP): after the
// 101's head is written, h gets the connection's events on its loop,
// starting with OnOpen, then OnData for what already arrived; loophttp's
// timeouts no longer apply. h is this connection's own: its receiver holds
// the connection's state (the Conn's Context stays loophttp's). h may also
// be a loop.EOFHandler, PauseHandler or ResumeHandler.
func Upgrade(w http.ResponseWriter, h loop.Handler) error {
	r := unwrap(w)
	if r == nil {
		return ErrNotLoophttp
	}
	if r.hijacked {
		return http.ErrHijacked
	}
	r.upgrade = h
	return nil
}

func unwrap(w http.ResponseWriter) *response {
	for {
		switch t := w.(type) {
		case *response:
			return t
		case interface{ Unwrap() http.ResponseWriter }:
			w = t.Unwrap()
		default:
			return nil
		}
	}
}

// wantsUpgrade reports whether a request asks to switch protocols.
func wantsUpgrade(r *http.Request) bool {
	return len(r.Header["Upgrade"]) > 0 && hasToken(r.Header["Connection"], "upgrade")
}

// handOver makes h the connection's handler (on the loop).
func (cn *conn) handOver(h loop.Handler) {
	c := cn.c
	if c.Closed() {
		return
	}
	cn.endBody()
	cn.ending, cn.barrier = false, false
	cn.setState(http.StateHijacked)
	cn.unwait()
	cn.c.SetDeadline(time.Time{})
	cn.resumeIfPaused()
	c.SetContext(&handedOver{h})
	h.OnOpen(c)
	if c.Inbound() > 0 && !c.Closed() {
		h.OnData(c)
	}
}

// Hijack gives the connection to the caller as a net.Conn (http.Hijacker):
// bytes that arrived after the request are its first reads, and what is
// written goes out behind the responses before this one. Reads block the
// goroutine, not the loop; at most MaxBodyBuffer waits unread before the
// loop stops reading the socket. The caller must Close it.
func (w *response) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	if w.hijacked {
		return nil, nil, http.ErrHijacked
	}
	if w.upgrade != nil {
		return nil, nil, errors.New("loophttp: Hijack after Upgrade")
	}
	w.hijacked = true
	cn := w.cn
	if !w.committed {
		cn.busy.out = cn.busy.out[:w.start] // this response was not begun on the wire
	}
	hc := &hijackedConn{cn: cn, c: cn.c}
	hc.init(cn.srv.maxBodyBuffer(), cn.wakeLoop)
	if err := cn.flush(0, false); err != nil {
		return nil, nil, err
	}
	if cn.busy.inline { // on the loop already
		if cn.c.Closed() {
			return nil, nil, net.ErrClosed
		}
		hc.inline.Store(true)
		nc := cn.netConn()
		hc.local, hc.remote = nc.local, nc.remote
		cn.handOver(hc)
		return hc, bufio.NewReadWriter(bufio.NewReader(hc), bufio.NewWriter(hc)), nil
	}
	installed := make(chan error, 1)
	err := cn.c.Loop().Post(func() {
		if cn.c.Closed() {
			installed <- net.ErrClosed
			return
		}
		nc := cn.netConn()
		hc.local, hc.remote = nc.local, nc.remote
		cn.handOver(hc)
		installed <- nil
	})
	if err == nil {
		err = <-installed
	}
	if err != nil {
		return nil, nil, err
	}
	return hc, bufio.NewReadWriter(bufio.NewReader(hc), bufio.NewWriter(hc)), nil
}

// hijackedConn is a hijacked connection: a net.Conn over the loop's
// connection, and the loop.Handler that fills its inbox.
type hijackedConn struct {
	inbox
	cn        *conn
	c         *loop.Conn
	closeOnce sync.Once
	writeBy   atomic.Int64 // write deadline, Unix ns (0: none)
	// inline: its handler runs on the loop (Server.NonBlocking) and has
	// not returned; Writes until then are the loop's.
	inline atomic.Bool
	local  net.Addr
	remote net.Addr
}

var (
	_ net.Conn        = (*hijackedConn)(nil)
	_ loop.EOFHandler = (*hijackedConn)(nil)
)

func (h *hijackedConn) OnOpen(*loop.Conn) {}

func (h *hijackedConn) OnData(c *loop.Conn) {
	for c.Inbound() > 0 {
		room := h.room()
		if room <= 0 {
			h.cn.pauseRead()
			return
		}
		h.cn.resumeIfPaused()
		h.put(c.Next(room))
	}
}

func (h *hijackedConn) OnEOF(*loop.Conn) { h.finish() }

func (h *hijackedConn) OnClose(_ *loop.Conn, err error) {
	if err != nil {
		h.fail(err)
	}
	h.finish()
}

func (h *hijackedConn) Read(p []byte) (int, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.readLocked(p, net.ErrClosed)
}

// Write sends p (copied) behind what was written before; it blocks while
// the loop's HighWater of output waits for the peer.
func (h *hijackedConn) Write(p []byte) (int, error) {
	if d := h.writeBy.Load(); d != 0 && time.Now().UnixNano() >= d {
		return 0, os.ErrDeadlineExceeded
	}
	if len(p) == 0 {
		return 0, nil
	}
	if err := h.cn.sendFrom(h.inline.Load(), append([]byte(nil), p...), nil); err != nil {
		if errors.Is(err, loop.ErrClosed) {
			err = net.ErrClosed
		}
		return 0, err
	}
	return len(p), nil
}

func (h *hijackedConn) Close() error {
	err := net.ErrClosed
	h.closeOnce.Do(func() {
		h.close()
		err = nil
		if e := h.c.AsyncClose(); e != nil && !errors.Is(e, loop.ErrClosed) {
			err = e
		}
	})
	return err
}

func (h *hijackedConn) LocalAddr() net.Addr  { return h.local }
func (h *hijackedConn) RemoteAddr() net.Addr { return h.remote }

func (h *hijackedConn) SetDeadline(t time.Time) error {
	h.setDeadline(t)
	return h.SetWriteDeadline(t)
}

func (h *hijackedConn) SetReadDeadline(t time.Time) error {
	h.setDeadline(t)
	return nil
}

// SetWriteDeadline fails Writes that begin after t.
func (h *hijackedConn) SetWriteDeadline(t time.Time) error {
	var ns int64
	if !t.IsZero() {
		ns = t.UnixNano()
	}
	h.writeBy.Store(ns)
	return nil
}
