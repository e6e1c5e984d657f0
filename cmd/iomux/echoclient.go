package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/iomux/iomux"
)

// The seeds' multiclient, on a Selector. This file also holds what the four
// clients (echo-client, slow-client, chat-client, watch) share: their
// common flags, the trace, and the raw-socket dial.

func init() {
	register(&command{
		name:    "echo-client",
		summary: "send a message in parts over several sockets and check the echoes (the seeds' multiclient)",
		usage: `Usage: iomux echo-client [--addr 127.0.0.1:10000] [--conns 2] [--backend auto] [--timeout 10s] [-v] [MESSAGE...]

The seeds' multiclient. Opens --conns sockets to an echo server, sends each
MESSAGE part on every socket, then waits (on one Selector) until every socket
has its part echoed back in full before sending the next part. Prints a
"sending" and a "received" line per socket and part. Exits non-zero if an
echo differs from what was sent, or the server closes early.

Without MESSAGE arguments it sends the seeds' three parts:
"This is the message. ", "It will be sent ", "in parts.". Flags may come
before, between or after the messages; a message that starts with "-" goes
after "--" (everything after it is a message).

Example:
  $ iomux echo-server &
  $ iomux echo-client --conns 2
  connecting to 127.0.0.1 port 10000
  127.0.0.1:55821: sending "This is the message. "
  127.0.0.1:55822: sending "This is the message. "
  127.0.0.1:55821: received "This is the message. "
  ...
`,
		run: func(args []string) error { return runEchoClient(args, os.Stdout, os.Stderr) },
	})
}

// seedMessages are the parts the seeds' multiclient sends.
var seedMessages = []string{"This is the message. ", "It will be sent ", "in parts."}

// echoConn is one of the echo client's sockets and the part in flight on it.
type echoConn struct {
	fd    int
	local string // the socket's own address, which names it in the output
	out   []byte // what is still to be sent of the current part
	want  []byte // the current part: what the echo must be
	got   []byte // what has been echoed so far
}

func runEchoClient(args []string, stdout, stderr io.Writer) error {
	c := commands["echo-client"]
	fs := newFlags(c)
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
		messages = seedMessages
	}
	sel, err := opt.selector()
	if err != nil {
		return err
	}
	defer sel.Close()

	fmt.Fprintf(stdout, "connecting to %s\n", seedAddr(opt.addr))
	socks := make([]*echoConn, 0, *conns)
	defer func() {
		for _, s := range socks {
			opt.tracef(stderr, "closing socket %s", s.local)
			sel.Unregister(s.fd)
			unix.Close(s.fd)
		}
	}()
	for range *conns {
		fd, err := clientDial(opt.addr, opt.timeout)
		if err != nil {
			return err
		}
		s := &echoConn{fd: fd, local: localAddr(fd)}
		socks = append(socks, s)
		if err := sel.Register(fd, iomux.Readable, s); err != nil {
			return err
		}
	}
	for _, msg := range messages {
		for _, s := range socks {
			fmt.Fprintf(stdout, "%s: sending %q\n", s.local, msg)
			s.out, s.want, s.got = []byte(msg), []byte(msg), s.got[:0]
			if err := sel.Modify(s.fd, iomux.Readable|iomux.Writable, s); err != nil {
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
// --timeout without progress ends the round with an error.
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
			if r.Events&iomux.Writable != 0 && len(s.out) > 0 {
				if err := s.send(sel, opt, stderr); err != nil {
					return err
				}
			}
			if r.Events&iomux.Readable == 0 {
				continue
			}
			// A socket whose part is complete is read too: more bytes or
			// an EOF there is the server misbehaving, and reported.
			done, err := s.receive(buf, opt, stderr)
			if err != nil {
				return err
			}
			if done {
				pending--
			}
		}
	}
	return nil
}

// send writes what the socket can take of the current part; once the part is
// out it stops asking for Writable, as the seeds' server drops a socket from
// its outputs when the queue is empty.
func (s *echoConn) send(sel iomux.Selector, opt *clientOptions, stderr io.Writer) error {
	n, err := unix.Write(s.fd, s.out)
	if err == unix.EAGAIN || err == unix.EINTR {
		return nil
	}
	if err != nil {
		return fmt.Errorf("%s: send: %w", s.local, err)
	}
	opt.tracef(stderr, "sending %q to %s", s.out[:n], opt.addr)
	s.out = s.out[n:]
	if len(s.out) == 0 {
		return sel.Modify(s.fd, iomux.Readable, s)
	}
	return nil
}

// receive reads what arrived and checks it against the part sent; done
// reports that the whole part has come back.
func (s *echoConn) receive(buf []byte, opt *clientOptions, stderr io.Writer) (done bool, err error) {
	n, err := unix.Read(s.fd, buf)
	if err == unix.EAGAIN || err == unix.EINTR {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("%s: receive: %w", s.local, err)
	}
	if n == 0 {
		return false, fmt.Errorf("%s: server closed the connection early: %d of %d bytes of %s echoed",
			s.local, len(s.got), len(s.want), brief(s.want))
	}
	opt.tracef(stderr, "received %q from %s", buf[:n], opt.addr)
	// Compare only the new bytes: a large part arrives in many reads.
	at := len(s.got)
	s.got = append(s.got, buf[:n]...)
	if len(s.got) > len(s.want) || !bytes.Equal(s.want[at:len(s.got)], buf[:n]) {
		return false, fmt.Errorf("%s: echo differs: sent %s, received %s", s.local, brief(s.want), brief(s.got))
	}
	return len(s.got) == len(s.want), nil
}

// clientOptions are the flags every client takes.
type clientOptions struct {
	addr    string
	backend string
	verbose bool
	timeout time.Duration
}

// bind declares --addr (with the seed's default), --backend, --timeout and -v.
func (o *clientOptions) bind(fs *flag.FlagSet, defaultAddr string) {
	fs.StringVar(&o.addr, "addr", defaultAddr, "server address `HOST:PORT`")
	fs.StringVar(&o.backend, "backend", "auto", "readiness backend: auto, "+strings.Join(iomux.Backends(), ", "))
	fs.DurationVar(&o.timeout, "timeout", 10*time.Second, "give up after this long without progress (connecting; for echo-client and slow-client, also each echo)")
	fs.BoolVar(&o.verbose, "v", false, "trace each step to stderr, in the seeds' words")
}

// selector opens the Selector --backend names; an unknown name is a usage error.
func (o *clientOptions) selector() (iomux.Selector, error) {
	sel, err := iomux.NewSelector(o.backend)
	if errors.Is(err, iomux.ErrUnknown) {
		return nil, fmt.Errorf("%w: --backend: %v", errUsage, err)
	}
	return sel, err
}

// tracef prints one -v line to stderr.
func (o *clientOptions) tracef(stderr io.Writer, format string, args ...any) {
	if o.verbose {
		fmt.Fprintf(stderr, format+"\n", args...)
	}
}

// clientDial connects a non-blocking TCP socket to addr as the seeds do
// (socket, then connect), waiting at most timeout for the handshake.
func clientDial(addr string, timeout time.Duration) (int, error) {
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return -1, fmt.Errorf("%w: --addr: %v", errUsage, err)
	}
	ta, err := net.ResolveTCPAddr("tcp", addr)
	if err != nil {
		return -1, err
	}
	family, sa := unix.AF_INET6, unix.Sockaddr(nil)
	if ip4 := ta.IP.To4(); ip4 != nil {
		family, sa = unix.AF_INET, &unix.SockaddrInet4{Port: ta.Port, Addr: [4]byte(ip4)}
	} else {
		sa = &unix.SockaddrInet6{Port: ta.Port, Addr: [16]byte(ta.IP.To16())}
	}
	fd, err := unix.Socket(family, unix.SOCK_STREAM, 0)
	if err != nil {
		return -1, os.NewSyscallError("socket", err)
	}
	unix.CloseOnExec(fd)
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return -1, os.NewSyscallError("setnonblock", err)
	}
	if err := connectWait(fd, sa, timeout); err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("connect to %s: %w", addr, err)
	}
	return fd, nil
}

// connectWait starts a non-blocking connect and waits for it to finish: the
// socket turns writable, and SO_ERROR tells whether the handshake worked.
func connectWait(fd int, sa unix.Sockaddr, timeout time.Duration) error {
	err := unix.Connect(fd, sa)
	if err == nil {
		return nil
	}
	if err != unix.EINPROGRESS && err != unix.EINTR {
		return err
	}
	_, w, _, err := iomux.Select(nil, []int{fd}, nil, timeout)
	if err != nil {
		return err
	}
	if len(w) == 0 {
		return fmt.Errorf("timed out after %v", timeout)
	}
	if soerr, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ERROR); err != nil || soerr != 0 {
		if err == nil {
			err = unix.Errno(soerr)
		}
		return err
	}
	return nil
}

// localAddr is the socket's own HOST:PORT, which the seeds print to tell
// their sockets apart.
func localAddr(fd int) string {
	sa, err := unix.Getsockname(fd)
	if err != nil {
		return fmt.Sprintf("fd %d", fd)
	}
	switch a := sa.(type) {
	case *unix.SockaddrInet4:
		return net.JoinHostPort(net.IP(a.Addr[:]).String(), fmt.Sprint(a.Port))
	case *unix.SockaddrInet6:
		return net.JoinHostPort(net.IP(a.Addr[:]).String(), fmt.Sprint(a.Port))
	}
	return fmt.Sprintf("fd %d", fd)
}

// brief quotes b for an error message, cut short if it is long.
func brief(b []byte) string {
	const max = 80
	if len(b) <= max {
		return fmt.Sprintf("%q", b)
	}
	return fmt.Sprintf("%q... (%d bytes)", b[:max], len(b))
}

// seedAddr prints HOST:PORT as the seeds do: "127.0.0.1 port 10000".
func seedAddr(addr string) string {
	if host, port, err := net.SplitHostPort(addr); err == nil {
		return host + " port " + port
	}
	return addr
}
