package loop

import (
	"os"

	"golang.org/x/sys/unix"
)

// maxDatagramsPerWake bounds the datagrams read per readiness report, so
// one busy UDP socket cannot starve the loop's connections.
const maxDatagramsPerWake = 16

// readDatagrams delivers each waiting datagram to OnData, with RemoteAddr
// and Write bound to its sender.
func (c *Conn) readDatagrams() {
	l := c.loop
	for range maxDatagramsPerWake {
		n, from, err := unix.Recvfrom(c.fd, l.buf, 0)
		if err != nil {
			if err != unix.EAGAIN && err != unix.EINTR {
				l.srv.warn(l, "udp", "loop: recvfrom failed", "err", err)
			}
			return
		}
		l.stats.bytesIn.Add(int64(n))
		c.more().peer = from
		c.view = l.buf[:n]
		if l.srv.opts.Trace != nil {
			l.tracef("received %q from %s", c.view, c.RemoteAddr())
		}
		l.srv.handler.OnData(c)
		c.view, c.extra.peer = nil, nil
		if c.Closed() {
			return
		}
	}
}

// sendDatagram sends p to the sender of the datagram being handled.
func (c *Conn) sendDatagram(p []byte) (int, error) {
	peer := c.more().peer
	if peer == nil {
		return 0, os.ErrInvalid
	}
	if err := unix.Sendto(c.fd, p, 0, peer); err != nil {
		return 0, os.NewSyscallError("sendto", err)
	}
	c.loop.countOut(c, len(p))
	return len(p), nil
}
