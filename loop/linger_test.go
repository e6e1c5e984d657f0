package loop

import (
	"bytes"
	"io"
	"testing"
	"time"
)

// TestCloseLingers: a handler that answers and Closes while the client's
// input is still unread (a protocol error, a reply to the first of many
// pipelined requests) must not lose the answer to the kernel's reset:
// the client reads all of it, then EOF; the socket is closed once the
// client closes, and meanwhile Stats.Lingering counts it. With
// LingerTimeout negative, the socket is closed at once (logged: the
// kernel's reset may then cut the answer short).
func TestCloseLingers(t *testing.T) {
	reply := payload(4 << 20) // more than the socket buffers hold: most is in flight at Close
	for _, linger := range []time.Duration{0, -1} {
		h := &funcHandler{data: func(c *Conn) {
			c.Next(1) // the rest stays unread, here and in the kernel
			c.Write(reply)
			c.Close()
		}}
		s := startServer(t, h, Options{Loops: 1, LingerTimeout: linger}, "tcp", "127.0.0.1:0")
		c := dial(t, s)
		c.SetDeadline(time.Now().Add(30 * time.Second))
		if _, err := c.Write(payload(256 << 10)); err != nil { // a request and much more after it
			t.Fatal(err)
		}
		time.Sleep(100 * time.Millisecond) // the server closes while its reply is in flight
		got, err := io.ReadAll(c)
		if linger < 0 {
			t.Logf("no linger: read %d of %d bytes, then %v", len(got), len(reply), err)
			continue
		}
		if err != nil || !bytes.Equal(got, reply) {
			t.Fatalf("read %d of %d bytes (equal %v), then %v; want all of it, then EOF", len(got), len(reply), bytes.Equal(got, reply), err)
		}
		if st := s.Stats(); (st.Lingering != 1 && !underWine) || st.Open != 0 { // Wine's sockets end the linger early, their own way
			t.Errorf("Stats before the client closed: %d lingering, %d open; want 1 and 0", st.Lingering, st.Open)
		}
		c.Close()
		if st := settledWhen(t, s, func(st Stats) bool { return st.Lingering == 0 }); st.Lingering != 0 {
			t.Fatalf("the socket still lingers after the client closed")
		}
	}
}

// TestLingerTimeout: a peer that keeps its side open after the server's
// Close has its socket closed at LingerTimeout, reading what it sends
// meanwhile.
func TestLingerTimeout(t *testing.T) {
	const timeout = 200 * time.Millisecond
	closed := make(chan error, 1)
	h := &funcHandler{
		data:  func(c *Conn) { c.Close() }, // leaves the input unread: the socket lingers
		close: func(c *Conn, err error) { notify(closed, err) },
	}
	s := startServer(t, h, Options{Loops: 1, LingerTimeout: timeout}, "tcp", "127.0.0.1:0")
	c := dial(t, s)
	c.Write([]byte("hello"))
	if err := recv(t, closed, 5*time.Second, "OnClose"); err != nil {
		t.Fatalf("OnClose(%v), want nil: the Handler is done at Close", err)
	}
	start := time.Now()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 16)
	if n, err := c.Read(buf); n != 0 || err != io.EOF {
		t.Fatalf("after Close the client read %q, %v; want EOF (the FIN)", buf[:n], err)
	}
	for range 3 { // the peer still talks: read and dropped
		if _, err := c.Write([]byte("more")); err != nil {
			t.Fatalf("writing to a lingering socket: %v", err)
		}
	}
	settledWhen(t, s, func(st Stats) bool { return st.Lingering == 0 })
	if took := time.Since(start); took > timeout+lateness {
		t.Errorf("the socket lingered %v, LingerTimeout %v", took, timeout)
	}
	if st := s.Stats(); st.Lingering != 0 || st.BytesIn < int64(len("hello")+3*len("more")) { // what came while it lingered was read
		t.Errorf("Stats: %+v", st)
	}
}
