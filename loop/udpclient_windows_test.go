package loop

import (
	"net"
	"net/netip"
	"os"
	"testing"
	"time"

	"github.com/iomux/iomux/internal/sock"
)

// dialUDP is the tests' UDP client. On Windows it is a socket of
// internal/sock, not the net package's: under Wine 8 every UDP socket of
// the net package fails (it requires SIO_UDP_CONNRESET, which Wine lacks).
func dialUDP(t *testing.T, network, address string) net.Conn {
	t.Helper()
	to, err := netip.ParseAddrPort(address)
	if err != nil {
		t.Fatal(err)
	}
	local := "127.0.0.1:0"
	if to.Addr().Is6() {
		local = "[::1]:0"
	}
	e, err := sock.Resolve(network, local)
	if err == nil {
		var fd int
		if fd, err = sock.Open(e); err == nil {
			if err = sock.Bind(fd, e); err == nil {
				return &udpClient{fd: fd, to: to}
			}
			sock.Close(fd)
		}
	}
	t.Fatal(err)
	return nil
}

// udpClient is a UDP socket that sends to one address and reads what
// comes back, with a read deadline (polled: it is a test's client).
type udpClient struct {
	fd       int
	to       netip.AddrPort
	deadline time.Time
}

func (c *udpClient) Write(p []byte) (int, error) {
	if err := sock.SendTo(c.fd, p, c.to); err != nil {
		return 0, err
	}
	return len(p), nil
}

func (c *udpClient) Read(p []byte) (int, error) {
	for {
		n, _, err := sock.RecvFrom(c.fd, p)
		if err == nil || !sock.WouldBlock(err) {
			return n, err
		}
		if !c.deadline.IsZero() && time.Now().After(c.deadline) {
			return 0, os.ErrDeadlineExceeded
		}
		time.Sleep(time.Millisecond)
	}
}

func (c *udpClient) Close() error                       { return sock.Close(c.fd) }
func (c *udpClient) LocalAddr() net.Addr                { return sock.LocalAddr(c.fd, true) }
func (c *udpClient) RemoteAddr() net.Addr               { return net.UDPAddrFromAddrPort(c.to) }
func (c *udpClient) SetDeadline(t time.Time) error      { return c.SetReadDeadline(t) }
func (c *udpClient) SetReadDeadline(t time.Time) error  { c.deadline = t; return nil }
func (c *udpClient) SetWriteDeadline(t time.Time) error { return nil }
