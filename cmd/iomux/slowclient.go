package main

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/iomux/iomux"
	"github.com/iomux/iomux/internal/sock"
)

// The Python select tutorials' slow client: the echo server must keep its
// other clients going while this one dawdles.

func init() {
	register(&command{
		name:    "slow-client",
		summary: "send a message in two parts with pauses, read the echo 16 bytes at a time (the tutorials' slow client)",
		usage: `Usage: iomux slow-client [--addr 127.0.0.1:10000] [--pause 1.5s] [--backend auto] [--timeout 10s] [-v] [MESSAGE...]

The Python select tutorials' slow client, which shows an echo server serving a client that
dawdles. Connects, waits --pause, sends each part followed by a --pause,
then reads the echo back in 16-byte reads, printing each. Exits non-zero if
the echo differs from what was sent or the server closes early.

Without MESSAGE arguments it sends the tutorial's two parts:
"Part one of the message.", "Part two of the message.". Flags may come
before, between or after the messages; a message that starts with "-" goes
after "--" (everything after it is a message).

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
	})
}

// slowMessages are the parts the tutorials' slow client sends.
var slowMessages = []string{"Part one of the message.", "Part two of the message."}

// slowReadSize is the tutorial's recv(16): small reads show the echo arriving
// in pieces that do not match the parts sent.
const slowReadSize = 16

func runSlowClient(e *env, args []string) error {
	fs := newFlags(commands["slow-client"])
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
	stdout, stderr := e.stdout, e.stderr
	fmt.Fprintf(stdout, "connecting to %s\n", hostAndPort(opt.addr))
	sel, fd, closeAll, err := opt.connect(iomux.Writable)
	if err != nil {
		return err
	}
	defer func() {
		fmt.Fprintln(stdout, "closing socket")
		closeAll()
	}()

	time.Sleep(*pause) // the tutorial's deliberate dawdling, not synchronisation
	for _, msg := range messages {
		fmt.Fprintf(stdout, "sending %q\n", msg)
		if err := sendAll(sel, fd, []byte(msg), &opt, stderr); err != nil {
			return err
		}
		time.Sleep(*pause)
	}

	want := []byte(strings.Join(messages, ""))
	if err := sel.Modify(fd, iomux.Readable, nil); err != nil {
		return err
	}
	got := make([]byte, 0, len(want))
	buf := make([]byte, slowReadSize)
	for len(got) < len(want) {
		n, err := readWhenReady(sel, fd, buf, &opt, stderr)
		if err != nil {
			return err
		}
		if n == 0 {
			return fmt.Errorf("server closed the connection early: %d of %d bytes echoed", len(got), len(want))
		}
		fmt.Fprintf(stdout, "received %q\n", buf[:n])
		got = append(got, buf[:n]...)
	}
	if string(got) != string(want) {
		return fmt.Errorf("echo differs: sent %s, received %s", brief(want), brief(got))
	}
	return nil
}

// sendAll writes all of p, waiting on the Selector (registered for
// Writable) whenever the socket's buffer is full, like Python's sendall.
func sendAll(sel iomux.Selector, fd int, p []byte, opt *clientOptions, stderr io.Writer) error {
	ready := make([]iomux.Ready, 1)
	for len(p) > 0 {
		opt.tracef(stderr, "waiting for the next event")
		n, err := sel.Wait(opt.timeout, ready)
		if err != nil {
			return err
		}
		if n == 0 {
			return fmt.Errorf("server took nothing for %v", opt.timeout)
		}
		w, err := sock.Write(fd, p)
		if sock.WouldBlock(err) {
			continue
		}
		if err != nil {
			return fmt.Errorf("send: %w", err)
		}
		opt.tracef(stderr, "sending %q to %s", p[:w], opt.addr)
		p = p[w:]
	}
	return nil
}

// readWhenReady waits (the Selector has fd registered for Readable) and
// reads once; 0 means the server closed the connection.
func readWhenReady(sel iomux.Selector, fd int, buf []byte, opt *clientOptions, stderr io.Writer) (int, error) {
	ready := make([]iomux.Ready, 1)
	for {
		opt.tracef(stderr, "waiting for the next event")
		n, err := sel.Wait(opt.timeout, ready)
		if err != nil {
			return 0, err
		}
		if n == 0 {
			return 0, fmt.Errorf("no echo from %s within %v", opt.addr, opt.timeout)
		}
		r, err := sock.Read(fd, buf)
		if sock.WouldBlock(err) {
			continue
		}
		if err != nil {
			return 0, fmt.Errorf("receive: %w", err)
		}
		opt.tracef(stderr, "received %q from %s", buf[:r], opt.addr)
		return r, nil
	}
}
