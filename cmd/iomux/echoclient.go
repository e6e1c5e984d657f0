package main

import (
	"bytes"
	"fmt"
	"io"
	"slices"

	"github.com/iomux/iomux"
)

// The Python select tutorials' multiclient (two sockets, one message in
// parts), on a Selector.

// echoClientProgram is iomux echo-client.
func echoClientProgram() *command {
	return &command{
		name:    "echo-client",
		summary: "send a message in parts over several sockets and check the echoes (the tutorials' multiclient)",
		usage: `Usage: iomux echo-client [--addr 127.0.0.1:10000] [--conns 2] [--tls [--tls-ca FILE]] [--backend auto] [--timeout 10s] [-v] [MESSAGE...]

The Python select tutorials' multiclient. Opens --conns sockets to an echo server, sends each
MESSAGE part on every socket, then waits (on one Selector) until every socket
has its part echoed back in full before sending the next part. Prints a
"sending" and a "received" line per socket and part. Exits non-zero if an
echo differs from what was sent, or the server closes early.

Without MESSAGE arguments it sends the tutorial's three parts:
"This is the message. ", "It will be sent ", "in parts.". An empty part is
refused (nothing would be sent, nor could an echo show). Flags may come
before, between or after the messages; a message that starts with "-" goes
after "--" (everything after it is a message).

With --tls each socket runs a TLS handshake after connecting, and the
parts are sent and checked as plaintext.

Example:
  $ iomux echo-server &
  $ iomux echo-client --conns 2
  connecting to 127.0.0.1 port 10000
  127.0.0.1:55821: sending "This is the message. "
  127.0.0.1:55822: sending "This is the message. "
  127.0.0.1:55821: received "This is the message. "
  ...
`,
		run: runEchoClient,
	}
}

// multiclientMessages are the parts the tutorials' multiclient sends.
var multiclientMessages = []string{"This is the message. ", "It will be sent ", "in parts."}

// echoConn is one of the echo client's sockets and the part in flight on it.
type echoConn struct {
	st      *clientStream
	local   string // the socket's own address, which names it in the output
	want    []byte // the current part: what the echo must be
	got     []byte // what has been echoed so far
	writing bool   // registered for Writable
}

func runEchoClient(e *env, args []string) error {
	fs := newFlags(echoClientProgram())
	var opt clientOptions
	opt.bind(fs, "127.0.0.1:10000")
	conns := fs.Int("conns", 2, "number of sockets to send on")
	messages, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if *conns < 1 {
		return fmt.Errorf("%w: --conns must be at least 1", errUsage)
	}
	if len(messages) == 0 {
		messages = multiclientMessages
	}
	// An empty part would be sent as nothing, and nothing can come back
	// to show it was echoed: the round would only wait for --timeout.
	if slices.Contains(messages, "") {
		return fmt.Errorf("%w: a MESSAGE part must not be empty (nothing would be sent, nor echoed)", errUsage)
	}
	sel, err := opt.setup()
	if err != nil {
		return err
	}
	defer sel.Close()

	stdout, stderr := e.stdout, e.stderr
	trace := func(format string, args ...any) { opt.tracef(stderr, format, args...) }
	fmt.Fprintf(stdout, "connecting to %s\n", hostAndPort(opt.addr))
	socks := make([]*echoConn, 0, *conns)
	defer func() {
		for _, s := range socks {
			opt.tracef(stderr, "closing socket %s", s.local)
			sel.Unregister(s.st.fd)
			s.st.close()
		}
	}()
	for range *conns {
		st, err := opt.dial(trace)
		if err != nil {
			return err
		}
		s := &echoConn{st: st, local: localAddr(st.fd)}
		socks = append(socks, s)
		if err := sel.Register(st.fd, iomux.Readable, s); err != nil {
			return err
		}
	}
	for _, msg := range messages {
		for _, s := range socks {
			fmt.Fprintf(stdout, "%s: sending %q\n", s.local, msg)
			s.want, s.got = []byte(msg), s.got[:0]
			if err := s.st.queue(s.want); err != nil {
				return fmt.Errorf("%s: send: %w", s.local, err)
			}
			if err := s.watch(sel); err != nil {
				return err
			}
		}
		if err := echoRound(sel, socks, &opt, stderr); err != nil {
			return err
		}
		for _, s := range socks {
			fmt.Fprintf(stdout, "%s: received %q\n", s.local, s.got)
		}
	}
	return nil
}

// echoRound runs the Selector until every socket has sent its part and
// received all of it back. An echo that differs, an early close, or
// --timeout without progress ends the round with an error. (Plaintext
// that came with the end of a TLS handshake is read with the socket's
// next bytes, so sel.Wait does here: an echo server says nothing before
// it is spoken to.)
func echoRound(sel iomux.Selector, socks []*echoConn, opt *clientOptions, stderr io.Writer) error {
	ready := make([]iomux.Ready, len(socks))
	buf := make([]byte, 4096)
	pending := len(socks)
	for pending > 0 {
		opt.tracef(stderr, "waiting for the next event")
		n, err := sel.Wait(opt.timeout, ready)
		if err != nil {
			return err
		}
		if n == 0 {
			return fmt.Errorf("no echo from %s within %v", opt.addr, opt.timeout)
		}
		for _, r := range ready[:n] {
			s := r.Data.(*echoConn)
			if r.Events&iomux.Writable != 0 {
				if err := s.st.flush(); err != nil {
					return fmt.Errorf("%s: send: %w", s.local, err)
				}
			}
			if r.Events&iomux.Readable != 0 {
				// A socket whose part is complete is read too: more bytes
				// or an EOF there is the server misbehaving, and reported.
				done, err := s.receive(buf)
				if err != nil {
					return err
				}
				if done {
					pending--
				}
			}
			if err := s.watch(sel); err != nil {
				return err
			}
		}
	}
	return nil
}

// watch asks for Writable only while something waits to be sent, as the
// tutorials' server drops a socket from its outputs when its queue is empty.
func (s *echoConn) watch(sel iomux.Selector) error {
	want := s.st.pending() > 0
	if want == s.writing {
		return nil
	}
	ev := iomux.Readable
	if want {
		ev |= iomux.Writable
	}
	s.writing = want
	return sel.Modify(s.st.fd, ev, s)
}

// receive reads what arrived and checks it against the part sent; done
// reports that the whole part has come back.
func (s *echoConn) receive(buf []byte) (done bool, err error) {
	data, err := s.st.read(buf)
	switch {
	case err != nil && err != io.EOF:
		return false, fmt.Errorf("%s: receive: %w", s.local, err)
	case len(data) == 0 && err == nil:
		return false, nil // nothing yet
	}
	// Compare only the new bytes: a large part arrives in many reads.
	at := len(s.got)
	s.got = append(s.got, data...)
	if len(s.got) > len(s.want) || !bytes.Equal(s.want[at:len(s.got)], data) {
		return false, fmt.Errorf("%s: echo differs: sent %s, received %s", s.local, brief(s.want), brief(s.got))
	}
	if err == io.EOF {
		return false, fmt.Errorf("%s: server closed the connection early: %d of %d bytes of %s echoed",
			s.local, len(s.got), len(s.want), brief(s.want))
	}
	return len(s.got) == len(s.want), nil
}
