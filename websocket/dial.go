package websocket

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"

	"github.com/iomux/iomux/loop"
)

// handshake is a connection's opening handshake in progress.
type handshake struct {
	scan int        // how much of the head HeadEnd has seen (a server's)
	key  string     // a client's Sec-WebSocket-Key
	done chan error // Dial waits on it
}

// fail ends a Dial's wait with err (once).
func (hs *handshake) fail(err error) {
	if hs.done != nil {
		select {
		case hs.done <- err:
		default:
		}
	}
}

// maxResponseHead bounds the server's 101 head a client reads.
const maxResponseHead = 16 << 10

// Dial connects to a ws:// or wss:// URL from srv's loops and returns the
// connection once its handshake is done, after h's OnOpen ran; from then
// on h gets its events on the loop, as a server's Handler does. srv's
// Handler must be one ServeLoop made (a client-only program makes one with
// ServeLoop(nil, nil) and no Listen), and srv started. opts give the
// subprotocols offered, Compression, Header's fields, TLSConfig, and the
// limits and timeouts as for a server. ctx bounds the connect and the
// handshake. Dial blocks: call it from outside the loops.
func Dial(ctx context.Context, srv *loop.Server, rawURL string, h Handler, opts *Options) (*Conn, error) {
	opts = orDefault(opts)
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, err
	}
	dopts := &loop.DialOptions{}
	port := "80"
	switch u.Scheme {
	case "ws", "http":
	case "wss", "https":
		port = "443"
		cfg := opts.TLSConfig
		if cfg == nil {
			cfg = &tls.Config{}
		} else {
			cfg = cfg.Clone()
		}
		if cfg.ServerName == "" {
			cfg.ServerName = u.Hostname()
		}
		cfg.NextProtos = []string{"http/1.1"}
		dopts.Transport = loop.TLSClient(cfg)
	default:
		return nil, errors.New("websocket: dial " + rawURL + ": scheme is not ws or wss")
	}
	addr := u.Host
	if u.Port() == "" {
		addr = net.JoinHostPort(u.Hostname(), port)
	}
	done := make(chan error, 1)
	var made atomic.Pointer[Conn]
	err = srv.DialAsync(ctx, "tcp", addr, dopts, func(c *loop.Conn, err error) {
		if err != nil {
			done <- err
			return
		}
		ws := newConn(c, h, opts, Client)
		made.Store(ws)
		hs := &handshake{key: NewKey(), done: done}
		ws.x.hs = hs // a client's Conn has its connExtra (newConn)
		c.SetContext(ws)
		c.Write(appendRequest(nil, u, hs.key, opts))
		ws.arm(opts.handshakeTimeout())
	})
	if err != nil {
		return nil, err
	}
	select {
	case err = <-done:
	case <-ctx.Done():
		err = ctx.Err()
		// The handshake may end meanwhile: the connection is closed
		// either way, from its loop.
		if ws := made.Load(); ws != nil {
			ws.c.AsyncClose()
		}
	}
	if err != nil {
		return nil, fmt.Errorf("websocket: dial %s: %w", rawURL, err)
	}
	return made.Load(), nil
}

// appendRequest appends a client's opening handshake for u.
func appendRequest(dst []byte, u *url.URL, key string, opts *Options) []byte {
	target := u.RequestURI()
	dst = append(dst, "GET "+target+" HTTP/1.1\r\nHost: "+u.Host+
		"\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: "+key+"\r\n"...)
	if len(opts.Subprotocols) > 0 {
		dst = append(dst, "Sec-WebSocket-Protocol: "+strings.Join(opts.Subprotocols, ", ")+"\r\n"...)
	}
	if opts.Compression {
		dst = append(dst, "Sec-WebSocket-Extensions: "+ClientOffer+"\r\n"...)
	}
	for k, vs := range opts.Header {
		for _, v := range vs {
			dst = append(dst, k+": "+v+"\r\n"...)
		}
	}
	return append(dst, "\r\n"...)
}

// clientHandshakeData reads the server's answer; true when the connection
// is open and more bytes wait.
func (ws *Conn) clientHandshakeData() bool {
	c := ws.c
	buf := c.Peek(-1)
	end := bytes.Index(buf, []byte("\r\n\r\n"))
	if end < 0 {
		if len(buf) > maxResponseHead {
			ws.failDial(errors.New("websocket: response head too large"))
		}
		return false
	}
	end += 4
	resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(buf[:end])), nil)
	if err == nil {
		ws.x.proto, err = CheckResponse(resp, ws.x.hs.key, ws.opts.Subprotocols)
	}
	var d Deflate
	var ok bool
	if err == nil {
		d, ok, err = AcceptDeflateResponse(resp.Header)
		if ok && !ws.opts.Compression {
			err = &HandshakeError{Reason: "server answered an extension not offered"}
		}
	}
	if err != nil {
		ws.failDial(err)
		return false
	}
	c.Discard(end)
	if ok {
		ws.setDeflate(d.ClientInflater(), d.ClientDeflater(ws.opts.CompressionLevel))
	}
	hs := ws.x.hs
	ws.open()
	hs.fail(nil) // Dial returns the Conn
	return ws.state == stateOpen && c.Inbound() > 0
}

func (ws *Conn) failDial(err error) {
	ws.c.Close()
	ws.state = stateClosed
	ws.disarm()
	ws.x.hs.fail(err)
}
