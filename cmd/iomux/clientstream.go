package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/iomux/iomux"
	"github.com/iomux/iomux/internal/sock"
	"github.com/iomux/iomux/internal/tlssession"
)

// clientStream is a client's connection: a non-blocking socket, plain or
// TLS, and the bytes waiting for it to be writable. The clients read and
// write only through it, so each has one code path for both: queue what
// to send, ask for Writable while pending is not 0 and flush then; read
// when the socket is readable (or when wait says so); closeWrite or close
// at the end. With TLS, what is traced is the plaintext, as it is
// encrypted or decrypted.
type clientStream struct {
	fd    int
	addr  string // --addr, as the trace names the server
	trace func(format string, args ...any)
	sess  *tlssession.Session // nil: plain TCP

	mu   sync.Mutex // out: the handshake's goroutine appends to it
	out  []byte     // for the socket, not yet written: plaintext, or TLS records
	wake func()     // during the handshake: tells its pump that out grew

	plain []byte // TLS: the plaintext of the last read (its buffer is reused)
	held  []byte // TLS: plaintext decoded with the end of the handshake, for read
	err   error  // TLS: the end of the stream (or an error) met then, for read after held
}

// queue adds p to what flush sends. With TLS, p is encrypted now.
func (s *clientStream) queue(p []byte) error {
	if s.sess != nil {
		s.trace("sending %q to %s", p, s.addr)
		return s.sess.Write(p)
	}
	s.mu.Lock()
	s.out = append(s.out, p...)
	s.mu.Unlock()
	return nil
}

// send is the TLS session's way out: its records wait in out. During the
// handshake it runs on the handshake's goroutine and wakes the pump.
func (s *clientStream) send(p []byte) error {
	s.mu.Lock()
	s.out = append(s.out, p...)
	wake := s.wake
	s.mu.Unlock()
	if wake != nil {
		wake()
	}
	return nil
}

// pending is how many bytes wait for the socket to take them.
func (s *clientStream) pending() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.out)
}

// flush writes what the socket takes of the pending bytes, in one write;
// a full socket is not an error.
func (s *clientStream) flush() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.out) == 0 {
		return nil
	}
	n, err := sock.Write(s.fd, s.out)
	if sock.WouldBlock(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if s.sess == nil {
		s.trace("sending %q to %s", s.out[:n], s.addr)
	}
	if s.out = s.out[n:]; len(s.out) == 0 {
		s.out = s.out[:0:0] // let go of the written start
	}
	return nil
}

// read makes one read from the socket into buf and returns the plaintext
// that arrived: on a plain socket buf's bytes, with TLS what the records
// completed (of any length; valid until the next read). Empty with a nil
// error: nothing yet. io.EOF: the server ended the stream (with TLS, data
// may come with it).
func (s *clientStream) read(buf []byte) ([]byte, error) {
	if s.holding() {
		held, err := s.held, s.err
		s.held, s.err = nil, nil
		return held, err
	}
	n, err := sock.Read(s.fd, buf)
	switch {
	case sock.WouldBlock(err):
		return nil, nil
	case err != nil:
		return nil, err
	case n == 0:
		return nil, io.EOF // with TLS, a close without close_notify ends the stream too
	case s.sess == nil:
		s.trace("received %q from %s", buf[:n], s.addr)
		return buf[:n], nil
	}
	if err := s.sess.Feed(buf[:n]); err != nil {
		return nil, err
	}
	s.plain, err = s.sess.Read(s.plain[:0])
	if len(s.plain) > 0 {
		s.trace("received %q from %s", s.plain, s.addr)
	}
	return s.plain, err
}

// wait is sel.Wait for a client with one stream: when the stream holds
// plaintext decoded with the end of its TLS handshake (its socket may never
// be readable again for it), it reports the stream readable at once.
func (s *clientStream) wait(sel iomux.Selector, timeout time.Duration, ready []iomux.Ready) (int, error) {
	if s.holding() {
		ready[0] = iomux.Ready{FD: s.fd, Events: iomux.Readable}
		return 1, nil
	}
	return sel.Wait(timeout, ready)
}

// holding reports that the handshake left something for read to return.
func (s *clientStream) holding() bool { return len(s.held) > 0 || s.err != nil }

// closeWrite ends what the client sends: with TLS a close_notify, queued
// (flush sends it); on a plain socket, a shutdown of its sending side
// (call it once nothing is pending).
func (s *clientStream) closeWrite() error {
	if s.sess != nil {
		s.trace("sending close_notify to %s", s.addr)
		return s.sess.CloseWrite()
	}
	if err := sock.CloseWrite(s.fd); err != nil && !errors.Is(err, errNotConn) {
		return err
	}
	return nil
}

// close closes the socket. A TLS stream whose handshake is done sends
// close_notify first, with one try at the socket: a client that leaves
// does not wait for the server to read.
func (s *clientStream) close() {
	if s.sess != nil {
		if s.sess.ConnectionState().HandshakeComplete {
			s.sess.CloseWrite() // sent once, even after closeWrite
			s.flush()
		}
		s.sess.Close()
	}
	sock.Close(s.fd)
}

// handshake runs the TLS handshake, at most timeout. crypto/tls's
// Handshake blocks, so it runs on a goroutine of its own while this one
// moves the bytes: socket readable → Feed, records sent → written when
// the socket is writable, waiting on a Selector of the client's backend
// that send and the handshake's end wake. When it returns, the handshake's
// last records are on the socket, and what came with them is held for
// read.
func (s *clientStream) handshake(backend string, timeout time.Duration) error {
	sel, err := iomux.NewSelector(backend)
	if err != nil {
		return err
	}
	defer sel.Close()
	if err := sel.Register(s.fd, iomux.Readable, nil); err != nil {
		return err // closing sel forgets fd, registered or not
	}
	s.mu.Lock()
	s.wake = func() { sel.Wake() }
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.wake = nil
		s.mu.Unlock()
	}()

	var done atomic.Bool
	var result error
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		result = s.sess.Handshake(context.Background()) // the pump keeps the time
		done.Store(true)
		sel.Wake()
	}()
	err = s.pump(sel, &done, timeout)
	aborted := err != nil && !done.Load()
	if aborted {
		s.sess.Close() // the handshake ends at once
	}
	<-finished
	if result != nil && !aborted {
		return result // crypto/tls's reason (an alert, the certificate) says most
	}
	if err != nil {
		return err
	}
	st := s.sess.ConnectionState()
	s.trace("TLS handshake with %s done: %s, %s", s.addr, tls.VersionName(st.Version), tls.CipherSuiteName(st.CipherSuite))
	// The server may have spoken right after its last handshake record,
	// in the same read: that is decoded now, for read to return.
	s.plain, s.err = s.sess.Read(s.plain[:0])
	s.held = s.plain
	if len(s.held) > 0 {
		s.trace("received %q from %s", s.held, s.addr)
	}
	return nil
}

// pump moves the handshake's bytes until it is done and all it sent is
// written, for at most timeout. Once it is done, pump reads no more: what
// follows is the client's to read.
func (s *clientStream) pump(sel iomux.Selector, done *atomic.Bool, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	ready := make([]iomux.Ready, 1)
	buf := make([]byte, 16<<10)
	watching := iomux.Readable
	fed, eof := false, false
	for {
		finished, pending := done.Load(), s.pending()
		if finished && pending == 0 {
			return nil
		}
		var want iomux.Events
		if !finished && !eof {
			want |= iomux.Readable
		}
		if pending > 0 {
			want |= iomux.Writable
		}
		if err := watch(sel, s.fd, watching, want); err != nil {
			return err
		}
		watching = want
		left := time.Until(deadline)
		switch {
		case left > 0:
		case eof:
			return errors.New("the server closed the connection")
		default:
			return fmt.Errorf("not done within %v", timeout)
		}
		n, err := sel.Wait(left, ready)
		if err != nil {
			return err
		}
		if n == 0 {
			continue // woken, or out of time
		}
		if ready[0].Events&iomux.Writable != 0 {
			if err := s.flush(); err != nil {
				return err
			}
		}
		if ready[0].Events&iomux.Readable == 0 || done.Load() {
			continue
		}
		r, err := sock.Read(s.fd, buf)
		switch {
		case sock.WouldBlock(err):
		case err != nil:
			return err
		case r == 0 && !fed:
			return errors.New("the server closed the connection")
		case r == 0:
			// The handshake goes on with what came, then fails with EOF
			// if it needed more: a server may send its last handshake
			// records, a greeting and close_notify at once, and close.
			eof = true
			s.sess.FeedEOF()
		default:
			if err := s.sess.Feed(buf[:r]); err != nil {
				return err
			}
			fed = true
		}
	}
}

// watch changes what sel watches fd for, from was to want (none: fd is
// not registered).
func watch(sel iomux.Selector, fd int, was, want iomux.Events) error {
	switch {
	case want == was:
		return nil
	case want == 0:
		return sel.Unregister(fd)
	case was == 0:
		return sel.Register(fd, want, nil)
	}
	return sel.Modify(fd, want, nil)
}
