package loop

import (
	"net"

	"golang.org/x/sys/unix"
)

// peerAddr is a connection's remote IP address and port, kept inline in the
// Conn: RemoteAddr works for the whole life of the connection (OnClose too)
// without a heap allocation per connection.
type peerAddr struct {
	ip     [16]byte
	port   uint16
	family uint8 // 0 (none: a Unix socket), 4 or 6
}

func peerOf(sa unix.Sockaddr) peerAddr {
	var p peerAddr
	switch a := sa.(type) {
	case *unix.SockaddrInet4:
		copy(p.ip[:], a.Addr[:])
		p.port, p.family = uint16(a.Port), 4
	case *unix.SockaddrInet6:
		p.ip = a.Addr
		p.port, p.family = uint16(a.Port), 6
	}
	return p
}

// addr returns the address as a *net.TCPAddr, nil if there is none.
func (p *peerAddr) addr() net.Addr {
	switch p.family {
	case 4:
		return &net.TCPAddr{IP: net.IPv4(p.ip[0], p.ip[1], p.ip[2], p.ip[3]), Port: int(p.port)}
	case 6:
		return &net.TCPAddr{IP: append(net.IP(nil), p.ip[:]...), Port: int(p.port)}
	}
	return nil
}
