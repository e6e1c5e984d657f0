// Package sock is the one place where iomux's event loop, its programs and
// its load generator make socket system calls: resolving an address,
// opening, binding, accepting and connecting non-blocking sockets, reading
// and writing them, and setting their options. The OS-neutral part is in
// this file; each OS family has its own file beside it (sock_unix.go, with
// sock_linux.go and sock_bsd.go for what differs between Unix systems, and
// sock_windows.go for Winsock).
//
// Descriptors are plain ints, as iomux.Selector takes them (on Windows, a
// SOCKET handle's value). Errors are the
// OS's, wrapped with the call that failed (os.NewSyscallError); WouldBlock,
// Interrupted and OutOfFiles classify the ones callers branch on.
package sock

import (
	"fmt"
	"net"
	"net/netip"
	"strconv"
)

// Endpoint is a resolved socket address: the family, the socket type and
// the address that socket, bind and connect take.
type Endpoint struct {
	network string // as given to Resolve
	family  int
	sotype  int
	sa      sockaddr
}

// Resolve turns a network ("tcp", "tcp4", "tcp6", "udp", "udp4", "udp6" or
// "unix") and an address ("host:port", or a path for "unix"; "127.0.0.1:0"
// binds a free port) into an Endpoint. Host names are looked up with the
// net package's resolver, which may block: resolve before entering a loop.
func Resolve(network, address string) (Endpoint, error) {
	switch network {
	case "tcp", "tcp4", "tcp6", "udp", "udp4", "udp6":
		// An IP address and a numeric port, the common case (a Dial's
		// upstream): parsed here, with no resolver and no garbage; the
		// rest (names, zones, mapped addresses, errors) below.
		if ap, err := netip.ParseAddrPort(address); err == nil && ap.Addr().Zone() == "" && !ap.Addr().Is4In6() {
			a, last := ap.Addr(), network[len(network)-1]
			if a.Is4() && last != '6' || a.Is6() && last != '4' {
				return ipEndpoint(network, ap, ""), nil
			}
		}
	}
	var ip net.IP
	var port int
	var zone string
	switch network {
	case "unix":
		return unixEndpoint(address), nil
	case "tcp", "tcp4", "tcp6":
		a, err := net.ResolveTCPAddr(network, address)
		if err != nil {
			return Endpoint{}, err
		}
		ip, port, zone = a.IP, a.Port, a.Zone
	case "udp", "udp4", "udp6":
		a, err := net.ResolveUDPAddr(network, address)
		if err != nil {
			return Endpoint{}, err
		}
		ip, port, zone = a.IP, a.Port, a.Zone
	default:
		return Endpoint{}, fmt.Errorf("unknown network %q (want tcp, tcp4, tcp6, udp, udp4, udp6 or unix)", network)
	}
	// An unspecified host binds every address of the family the network
	// names; "tcp" and "udp" with no host bind IPv6 and IPv4 alike.
	v4 := network[len(network)-1] == '4'
	v6 := network[len(network)-1] == '6'
	var addr netip.Addr
	switch {
	case ip == nil && v4:
		addr = netip.IPv4Unspecified()
	case ip == nil:
		addr = netip.IPv6Unspecified()
	default:
		addr, _ = netip.AddrFromSlice(ip)
		if !v6 {
			addr = addr.Unmap()
		}
	}
	return ipEndpoint(network, netip.AddrPortFrom(addr, uint16(port)), zone), nil
}

// Network is the network the Endpoint was resolved for.
func (e Endpoint) Network() string { return e.network }

// IsUnix reports whether the Endpoint is a Unix-domain socket's path.
func (e Endpoint) IsUnix() bool { return e.network == "unix" }

// IsDatagram reports whether the Endpoint is for a UDP socket.
func (e Endpoint) IsDatagram() bool { return isDatagram(e.network) }

func unixEndpoint(path string) Endpoint {
	return Endpoint{network: "unix", family: afUnix, sotype: sockStream, sa: unixSockaddr(path)}
}

func ipEndpoint(network string, ap netip.AddrPort, zone string) Endpoint {
	e := Endpoint{network: network, family: afInet6, sotype: sockStream, sa: inetSockaddr(ap, zoneID(zone))}
	if ap.Addr().Is4() {
		e.family = afInet
	}
	if isDatagram(network) {
		e.sotype = sockDgram
	}
	return e
}

// Addr returns the Endpoint's address as the net package writes it
// (*net.TCPAddr, *net.UDPAddr or *net.UnixAddr).
func (e Endpoint) Addr() net.Addr { return toNetAddr(e.sa, e.IsDatagram()) }

// Peer returns the Endpoint's IP address and port (zero for "unix").
func (e Endpoint) Peer() Peer {
	ap, _ := addrPort(e.sa)
	return peerFrom(ap)
}

// IsIPv6 reports whether the Endpoint is an IPv6 address.
func (e Endpoint) IsIPv6() bool { return e.family == afInet6 }

// toNetAddr turns a socket address into the net.Addr the net package
// would give for it.
func toNetAddr(sa sockaddr, datagram bool) net.Addr {
	if path, ok := unixPath(sa); ok {
		return &net.UnixAddr{Name: path, Net: "unix"}
	}
	if ap, ok := addrPort(sa); ok {
		return netAddr(ap, datagram)
	}
	return nil
}

func isDatagram(network string) bool { return len(network) >= 3 && network[:3] == "udp" }

// Peer is a TCP peer's IP address and port held by value, so a connection
// can keep it inline without a heap allocation. IPv4 addresses are stored
// IPv4-mapped, as net.IP does; the zero Peer (port 0) is no address, as for
// a Unix-domain socket.
type Peer struct {
	IP   [16]byte
	Port uint16
}

func peerFrom(ap netip.AddrPort) Peer {
	return Peer{IP: ap.Addr().As16(), Port: ap.Port()}
}

// Addr returns the Peer as a *net.TCPAddr, or nil for the zero Peer.
func (p Peer) Addr() net.Addr {
	if p.Port == 0 {
		return nil
	}
	return &net.TCPAddr{IP: append(net.IP(nil), p.IP[:]...), Port: int(p.Port)}
}

// netAddr is the net.Addr of an IP address and port on a stream or
// datagram socket.
func netAddr(ap netip.AddrPort, datagram bool) net.Addr {
	ip := net.IP(ap.Addr().AsSlice())
	if datagram {
		return &net.UDPAddr{IP: ip, Port: int(ap.Port()), Zone: ap.Addr().Zone()}
	}
	return &net.TCPAddr{IP: ip, Port: int(ap.Port()), Zone: ap.Addr().Zone()}
}

// zoneID is the interface index an IPv6 zone names, by name or number (0
// for none or an unknown one).
func zoneID(zone string) uint32 {
	if zone == "" {
		return 0
	}
	if ifi, err := net.InterfaceByName(zone); err == nil {
		return uint32(ifi.Index)
	}
	id, _ := strconv.Atoi(zone)
	return uint32(id)
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
