package loop

import (
	"bytes"
	"context"
	"io"
	"net"
	"testing"
	"time"
)

type echoHandler struct{ BaseHandler }

func (echoHandler) OnData(c *Conn) { c.Write(c.Next(-1)) }

func startServer(t testing.TB, h Handler, opts Options, network, addr string) *Server {
	t.Helper()
	s := NewServer(h, opts)
	if err := s.Listen(network, addr); err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.Stop(ctx); err != nil {
			t.Errorf("Stop: %v", err)
		}
	})
	return s
}

func TestEchoSmoke(t *testing.T) {
	s := startServer(t, echoHandler{}, Options{Loops: 2}, "tcp", "127.0.0.1:0")
	c, err := net.Dial("tcp", s.Addrs()[0].String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	msg := []byte("This is the message. ")
	c.Write(msg)
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(c, got); err != nil || !bytes.Equal(got, msg) {
		t.Fatalf("got %q, %v", got, err)
	}
}
