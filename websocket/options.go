package websocket

import (
	"crypto/tls"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"
)

// Options configure WebSocket connections on the loop: Upgrade's and
// ServeLoop's (a server's) and Dial's (a client's). The zero value, like
// nil, is a sane server: every field's zero value is its default, given
// with it, and a negative duration is none. An Options is shared by the
// connections made with it; do not change or copy it after the first.
type Options struct {
	// MaxFrame and MaxMessage bound a frame's payload and a whole
	// message (inflated, if compressed): past either the connection is
	// closed with 1009. Default 16 MiB each (DefaultMaxFrame,
	// DefaultMaxMessage).
	MaxFrame, MaxMessage int64
	// Subprotocols are the server's, in its order of preference, or what
	// a client offers. Default none.
	Subprotocols []string
	// Compression accepts (server) or offers (client) permessage-deflate
	// (RFC 7692), with Deflate's policy. Default off.
	Compression bool
	// Deflate is a server's compression policy (see DeflateConfig). Its
	// zero value keeps no compression state per connection.
	Deflate DeflateConfig
	// MaxContextTakeover bounds the connections granted a context
	// takeover Deflate allows (each holds up to 32 KiB, or a compressor
	// of about 1 MiB for ServerContextTakeover); the others are answered
	// without. Default 1024.
	MaxContextTakeover int
	// CompressionLevel is compress/flate's level. Default BestSpeed.
	CompressionLevel int
	// CompressMin is the shortest message sent compressed: shorter ones
	// go plain, as compressing them costs more than it saves. Default 64
	// bytes; negative compresses every message.
	CompressMin int
	// PingInterval is how long a connection may be silent before this
	// side sends a Ping; PongTimeout how long it then waits for anything
	// from the peer before it closes the connection (OnClose gets
	// ErrPongTimeout). Defaults 30 s and 30 s; a negative PingInterval
	// sends no pings.
	PingInterval, PongTimeout time.Duration
	// CloseTimeout is how long Close waits for the peer's Close frame
	// before it closes the TCP connection (OnClose gets ErrCloseTimeout).
	// Default 5 s.
	CloseTimeout time.Duration
	// HandshakeTimeout bounds ServeLoop's reading of the request head,
	// and Dial's wait for the response. Default 10 s.
	HandshakeTimeout time.Duration
	// CheckOrigin decides whether a server accepts a request from a
	// browser page (its Origin field); refused requests get 403. Default:
	// requests without Origin, or whose Origin's host is the request's
	// Host (a page on another site cannot use a visitor's cookies here).
	CheckOrigin func(r *http.Request) bool
	// Header holds the fields a client adds to its request (Origin,
	// Authorization, cookies).
	Header http.Header
	// TLSConfig is a wss:// client's. Default: the system's roots and the
	// URL's host as ServerName.
	TLSConfig *tls.Config

	takeovers atomic.Int64 // connections holding a context takeover
}

// Errors OnClose reports, and those methods return.
var (
	// ErrClosed is returned by a write on a connection that sent or got
	// its Close frame, or is gone.
	ErrClosed = errors.New("websocket: connection closed")
	// ErrPongTimeout: the peer said nothing within PongTimeout after a Ping.
	ErrPongTimeout = errors.New("websocket: no answer to a ping")
	// ErrCloseTimeout: the peer did not answer a Close frame within
	// CloseTimeout.
	ErrCloseTimeout = errors.New("websocket: no answer to a close")
	// ErrHandshakeTimeout: the opening handshake did not end within
	// HandshakeTimeout.
	ErrHandshakeTimeout = errors.New("websocket: handshake timed out")
)

var defaultOptions Options

func orDefault(o *Options) *Options {
	if o == nil {
		return &defaultOptions
	}
	return o
}

func durationOr(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}

func (o *Options) pingInterval() time.Duration { return durationOr(o.PingInterval, 30*time.Second) }
func (o *Options) pongTimeout() time.Duration  { return durationOr(o.PongTimeout, 30*time.Second) }
func (o *Options) closeTimeout() time.Duration { return durationOr(o.CloseTimeout, 5*time.Second) }
func (o *Options) handshakeTimeout() time.Duration {
	return durationOr(o.HandshakeTimeout, 10*time.Second)
}

func (o *Options) compressMin() int {
	switch {
	case o.CompressMin == 0:
		return 64
	case o.CompressMin < 0:
		return 0
	}
	return o.CompressMin
}

func (o *Options) maxTakeover() int64 {
	if o.MaxContextTakeover == 0 {
		return 1024
	}
	return int64(max(o.MaxContextTakeover, 0))
}

// checkOrigin is CheckOrigin's default: no Origin, or the same host.
func checkOrigin(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	u, err := url.Parse(origin)
	return err == nil && strings.EqualFold(u.Host, r.Host)
}

// negotiate agrees permessage-deflate for a server connection from the
// request's offers, bounding the connections with a context takeover.
// It returns the response's extension element ("" for none).
func (o *Options) negotiate(ws *Conn, h http.Header) string {
	if !o.Compression {
		return ""
	}
	offers := ParseDeflateOffers(h)
	if len(offers) == 0 {
		return ""
	}
	cfg := o.Deflate
	takeover := cfg.ClientContextTakeover || cfg.ServerContextTakeover
	if takeover && o.takeovers.Add(1) > o.maxTakeover() {
		o.takeovers.Add(-1)
		cfg.ClientContextTakeover, cfg.ServerContextTakeover, takeover = false, false, false
	}
	d, ok := NegotiateDeflate(offers, cfg)
	if takeover && (!ok || !d.ClientTakeover && !d.ServerTakeover) {
		o.takeovers.Add(-1) // the client declined it
		takeover = false
	}
	if !ok {
		return ""
	}
	if takeover {
		ws.extra().takeover = true
	}
	ws.setDeflate(d.ServerInflater(), d.ServerDeflater(o.CompressionLevel))
	return d.Response.String()
}
