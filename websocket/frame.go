package websocket

import (
	"fmt"
	"strconv"
)

// Opcode is a frame's kind (RFC 6455 section 5.2).
type Opcode uint8

// The opcodes RFC 6455 defines; the others are reserved and refused.
const (
	OpContinuation Opcode = 0x0
	OpText         Opcode = 0x1
	OpBinary       Opcode = 0x2
	OpClose        Opcode = 0x8
	OpPing         Opcode = 0x9
	OpPong         Opcode = 0xA
)

// Control reports whether o is a control frame's opcode (close, ping,
// pong, or a reserved one from 0xB on).
func (o Opcode) Control() bool { return o&0x8 != 0 }

func (o Opcode) known() bool { return o <= OpBinary || (o >= OpClose && o <= OpPong) }

func (o Opcode) String() string {
	switch o {
	case OpContinuation:
		return "continuation"
	case OpText:
		return "text"
	case OpBinary:
		return "binary"
	case OpClose:
		return "close"
	case OpPing:
		return "ping"
	case OpPong:
		return "pong"
	}
	return "opcode(" + strconv.Itoa(int(o)) + ")"
}

// MaxControlPayload is the longest payload of a control frame (RFC 6455
// section 5.5): a longer one is a protocol error.
const MaxControlPayload = 125

// MaxHeaderLen is the longest frame header: 2 bytes, an 8-byte length, a
// 4-byte masking key.
const MaxHeaderLen = 14

// Header is a frame's header as it travels (RFC 6455 section 5.2).
type Header struct {
	Fin        bool   // the message's last frame
	Compressed bool   // RSV1: the message is compressed (permessage-deflate), on its first frame only
	Opcode     Opcode // the frame's own opcode: OpContinuation for a message's later frames
	Length     int64  // the payload's length in bytes
	Masked     bool   // the payload is masked with Mask: every client frame, no server frame
	Mask       [4]byte
}

// Role is the side of a connection a reader or writer is for: a Server
// reads masked frames and writes unmasked ones; a Client the reverse.
type Role uint8

const (
	Server Role = iota
	Client
)

// CloseCode is the status code of a Close frame (RFC 6455 section 7.4).
type CloseCode uint16

// The close codes RFC 6455 section 7.4.1 defines (and 1012–1014, IANA's).
// NoStatus, Abnormal and TLSHandshake are never sent: they report a Close
// frame without a code, a connection that ended without a Close frame, and
// a failed TLS handshake.
const (
	CloseNormal          CloseCode = 1000
	CloseGoingAway       CloseCode = 1001
	CloseProtocolError   CloseCode = 1002
	CloseUnsupportedData CloseCode = 1003
	CloseNoStatus        CloseCode = 1005
	CloseAbnormal        CloseCode = 1006
	CloseInvalidPayload  CloseCode = 1007
	ClosePolicyViolation CloseCode = 1008
	CloseMessageTooBig   CloseCode = 1009
	CloseMandatoryExt    CloseCode = 1010
	CloseInternalError   CloseCode = 1011
	CloseServiceRestart  CloseCode = 1012
	CloseTryAgainLater   CloseCode = 1013
	CloseBadGateway      CloseCode = 1014
	CloseTLSHandshake    CloseCode = 1015
)

// Sendable reports whether a Close frame may carry c: 1000–1003,
// 1007–1014, and 3000–4999 (registered and private codes). 1004 is
// reserved, 1005, 1006 and 1015 are never sent, the rest unassigned.
func (c CloseCode) Sendable() bool {
	switch {
	case c >= 1000 && c <= 1003, c >= 1007 && c <= 1014:
		return true
	case c >= 3000 && c <= 4999:
		return true
	}
	return false
}

// CloseError is a connection the peer broke a rule on: the Close frame to
// answer with (its code and a short reason), after which the connection
// closes (RFC 6455 section 7.1.7, "Fail the WebSocket Connection").
type CloseError struct {
	Code   CloseCode
	Reason string
}

func (e *CloseError) Error() string {
	return fmt.Sprintf("websocket: close %d: %s", e.Code, e.Reason)
}

func protocolError(reason string) *CloseError {
	return &CloseError{Code: CloseProtocolError, Reason: reason}
}

func tooBig(reason string) *CloseError {
	return &CloseError{Code: CloseMessageTooBig, Reason: reason}
}

func invalidPayload(reason string) *CloseError {
	return &CloseError{Code: CloseInvalidPayload, Reason: reason}
}
