package main

import (
	"bytes"
	"io"
	"net"
	"testing"
	"time"
)

// listen starts a listener on an ephemeral port, closed by the test's end.
func listen(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln
}

// TestRelayHalfClose: what the client sends reaches the upstream, the
// client's half-close reaches it as EOF, and what the upstream sends after
// that (here: everything it read, then its own close) comes back whole.
func TestRelayHalfClose(t *testing.T) {
	up := listen(t)
	go func() {
		for {
			c, err := up.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				b, _ := io.ReadAll(c) // until the client's FIN, relayed
				c.Write(b)
			}()
		}
	}()
	proxy := listen(t)
	go serve(proxy, up.Addr().String())

	want := bytes.Repeat([]byte("0123456789abcdef"), 64<<10) // 1 MiB, past any socket buffer
	c, err := net.Dial("tcp", proxy.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	go func() {
		c.Write(want)
		c.(*net.TCPConn).CloseWrite()
	}()
	got, err := io.ReadAll(c)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("got %d bytes back, want the %d sent", len(got), len(want))
	}
}

// TestRelayUpstreamDown: a client whose upstream cannot be reached is
// closed, not left waiting.
func TestRelayUpstreamDown(t *testing.T) {
	gone := listen(t)
	addr := gone.Addr().String()
	gone.Close()
	proxy := listen(t)
	go serve(proxy, addr)

	c, err := net.Dial("tcp", proxy.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if n, err := c.Read(make([]byte, 1)); err == nil {
		t.Fatalf("read %d bytes, want the connection closed", n)
	} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatal("the client was left open")
	}
}
