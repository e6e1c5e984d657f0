package loop

import (
	"errors"
	"net"
	"strings"
	"testing"
)

// TestPortInUse: a port another server holds, even one listening with
// SO_REUSEPORT on several loops as this Server would, fails Start with
// EADDRINUSE and says so, whatever the loop count and network; it is
// never silently shared. UDP alike.
func TestPortInUse(t *testing.T) {
	for _, network := range []string{"tcp", "udp"} {
		holder := startServer(t, echoHandler{}, Options{Loops: 2}, network, "127.0.0.1:0")
		taken := holder.Addrs()[0].String()
		for _, loops := range []int{1, 2, 3} {
			s := NewServer(echoHandler{}, Options{Loops: loops})
			if err := s.Listen(network, taken); err != nil {
				t.Fatal(err)
			}
			err := s.Start()
			if err == nil {
				s.Stop(t.Context())
				t.Fatalf("%s with %d loops started on %s, which another server holds", network, loops, taken)
			}
			if !errors.Is(err, errAddrInUse) || !strings.Contains(err.Error(), taken) {
				t.Errorf("%s with %d loops: %v, want EADDRINUSE naming %s", network, loops, err, taken)
			}
		}
	}
	// Free ports still serve on every loop, and port 0 picks one.
	s := startServer(t, echoHandler{}, Options{Loops: 2}, "tcp", "127.0.0.1:0")
	c, err := net.Dial("tcp", s.Addrs()[0].String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	roundTrip(t, c, []byte("on a port of its own"))
}
