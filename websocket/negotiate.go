package websocket

import (
	"net/http"
	"strconv"
	"strings"
)

// DeflateOffer is one permessage-deflate offer of a client, or a server's
// response, with its parameters (RFC 7692 section 7.1).
type DeflateOffer struct {
	ServerNoContextTakeover bool
	ClientNoContextTakeover bool
	// ServerMaxWindowBits is 8 to 15, or 0 when absent.
	ServerMaxWindowBits int
	// ClientMaxWindowBits is 8 to 15, 0 when absent, or -1 when present
	// without a value (the client could honour one in the response).
	ClientMaxWindowBits int
}

// String formats o as a Sec-WebSocket-Extensions element.
func (o DeflateOffer) String() string {
	s := "permessage-deflate"
	if o.ServerNoContextTakeover {
		s += "; server_no_context_takeover"
	}
	if o.ClientNoContextTakeover {
		s += "; client_no_context_takeover"
	}
	if o.ServerMaxWindowBits > 0 {
		s += "; server_max_window_bits=" + strconv.Itoa(o.ServerMaxWindowBits)
	}
	switch {
	case o.ClientMaxWindowBits > 0:
		s += "; client_max_window_bits=" + strconv.Itoa(o.ClientMaxWindowBits)
	case o.ClientMaxWindowBits < 0:
		s += "; client_max_window_bits"
	}
	return s
}

// ParseDeflateOffers returns the well-formed permessage-deflate offers of
// a request's Sec-WebSocket-Extensions fields, in the client's order of
// preference. An offer with an unknown parameter, a parameter twice, or a
// bad value is left out: that declines the offer, it never fails the
// handshake (RFC 7692 section 5).
func ParseDeflateOffers(h http.Header) []DeflateOffer {
	var offers []DeflateOffer
	for _, v := range h.Values("Sec-WebSocket-Extensions") {
		for _, ext := range splitOutsideQuotes(v, ',') {
			if o, ok := parseDeflate(ext); ok {
				offers = append(offers, o)
			}
		}
	}
	return offers
}

// parseDeflate reads one extension element; ok is false if it is not a
// well-formed permessage-deflate one.
func parseDeflate(ext string) (o DeflateOffer, ok bool) {
	params := splitOutsideQuotes(ext, ';')
	if !strings.EqualFold(strings.TrimSpace(params[0]), "permessage-deflate") {
		return o, false
	}
	seen := map[string]bool{}
	for _, p := range params[1:] {
		name, value, hasValue := strings.Cut(p, "=")
		name = strings.ToLower(strings.TrimSpace(name))
		value = strings.TrimSpace(value)
		if hasValue && len(value) >= 2 && value[0] == '"' && value[len(value)-1] == '"' {
			value = value[1 : len(value)-1] // RFC 6455's quoted-string form
		}
		if seen[name] {
			return o, false
		}
		seen[name] = true
		switch name {
		case "server_no_context_takeover":
			o.ServerNoContextTakeover = true
		case "client_no_context_takeover":
			o.ClientNoContextTakeover = true
		case "server_max_window_bits":
			if o.ServerMaxWindowBits, ok = windowBits(value); !ok || !hasValue {
				return o, false
			}
		case "client_max_window_bits":
			o.ClientMaxWindowBits = -1
			if hasValue {
				if o.ClientMaxWindowBits, ok = windowBits(value); !ok {
					return o, false
				}
			}
		default:
			return o, false
		}
		if hasValue && (name == "server_no_context_takeover" || name == "client_no_context_takeover") {
			return o, false
		}
	}
	return o, true
}

// windowBits reads a *_max_window_bits value: 8 to 15, no leading zeros.
func windowBits(v string) (int, bool) {
	if len(v) == 0 || len(v) > 2 || v[0] == '0' {
		return 0, false
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 8 || n > 15 {
		return 0, false
	}
	return n, true
}

func splitOutsideQuotes(s string, sep byte) []string {
	var parts []string
	quoted, start := false, 0
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] == '"':
			quoted = !quoted
		case s[i] == '\\' && quoted:
			i++
		case s[i] == sep && !quoted:
			parts = append(parts, s[start:i])
			start = i + 1
		}
	}
	return append(parts, s[start:])
}

// DeflateConfig is a server's policy for permessage-deflate. Its zero
// value accepts the extension without any per-connection compression
// state: the server compresses each message afresh (answering
// server_no_context_takeover) and asks clients to do the same
// (client_no_context_takeover).
type DeflateConfig struct {
	// ClientContextTakeover lets clients compress against their earlier
	// messages, which costs the server the client's window, up to 32 KiB,
	// per connection for its life. A server bounds the total by setting
	// it only while fewer than its limit of connections hold a window
	// (a counter of its own), answering client_no_context_takeover to
	// the rest.
	ClientContextTakeover bool
	// ClientMaxWindowBits (9 to 15; 0 for none) asks clients that offer
	// client_max_window_bits to use at most that window: smaller windows
	// for a server that keeps them.
	ClientMaxWindowBits int
	// ServerContextTakeover keeps a compressor per connection, about
	// 800 KiB to 1.2 MiB (see Deflater), for better compression of
	// similar messages; off, a pool of compressors serves all
	// connections, and a broadcast is compressed once for all (Prepared).
	ServerContextTakeover bool
}

// Deflate is what a negotiation agreed for a connection: the extension's
// response element, and the parameters each side's Inflater and Deflater
// are made with (Inflater and Deflater, for the side that has them).
type Deflate struct {
	Response DeflateOffer
	// The side's own compressor and the peer's.
	ServerTakeover, ClientTakeover     bool
	ServerWindowBits, ClientWindowBits int
}

// NegotiateDeflate chooses the first of the client's offers the server
// can accept under cfg; ok is false when there is none (the server then
// answers without the extension). Offers that ask the server for a window
// below 32 KiB (server_max_window_bits < 15) are declined: Go's
// compress/flate always compresses with a 32 KiB window.
func NegotiateDeflate(offers []DeflateOffer, cfg DeflateConfig) (d Deflate, ok bool) {
	for _, o := range offers {
		if o.ServerMaxWindowBits > 0 && o.ServerMaxWindowBits < 15 {
			continue
		}
		r := DeflateOffer{ServerMaxWindowBits: o.ServerMaxWindowBits}
		r.ServerNoContextTakeover = o.ServerNoContextTakeover || !cfg.ServerContextTakeover
		r.ClientNoContextTakeover = o.ClientNoContextTakeover || !cfg.ClientContextTakeover
		clientBits := 15
		if o.ClientMaxWindowBits > 0 {
			clientBits = o.ClientMaxWindowBits
		}
		if o.ClientMaxWindowBits != 0 && cfg.ClientMaxWindowBits > 0 {
			clientBits = min(clientBits, max(cfg.ClientMaxWindowBits, 9))
			r.ClientMaxWindowBits = clientBits
		}
		return Deflate{
			Response:         r,
			ServerTakeover:   !r.ServerNoContextTakeover,
			ClientTakeover:   !r.ClientNoContextTakeover,
			ServerWindowBits: 15,
			ClientWindowBits: clientBits,
		}, true
	}
	return Deflate{}, false
}

// ServerInflater and ServerDeflater make a server connection's
// decompressor and compressor for d (level: compress/flate's, 0 for
// BestSpeed).
func (d Deflate) ServerInflater() *Inflater { return NewInflater(d.ClientTakeover, d.ClientWindowBits) }

func (d Deflate) ServerDeflater(level int) *Deflater { return NewDeflater(level, d.ServerTakeover) }

// ClientInflater and ClientDeflater make a client connection's.
func (d Deflate) ClientInflater() *Inflater { return NewInflater(d.ServerTakeover, d.ServerWindowBits) }

func (d Deflate) ClientDeflater(level int) *Deflater { return NewDeflater(level, d.ClientTakeover) }

// ClientOffer is the offer a client of this package sends: permessage-
// deflate with client_max_window_bits left out (compress/flate cannot
// honour a smaller window the server might ask for).
const ClientOffer = "permessage-deflate"

// AcceptDeflateResponse checks a server's Sec-WebSocket-Extensions answer
// to ClientOffer: nothing (ok false: no compression), or one well-formed
// permessage-deflate element without client_max_window_bits; anything
// else fails the connection (RFC 7692 section 5).
func AcceptDeflateResponse(h http.Header) (d Deflate, ok bool, err error) {
	vals := h.Values("Sec-WebSocket-Extensions")
	var elems []string
	for _, v := range vals {
		for _, e := range splitOutsideQuotes(v, ',') {
			if strings.TrimSpace(e) != "" {
				elems = append(elems, e)
			}
		}
	}
	if len(elems) == 0 {
		return d, false, nil
	}
	o, good := parseDeflate(elems[0])
	if len(elems) > 1 || !good || o.ClientMaxWindowBits != 0 {
		return d, false, &HandshakeError{Reason: "server answered an extension not offered: " + strings.Join(vals, ", ")}
	}
	serverBits := 15
	if o.ServerMaxWindowBits > 0 {
		serverBits = o.ServerMaxWindowBits
	}
	return Deflate{
		Response:         o,
		ServerTakeover:   !o.ServerNoContextTakeover,
		ClientTakeover:   !o.ClientNoContextTakeover,
		ServerWindowBits: serverBits,
		ClientWindowBits: 15,
	}, true, nil
}
