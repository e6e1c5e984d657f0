package loop

import (
	"net"

	"golang.org/x/sys/unix"
)

// peerAddr is a connection's remote IP address and port, kept inline in the
// Conn: RemoteAddr works for the whole life of the connection (OnClose too)
// without a heap allocation per connection.
// IPv4 addresses are stored IPv4-mapped, as net.IP does; port 0 means none
// (a Unix socket): 18 bytes, which keep the Conn in a smaller size class.
type peerAddr struct {
	ip   [16]byte
	port uint16
}

func peerOf(sa unix.Sockaddr) peerAddr {
	switch a := sa.(type) {
	case *unix.SockaddrInet4:
		return peer4(a.Addr, a.Port)
	case *unix.SockaddrInet6:
		return peerAddr{ip: a.Addr, port: uint16(a.Port)}
	}
	return peerAddr{}
}

func peer4(ip [4]byte, port int) peerAddr {
	p := peerAddr{port: uint16(port)}
	p.ip[10], p.ip[11] = 0xff, 0xff
	copy(p.ip[12:], ip[:])
	return p
}

// addr returns the address as a *net.TCPAddr, nil if there is none.
func (p *peerAddr) addr() net.Addr {
	if p.port == 0 {
		return nil
	}
	return &net.TCPAddr{IP: append(net.IP(nil), p.ip[:]...), Port: int(p.port)}
}
