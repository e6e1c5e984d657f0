package websocket

import (
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"net/http"
	"strings"
)

// HandshakeError is an opening handshake refused: for a server, the HTTP
// status to answer (with Header's fields, such as Sec-WebSocket-Version
// after a 426); for a client, a response it cannot accept (Status 0).
type HandshakeError struct {
	Status int
	Reason string
	Header http.Header
}

func (e *HandshakeError) Error() string { return "websocket: handshake: " + e.Reason }

// acceptGUID is RFC 6455's magic string (section 1.3).
const acceptGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

// AcceptKey returns the Sec-WebSocket-Accept value for a client's
// Sec-WebSocket-Key.
func AcceptKey(key string) string {
	h := sha1.Sum([]byte(key + acceptGUID))
	return base64.StdEncoding.EncodeToString(h[:])
}

// CheckRequest validates a client's opening handshake (RFC 6455 section
// 4.2.1) and returns its Sec-WebSocket-Key: GET, HTTP/1.1 or later, an
// Upgrade field with the websocket token, a Connection field with the
// upgrade token, Sec-WebSocket-Version 13 (else 426 with the version the
// server speaks), a key that is 16 bytes in base64 (else 400). A refusal
// is a *HandshakeError with the status to answer.
func CheckRequest(r *http.Request) (key string, err error) {
	bad := func(status int, reason string) (string, error) {
		return "", &HandshakeError{Status: status, Reason: reason}
	}
	switch {
	case r.Method != http.MethodGet:
		return bad(http.StatusMethodNotAllowed, "method is not GET")
	case !r.ProtoAtLeast(1, 1):
		return bad(http.StatusBadRequest, "HTTP version is below 1.1")
	case !headerHasToken(r.Header, "Upgrade", "websocket"):
		return bad(http.StatusBadRequest, "no websocket token in Upgrade")
	case !headerHasToken(r.Header, "Connection", "upgrade"):
		return bad(http.StatusBadRequest, "no upgrade token in Connection")
	}
	if v := r.Header.Values("Sec-WebSocket-Version"); len(v) != 1 || strings.TrimSpace(v[0]) != "13" {
		return "", &HandshakeError{Status: http.StatusUpgradeRequired, Reason: "Sec-WebSocket-Version is not 13",
			Header: http.Header{"Sec-Websocket-Version": {"13"}}}
	}
	keys := r.Header.Values("Sec-WebSocket-Key")
	if len(keys) != 1 {
		return bad(http.StatusBadRequest, "not one Sec-WebSocket-Key")
	}
	key = strings.TrimSpace(keys[0])
	if b, err := base64.StdEncoding.DecodeString(key); err != nil || len(b) != 16 {
		return bad(http.StatusBadRequest, "Sec-WebSocket-Key is not 16 bytes in base64")
	}
	return key, nil
}

// headerHasToken reports whether a field named name lists token,
// comma-separated, ignoring ASCII case.
func headerHasToken(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for _, t := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

// Subprotocols returns the subprotocols a client's request offers
// (Sec-WebSocket-Protocol), in its order of preference.
func Subprotocols(r *http.Request) []string {
	var out []string
	for _, v := range r.Header.Values("Sec-WebSocket-Protocol") {
		for _, p := range strings.Split(v, ",") {
			if p = strings.TrimSpace(p); p != "" {
				out = append(out, p)
			}
		}
	}
	return out
}

// ChooseSubprotocol returns the first subprotocol of the client's offer
// the server supports, or "" (the handshake then goes on without one).
func ChooseSubprotocol(r *http.Request, supported []string) string {
	for _, p := range Subprotocols(r) {
		for _, s := range supported {
			if p == s {
				return p
			}
		}
	}
	return ""
}

// ResponseHeader returns the fields of the 101 Switching Protocols answer
// to a request with key: Upgrade, Connection, Sec-WebSocket-Accept, and
// Sec-WebSocket-Protocol and Sec-WebSocket-Extensions when not empty.
func ResponseHeader(key, subprotocol, extensions string) http.Header {
	h := make(http.Header, 5)
	setResponseHeader(h, key, subprotocol, extensions)
	return h
}

// setResponseHeader sets ResponseHeader's fields in h (Upgrade sets them
// in the response's own header, with no map between).
func setResponseHeader(h http.Header, key, subprotocol, extensions string) {
	h["Upgrade"] = []string{"websocket"}
	h["Connection"] = []string{"Upgrade"}
	h["Sec-Websocket-Accept"] = []string{AcceptKey(key)}
	if subprotocol != "" {
		h["Sec-Websocket-Protocol"] = []string{subprotocol}
	}
	if extensions != "" {
		h["Sec-Websocket-Extensions"] = []string{extensions}
	}
}

// AppendResponse appends the whole 101 response for a server that writes
// raw bytes (a plain loop server): status line, ResponseHeader's fields,
// empty line.
func AppendResponse(dst []byte, key, subprotocol, extensions string) []byte {
	dst = append(dst, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: "...)
	dst = append(dst, AcceptKey(key)...)
	if subprotocol != "" {
		dst = append(append(dst, "\r\nSec-WebSocket-Protocol: "...), subprotocol...)
	}
	if extensions != "" {
		dst = append(append(dst, "\r\nSec-WebSocket-Extensions: "...), extensions...)
	}
	return append(dst, "\r\n\r\n"...)
}

// NewKey returns a fresh Sec-WebSocket-Key for a client: 16 random bytes
// in base64.
func NewKey() string {
	var b [16]byte
	rand.Read(b[:])
	return base64.StdEncoding.EncodeToString(b[:])
}

// CheckResponse validates a server's answer to a client's opening
// handshake sent with key and offering protocols (RFC 6455 section 4.1):
// 101, Upgrade websocket, Connection upgrade, the right
// Sec-WebSocket-Accept, and a subprotocol, if any, among those offered. It
// returns the subprotocol. Extensions are AcceptDeflateResponse's to check.
func CheckResponse(resp *http.Response, key string, protocols []string) (subprotocol string, err error) {
	bad := func(reason string) (string, error) { return "", &HandshakeError{Reason: reason} }
	switch {
	case resp.StatusCode != http.StatusSwitchingProtocols:
		return bad("status " + resp.Status + ", not 101")
	case !headerHasToken(resp.Header, "Upgrade", "websocket"):
		return bad("no websocket token in Upgrade")
	case !headerHasToken(resp.Header, "Connection", "upgrade"):
		return bad("no upgrade token in Connection")
	case resp.Header.Get("Sec-WebSocket-Accept") != AcceptKey(key):
		return bad("wrong Sec-WebSocket-Accept")
	}
	subprotocol = resp.Header.Get("Sec-WebSocket-Protocol")
	if subprotocol == "" {
		return "", nil
	}
	for _, p := range protocols {
		if p == subprotocol {
			return subprotocol, nil
		}
	}
	return bad("subprotocol " + subprotocol + " was not offered")
}
