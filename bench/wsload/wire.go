package main

import (
	"bufio"
	"bytes"
	"compress/flate"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/iomux/iomux/bench/internal/wspeer"
	"github.com/iomux/iomux/websocket"
)

// The client's side of WebSocket, written out over a net.Conn (no
// library): what the load generator needs and no more, so that its cost
// per message stays small and the same whichever server it measures.

// Opcodes, as RFC 6455 numbers them.
const (
	opContinuation = 0x0
	opText         = 0x1
	opBinary       = 0x2
	opClose        = 0x8
	opPing         = 0x9
	opPong         = 0xA
)

// deflateOffer is what a browser offers (Chrome, Firefox): the server
// chooses whether to keep a compression context.
const deflateOffer = "permessage-deflate; client_max_window_bits"

// handshakeTimeout bounds a connection's dial, TLS handshake and upgrade.
const handshakeTimeout = 30 * time.Second

// errClosed is a Close frame from the server.
var errClosed = errors.New("the server sent a Close frame")

// wsConn is one client connection after its upgrade.
type wsConn struct {
	net.Conn
	r         *bufio.Reader
	extension string // Sec-WebSocket-Extensions of the 101, "" for none
	deflate   bool   // permessage-deflate agreed
	takeover  bool   // the server keeps its compression context: window is the dictionary
	window    []byte
	inflater  io.ReadCloser
	out, in   []byte // frames written, payload read: reused
	msg       bytes.Buffer
	rnd       *rand.PCG
}

// dialer opens upgraded connections to a server's /ws.
type dialer struct {
	addr    string
	tls     *tls.Config // nil for plain TCP
	deflate bool        // offer permessage-deflate
}

// dial connects, does the TLS handshake if any, and upgrades.
func (d *dialer) dial() (*wsConn, error) {
	c, err := net.DialTimeout("tcp", d.addr, handshakeTimeout)
	if err != nil {
		return nil, err
	}
	c.SetDeadline(time.Now().Add(handshakeTimeout))
	if d.tls != nil {
		tc := tls.Client(c, d.tls)
		if err := tc.Handshake(); err != nil {
			c.Close()
			return nil, fmt.Errorf("TLS handshake: %w", err)
		}
		c = tc
	}
	ws, err := d.upgrade(c)
	if err != nil {
		c.Close()
		return nil, err
	}
	c.SetDeadline(time.Time{})
	return ws, nil
}

// upgrade sends the opening handshake on c and checks the 101.
func (d *dialer) upgrade(c net.Conn) (*wsConn, error) {
	key := websocket.NewKey()
	req := "GET " + wspeer.EchoPath + " HTTP/1.1\r\nHost: " + d.addr + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: " + key + "\r\nSec-WebSocket-Version: 13\r\n"
	if d.deflate {
		req += "Sec-WebSocket-Extensions: " + deflateOffer + "\r\n"
	}
	if _, err := io.WriteString(c, req+"\r\n"); err != nil {
		return nil, err
	}
	ws := &wsConn{Conn: c, r: bufio.NewReaderSize(c, 4096), rnd: rand.NewPCG(rand.Uint64(), rand.Uint64())}
	resp, err := http.ReadResponse(ws.r, nil)
	if err != nil {
		return nil, fmt.Errorf("upgrade: %w", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSwitchingProtocols {
		return nil, fmt.Errorf("upgrade: %s", resp.Status)
	}
	if got := resp.Header.Get("Sec-WebSocket-Accept"); got != websocket.AcceptKey(key) {
		return nil, fmt.Errorf("upgrade: Sec-WebSocket-Accept %q, want %q", got, websocket.AcceptKey(key))
	}
	ws.extension = strings.Join(resp.Header.Values("Sec-WebSocket-Extensions"), ", ")
	if ws.extension != "" {
		if !d.deflate || !strings.HasPrefix(ws.extension, "permessage-deflate") {
			return nil, fmt.Errorf("upgrade: extension %q not offered", ws.extension)
		}
		ws.deflate = true
		ws.takeover = !strings.Contains(ws.extension, "server_no_context_takeover")
	}
	return ws, nil
}

// write sends p as one masked frame of op, with a fresh masking key.
func (ws *wsConn) write(op byte, p []byte) error {
	b := append(ws.out[:0], 0x80|op)
	switch n := len(p); {
	case n < 126:
		b = append(b, 0x80|byte(n))
	case n < 1<<16:
		b = append(b, 0x80|126, byte(n>>8), byte(n))
	default:
		b = append(b, 0x80|127)
		b = binary.BigEndian.AppendUint64(b, uint64(n))
	}
	var key [4]byte
	binary.LittleEndian.PutUint32(key[:], uint32(ws.rnd.Uint64()))
	b = append(b, key[:]...)
	start := len(b)
	b = append(b, p...)
	for i := range b[start:] {
		b[start+i] ^= key[i&3]
	}
	ws.out = b
	_, err := ws.Conn.Write(b)
	return err
}

// read returns the next data message, answering pings on the way; its
// payload is valid until the next read. A Close frame is errClosed.
func (ws *wsConn) read() (op byte, payload []byte, err error) {
	ws.in = ws.in[:0]
	compressed := false
	for {
		var h [2]byte
		if _, err := io.ReadFull(ws.r, h[:]); err != nil {
			return 0, nil, err
		}
		fin, rsv1, fop := h[0]&0x80 != 0, h[0]&0x40 != 0, h[0]&0x0F
		if h[1]&0x80 != 0 {
			return 0, nil, errors.New("the server masked a frame")
		}
		n := int64(h[1] & 0x7F)
		switch n {
		case 126:
			var l [2]byte
			if _, err := io.ReadFull(ws.r, l[:]); err != nil {
				return 0, nil, err
			}
			n = int64(binary.BigEndian.Uint16(l[:]))
		case 127:
			var l [8]byte
			if _, err := io.ReadFull(ws.r, l[:]); err != nil {
				return 0, nil, err
			}
			n = int64(binary.BigEndian.Uint64(l[:]))
		}
		if n > 64<<20 {
			return 0, nil, fmt.Errorf("a frame of %d bytes", n)
		}
		start := len(ws.in)
		ws.in = append(ws.in, make([]byte, n)...)
		if _, err := io.ReadFull(ws.r, ws.in[start:]); err != nil {
			return 0, nil, err
		}
		switch fop {
		case opPing:
			ctl := append([]byte(nil), ws.in[start:]...)
			ws.in = ws.in[:start]
			if err := ws.write(opPong, ctl); err != nil {
				return 0, nil, err
			}
			continue
		case opPong:
			ws.in = ws.in[:start]
			continue
		case opClose:
			return opClose, ws.in[start:], errClosed
		case opText, opBinary:
			if start != 0 {
				return 0, nil, errors.New("a data frame inside a fragmented message")
			}
			op, compressed = fop, rsv1
		case opContinuation:
			if op == 0 {
				return 0, nil, errors.New("a continuation with no message")
			}
		default:
			return 0, nil, fmt.Errorf("opcode %#x", fop)
		}
		if fin {
			break
		}
	}
	if !compressed {
		return op, ws.in, nil
	}
	if !ws.deflate {
		return 0, nil, errors.New("a compressed message without permessage-deflate")
	}
	p, err := ws.inflate(ws.in)
	return op, p, err
}

// deflateTail ends a message's deflate data (RFC 7692, 7.2.2).
var deflateTail = []byte{0x00, 0x00, 0xff, 0xff}

// inflate decompresses a message: alone, or with the server's context
// (the last 32 KiB of what it sent before) if it keeps one.
func (ws *wsConn) inflate(z []byte) ([]byte, error) {
	src := io.MultiReader(bytes.NewReader(z), bytes.NewReader(deflateTail))
	var dict []byte
	if ws.takeover {
		dict = ws.window
	}
	if ws.inflater == nil {
		ws.inflater = flate.NewReaderDict(src, dict)
	} else if err := ws.inflater.(flate.Resetter).Reset(src, dict); err != nil {
		return nil, err
	}
	ws.msg.Reset()
	if _, err := ws.msg.ReadFrom(ws.inflater); err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
		return nil, fmt.Errorf("inflate: %w", err)
	}
	p := ws.msg.Bytes()
	if ws.takeover {
		ws.window = append(ws.window, p...)
		if over := len(ws.window) - 32<<10; over > 0 {
			ws.window = append(ws.window[:0], ws.window[over:]...)
		}
	}
	return p, nil
}

// echo sends p as a message of op and checks that the next message is
// the same.
func (ws *wsConn) echo(op byte, p []byte) (mismatch bool, err error) {
	if err := ws.write(op, p); err != nil {
		return false, err
	}
	gop, got, err := ws.read()
	if err != nil {
		return false, err
	}
	return gop != op || !bytes.Equal(got, p), nil
}

// close does the close handshake: a Close 1000, the server's Close, and
// the server's end of the TCP connection (RFC 6455: the server closes
// first), waited for until deadline.
func (ws *wsConn) close(deadline time.Time) error {
	defer ws.Conn.Close()
	ws.Conn.SetDeadline(deadline)
	if err := ws.write(opClose, []byte{0x03, 0xE8}); err != nil {
		return err
	}
	for {
		_, _, err := ws.read()
		if errors.Is(err, errClosed) {
			break
		}
		if err != nil {
			return fmt.Errorf("waiting for the Close: %w", err)
		}
	}
	if _, err := ws.r.ReadByte(); err != io.EOF {
		return fmt.Errorf("after the Close: %v, not the server's EOF", err)
	}
	return nil
}
