package loop

import (
	"bytes"
	"io"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestAsyncSendFile: bytes written before, the file's range by sendfile(2)
// through a slow reader's full socket, bytes written after (in done), in
// that order; the Close after them waits for all.
func TestAsyncSendFile(t *testing.T) {
	content := payload(8 << 20)
	name := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(name, content, 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	const off, n = 100, 8<<20 - 200
	results := make(chan error, 1)
	h := &funcHandler{data: func(c *Conn) {
		c.Discard(-1)
		c.Write([]byte("head:"))
		err := c.AsyncSendFile(f, off, n, func(c *Conn, err error) {
			results <- err
			c.Write([]byte(":tail"))
			c.Close()
		})
		if err != nil {
			results <- err
		}
	}}
	s := startServer(t, h, Options{Loops: 1, SocketWriteBuffer: 32 << 10}, "tcp", "127.0.0.1:0")
	nc := dial(t, s)
	nc.(*net.TCPConn).SetReadBuffer(32 << 10)
	nc.Write([]byte("go"))
	time.Sleep(100 * time.Millisecond) // the socket fills: sendfile meets EAGAIN
	nc.SetReadDeadline(time.Now().Add(20 * time.Second))
	got, err := io.ReadAll(nc)
	if err != nil {
		t.Fatal(err)
	}
	want := append(append([]byte("head:"), content[off:off+n]...), ":tail"...)
	if !bytes.Equal(got, want) {
		t.Fatalf("got %d bytes, want %d; equal prefix %d", len(got), len(want), commonPrefix(got, want))
	}
	if err := <-results; err != nil {
		t.Fatal(err)
	}
	if st := s.Stats(); st.BytesOut < int64(len(want)) || st.SentFile != n {
		t.Errorf("BytesOut %d, want at least %d; SentFile %d, want %d", st.BytesOut, len(want), st.SentFile, n)
	}
}

// TestAsyncSendFileClosed: a connection that closes mid-file tells done,
// and the file stays open (it is the caller's).
func TestAsyncSendFileClosed(t *testing.T) {
	name := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(name, payload(16<<20), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	results := make(chan error, 1)
	h := &funcHandler{data: func(c *Conn) {
		c.Discard(-1)
		if err := c.AsyncSendFile(f, 0, 16<<20, func(c *Conn, err error) { results <- err }); err != nil {
			results <- err
		}
	}}
	s := startServer(t, h, Options{Loops: 1, SocketWriteBuffer: 32 << 10}, "tcp", "127.0.0.1:0")
	nc := dial(t, s)
	nc.Write([]byte("go"))
	io.ReadFull(nc, make([]byte, 1000))
	nc.Close()
	select {
	case err := <-results:
		if err == nil {
			t.Fatal("done said the file was sent to a client that went away")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("done never ran")
	}
	if _, err := f.Stat(); err != nil {
		t.Fatalf("the file was closed: %v", err)
	}
}

func commonPrefix(a, b []byte) int {
	i := 0
	for i < len(a) && i < len(b) && a[i] == b[i] {
		i++
	}
	return i
}
