package websocket

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/iomux/iomux/internal/http1"
	"github.com/iomux/iomux/loop"
	"github.com/iomux/iomux/loophttp"
)

// Upgrade answers a WebSocket handshake from a handler served by loophttp:
// it checks the request (CheckRequest; the Origin with
// Options.CheckOrigin), chooses a subprotocol of Options.Subprotocols,
// negotiates permessage-deflate if Options.Compression, writes the 101
// through w, and once the handler returns the connection is h's, on the
// loop, with no goroutine. A refused request is answered (400, 403, 405,
// 426) and its error returned; the handler then returns.
//
// Under another server (net/http.Server) there is no loop to hand the
// connection to: Upgrade answers 501 Not Implemented and returns
// loophttp.ErrNotLoophttp.
func Upgrade(w http.ResponseWriter, r *http.Request, h Handler, opts *Options) error {
	opts = orDefault(opts)
	key, err := CheckRequest(r)
	if err == nil && !originOK(opts, r) {
		err = &HandshakeError{Status: http.StatusForbidden, Reason: "origin not allowed"}
	}
	if err != nil {
		refuse(w, err)
		return err
	}
	ws := newConn(nil, h, opts, Server)
	if err := loophttp.Upgrade(w, (*connHandler)(ws)); err != nil {
		http.Error(w, "WebSocket needs loophttp", http.StatusNotImplemented)
		return err
	}
	proto := ChooseSubprotocol(r, opts.Subprotocols)
	if proto != "" {
		ws.extra().proto = proto
	}
	ext := opts.negotiate(ws, r.Header)
	setResponseHeader(w.Header(), key, proto, ext)
	w.WriteHeader(http.StatusSwitchingProtocols)
	return nil
}

func originOK(opts *Options, r *http.Request) bool {
	if opts.CheckOrigin != nil {
		return opts.CheckOrigin(r)
	}
	return checkOrigin(r)
}

func refuse(w http.ResponseWriter, err error) {
	var he *HandshakeError
	if !errors.As(err, &he) {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	for k, v := range he.Header {
		w.Header()[k] = v
	}
	http.Error(w, he.Reason, he.Status)
}

// ServeLoop returns the loop.Handler of a plain loop server that speaks
// only WebSocket: it reads each connection's opening handshake itself
// (internal/http1, as strict as net/http; Options.HandshakeTimeout), and
// then serves it with h. Dial's connections need a Server whose Handler
// ServeLoop made (h may be nil for a Server that only dials).
//
//	srv := loop.NewServer(websocket.ServeLoop(h, nil), loop.Options{})
//	srv.Listen("tcp", ":8080")
//	srv.Start()
func ServeLoop(h Handler, opts *Options) loop.Handler {
	return &loopServer{h: h, opts: orDefault(opts)}
}

type loopServer struct {
	h    Handler
	opts *Options
}

var (
	_ loop.EOFHandler = (*loopServer)(nil)
)

func (s *loopServer) OnOpen(c *loop.Conn) {
	if c.Dialed() {
		return // Dial sets up its connection (see Dial)
	}
	if s.h == nil {
		c.Close()
		return
	}
	ws := newConn(c, s.h, s.opts, Server)
	ws.extra().hs = &handshake{}
	c.SetContext(ws)
	ws.arm(s.opts.handshakeTimeout())
}

func (s *loopServer) OnData(c *loop.Conn) {
	if ws, ok := c.Context().(*Conn); ok {
		ws.onData()
	} else {
		c.Discard(-1)
	}
}

func (s *loopServer) OnEOF(c *loop.Conn) {
	if ws, ok := c.Context().(*Conn); ok {
		ws.onEOF()
		return
	}
	c.Close()
}

func (s *loopServer) OnClose(c *loop.Conn, err error) {
	if ws, ok := c.Context().(*Conn); ok {
		(*connHandler)(ws).OnClose(c, err)
	}
}

// handshakeData reads the opening handshake; true when the connection is
// open and what follows the handshake is WebSocket.
func (ws *Conn) handshakeData() bool {
	if ws.mask() != nil {
		return ws.clientHandshakeData()
	}
	c := ws.c
	buf := c.Peek(-1)
	hs := ws.x.hs
	end, next := http1.HeadEnd(buf, hs.scan)
	lim := http1.Limits{MaxHeaderBytes: 8 << 10}
	if end < 0 {
		hs.scan = next
		if len(buf) > lim.MaxHead() {
			ws.refuseRaw(&HandshakeError{Status: http.StatusRequestHeaderFieldsTooLarge, Reason: "request head too large"})
		}
		return false
	}
	r, _, err := http1.ParseRequest(buf[:end], lim)
	if err == nil {
		var key string
		key, err = CheckRequest(r)
		if err == nil && !originOK(ws.opts, r) {
			err = &HandshakeError{Status: http.StatusForbidden, Reason: "origin not allowed"}
		}
		if err == nil {
			c.Discard(end)
			ws.x.proto = ChooseSubprotocol(r, ws.opts.Subprotocols)
			ext := ws.opts.negotiate(ws, r.Header)
			c.Write(AppendResponse(nil, key, ws.x.proto, ext))
			ws.open()
			return ws.state == stateOpen && c.Inbound() > 0
		}
	}
	ws.refuseRaw(err)
	return false
}

// refuseRaw answers a refused handshake and closes.
func (ws *Conn) refuseRaw(err error) {
	var he *HandshakeError
	var pe *http1.Error
	var resp []byte
	switch {
	case errors.As(err, &pe):
		resp = pe.AppendResponse(nil)
	case errors.As(err, &he):
		resp = []byte("HTTP/1.1 " + strconv.Itoa(he.Status) + " " + http.StatusText(he.Status) + "\r\n")
		for k, v := range he.Header {
			for _, s := range v {
				resp = append(resp, k+": "+s+"\r\n"...)
			}
		}
		body := he.Reason + "\n"
		resp = append(resp, "Content-Type: text/plain; charset=utf-8\r\nConnection: close\r\nContent-Length: "+strconv.Itoa(len(body))+"\r\n\r\n"+body...)
	}
	ws.c.Write(resp)
	ws.c.Close()
	ws.state = stateClosed
	ws.disarm()
}
