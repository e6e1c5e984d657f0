package loop

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"

	"github.com/iomux/iomux"
	"github.com/iomux/iomux/internal/sock"
)

// PacketHandler is implemented by a Handler that serves UDP addresses
// (Listen "udp", "udp4", "udp6").
type PacketHandler interface {
	// OnPacket runs on the socket's loop for each datagram received: data
	// (valid until OnPacket returns; copy what you keep) came from from.
	// Reply with pc.WriteTo.
	OnPacket(pc *PacketConn, data []byte, from netip.AddrPort)
}

// PacketConn is a UDP socket served by a loop: one per loop and Listen
// address where the OS balances datagrams over sockets (SO_REUSEPORT on
// Linux), else one on the first loop. Its methods are for its loop.
type PacketConn struct {
	loop  *Loop
	fd    int
	local net.Addr
	h     PacketHandler
}

// ErrPacketClosed is returned by WriteTo on a PacketConn that has closed
// (the Server stopped).
var ErrPacketClosed = errors.New("loop: packet socket closed")

// maxPacketsPerWake bounds the datagrams read per readiness report, so one
// busy UDP socket cannot starve the loop's connections.
const maxPacketsPerWake = 16

// Loop returns the loop that owns the socket.
func (pc *PacketConn) Loop() *Loop { return pc.loop }

// LocalAddr returns the address the socket is bound to (a *net.UDPAddr).
func (pc *PacketConn) LocalAddr() net.Addr { return pc.local }

// WriteTo sends p as one datagram to to. It never blocks: a datagram the
// socket has no room for is an error (EAGAIN), as UDP may drop it anyway.
func (pc *PacketConn) WriteTo(p []byte, to netip.AddrPort) (int, error) {
	if pc.fd < 0 {
		return 0, ErrPacketClosed
	}
	if err := sock.SendTo(pc.fd, p, to); err != nil {
		return 0, err
	}
	pc.loop.stats.BytesOut.Add(int64(len(p)))
	return len(p), nil
}

// addPacketConn registers a bound UDP socket on its loop (before the loop
// runs).
func (l *Loop) addPacketConn(fd int, local net.Addr) error {
	pc := &PacketConn{loop: l, fd: fd, local: local, h: l.srv.handler.(PacketHandler)}
	l.packets = append(l.packets, pc)
	if err := l.register(fd, iomux.Readable, pc); err != nil {
		return fmt.Errorf("register udp socket: %w", err)
	}
	return nil
}

// readPackets hands each waiting datagram to OnPacket.
func (pc *PacketConn) readPackets() {
	l := pc.loop
	defer l.recovered(nil)
	for range maxPacketsPerWake {
		n, from, err := sock.RecvFrom(pc.fd, l.buf)
		if err != nil {
			if !sock.WouldBlock(err) {
				l.srv.warn(l, "udp", "loop: recvfrom failed", "err", os.NewSyscallError("recvfrom", err))
			}
			return
		}
		l.stats.BytesIn.Add(int64(n))
		data := l.buf[:n:n]
		if l.observe != nil {
			l.observe(Event{Kind: EventRead, Loop: l, Packet: pc, From: from, Data: data})
		}
		pc.h.OnPacket(pc, data, from)
		if pc.fd < 0 {
			return
		}
	}
}

func (pc *PacketConn) close() {
	if pc.fd < 0 {
		return
	}
	_ = pc.loop.unregister(pc.fd)
	sock.Close(pc.fd)
	pc.fd = -1
}
