package main

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/iomux/iomux"
)

// The Python select tutorials' slow client: the echo server must keep its
// other clients going while this one dawdles.

// slowClientProgram is iomux slow-client.
func slowClientProgram() *command {
	return &command{
		name:    "slow-client",
		summary: "send a message in two parts with pauses, read the echo 16 bytes at a time (the tutorials' slow client)",
		usage: `Usage: iomux slow-client [--addr 127.0.0.1:10000] [--pause 1.5s] [--tls [--tls-ca FILE]] [--backend auto] [--timeout 10s] [-v] [MESSAGE...]

The Python select tutorials' slow client, which shows an echo server serving a client that
dawdles. Connects, waits --pause, sends each part followed by a --pause,
then reads the echo back in 16-byte reads, printing each. Exits non-zero if
the echo differs from what was sent or the server closes early.

Without MESSAGE arguments it sends the tutorial's two parts:
"Part one of the message.", "Part two of the message.". Flags may come
before, between or after the messages; a message that starts with "-" goes
after "--" (everything after it is a message).

With --tls the 16-byte reads are of TLS records, so the echo is printed
as each record is complete, not 16 bytes at a time.

Example:
  $ iomux echo-server --timeout 1s -v &
  $ iomux slow-client
  connecting to 127.0.0.1 port 10000
  sending "Part one of the message."
  sending "Part two of the message."
  received "Part one of the "
  received "message.Part two"
  received " of the message."
  closing socket
`,
		run: runSlowClient,
	}
}

// slowMessages are the parts the tutorials' slow client sends.
var slowMessages = []string{"Part one of the message.", "Part two of the message."}

// slowReadSize is the tutorial's recv(16): small reads show the echo arriving
// in pieces that do not match the parts sent.
const slowReadSize = 16

func runSlowClient(e *env, args []string) error {
	fs := newFlags(slowClientProgram())
	var opt clientOptions
	opt.bind(fs, "127.0.0.1:10000")
	pause := fs.Duration("pause", 1500*time.Millisecond, "how long to wait after connecting and after each part")
	messages, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if *pause < 0 {
		return fmt.Errorf("%w: --pause must not be negative", errUsage)
	}
	if len(messages) == 0 {
		messages = slowMessages
	}
	sel, err := opt.setup()
	if err != nil {
		return err
	}
	defer sel.Close()
	stdout, stderr := e.stdout, e.stderr
	fmt.Fprintf(stdout, "connecting to %s\n", hostAndPort(opt.addr))
	st, closeConn, err := opt.connect(sel, iomux.Writable, func(format string, args ...any) { opt.tracef(stderr, format, args...) })
	if err != nil {
		return err
	}
	defer func() {
		fmt.Fprintln(stdout, "closing socket")
		closeConn()
	}()

	time.Sleep(*pause) // the tutorial's deliberate dawdling, not synchronisation
	for _, msg := range messages {
		fmt.Fprintf(stdout, "sending %q\n", msg)
		if err := sendAll(sel, st, []byte(msg), &opt, stderr); err != nil {
			return err
		}
		time.Sleep(*pause)
	}

	want := []byte(strings.Join(messages, ""))
	if err := sel.Modify(st.fd, iomux.Readable, nil); err != nil {
		return err
	}
	got := make([]byte, 0, len(want))
	buf := make([]byte, slowReadSize)
	for len(got) < len(want) {
		data, err := readWhenReady(sel, st, buf, &opt, stderr)
		if len(data) > 0 {
			fmt.Fprintf(stdout, "received %q\n", data)
			got = append(got, data...)
		}
		if err == io.EOF {
			return fmt.Errorf("server closed the connection early: %d of %d bytes echoed", len(got), len(want))
		}
		if err != nil {
			return err
		}
	}
	if string(got) != string(want) {
		return fmt.Errorf("echo differs: sent %s, received %s", brief(want), brief(got))
	}
	return nil
}

// sendAll sends all of p, waiting on the Selector (registered for
// Writable) whenever the socket's buffer is full, like Python's sendall.
func sendAll(sel iomux.Selector, st *clientStream, p []byte, opt *clientOptions, stderr io.Writer) error {
	if err := st.queue(p); err != nil {
		return fmt.Errorf("send: %w", err)
	}
	ready := make([]iomux.Ready, 1)
	for st.pending() > 0 {
		opt.tracef(stderr, "waiting for the next event")
		n, err := sel.Wait(opt.timeout, ready)
		if err != nil {
			return err
		}
		if n == 0 {
			return fmt.Errorf("server took nothing for %v", opt.timeout)
		}
		if err := st.flush(); err != nil {
			return fmt.Errorf("send: %w", err)
		}
	}
	return nil
}

// readWhenReady waits (the Selector has the socket registered for
// Readable) until something arrives, and returns it; io.EOF means the
// server closed the connection (what came before it is returned with it).
func readWhenReady(sel iomux.Selector, st *clientStream, buf []byte, opt *clientOptions, stderr io.Writer) ([]byte, error) {
	ready := make([]iomux.Ready, 1)
	for {
		opt.tracef(stderr, "waiting for the next event")
		n, err := st.wait(sel, opt.timeout, ready)
		if err != nil {
			return nil, err
		}
		if n == 0 {
			return nil, fmt.Errorf("no echo from %s within %v", opt.addr, opt.timeout)
		}
		data, err := st.read(buf)
		if err != nil && err != io.EOF {
			return nil, fmt.Errorf("receive: %w", err)
		}
		if len(data) > 0 || err != nil {
			return data, err
		}
	}
}
