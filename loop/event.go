package loop

import (
	"net/netip"
	"strconv"
)

// EventKind says what an Event reports.
type EventKind uint8

// The events a loop reports to Options.Observe, in the order they happen
// to a connection: Open, then Read and Write (with Drain each time the
// output queue empties), EOF if the peer shuts down its side, Close.
const (
	// EventWait: the loop is about to wait for readiness.
	EventWait EventKind = iota + 1
	// EventIdle: a Wait of Options.WaitTimeout found nothing to do;
	// Handler.OnWaitTimeout runs next.
	EventIdle
	// EventOpen: a connection was accepted or dialed; OnOpen runs next.
	EventOpen
	// EventRead: Data was read from the socket (a datagram's, for a
	// PacketConn); OnData or OnPacket runs next.
	EventRead
	// EventWrite: Data was written to the socket.
	EventWrite
	// EventDrain: everything the connection had to send is sent.
	EventDrain
	// EventEOF: the peer shut down its writing half; OnEOF runs next.
	EventEOF
	// EventClose: the connection is closed, for the reason Err (nil: by
	// us or after a clean EOF); OnClose runs next.
	EventClose
	// EventHandshakeFailed: a TLS connection's handshake failed, timed
	// out or was cut short (Err says which); it is closed, with no OnOpen
	// and no OnClose.
	EventHandshakeFailed
)

var eventNames = [...]string{
	EventWait: "wait", EventIdle: "idle", EventOpen: "open", EventRead: "read",
	EventWrite: "write", EventDrain: "drain", EventEOF: "eof", EventClose: "close",
	EventHandshakeFailed: "handshake-failed",
}

// String names the kind: "wait", "read", and so on.
func (k EventKind) String() string {
	if int(k) < len(eventNames) && eventNames[k] != "" {
		return eventNames[k]
	}
	return "EventKind(" + strconv.Itoa(int(k)) + ")"
}

// Event is one thing that happened on a loop, as Options.Observe sees it.
// Data is the loop's own buffer or the caller's: valid only during the
// Observe call. Data is what crossed the socket: with a Transport, its
// wire form.
type Event struct {
	Kind   EventKind
	Loop   *Loop
	Conn   *Conn          // the connection, for Open to Close; nil for a datagram
	Packet *PacketConn    // a datagram's socket (EventRead), else nil
	From   netip.AddrPort // a datagram's sender
	Data   []byte         // EventRead, EventWrite
	Err    error          // EventClose
}
