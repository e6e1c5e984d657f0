package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	"github.com/iomux/iomux"
	"github.com/iomux/iomux/internal/sock"
)

// What the four clients (echo-client, slow-client, chat-client, watch)
// share: their common flags, the -v trace, and the dial.

// clientOptions are the flags every client takes.
type clientOptions struct {
	addr    string
	backend string
	verbose bool
	timeout time.Duration
}

// bind declares --addr (with the program's default), --backend, --timeout
// and -v.
func (o *clientOptions) bind(fs *flag.FlagSet, defaultAddr string) {
	fs.StringVar(&o.addr, "addr", defaultAddr, "server address `HOST:PORT`")
	fs.StringVar(&o.backend, "backend", "auto", "readiness backend: auto, "+strings.Join(iomux.Backends(), ", "))
	fs.DurationVar(&o.timeout, "timeout", 10*time.Second, "give up after this long without progress (connecting; for echo-client and slow-client, also each echo)")
	fs.BoolVar(&o.verbose, "v", false, "trace each step to stderr, in the Python select tutorials' words")
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

// dial connects a non-blocking TCP socket to --addr as the tutorials'
// clients do (socket, then connect), waiting at most --timeout for the
// handshake. A malformed --addr is a usage error.
func (o *clientOptions) dial() (int, error) {
	if _, _, err := net.SplitHostPort(o.addr); err != nil {
		return -1, fmt.Errorf("%w: --addr: %v", errUsage, err)
	}
	fd, err := sock.Dial("tcp", o.addr, o.timeout)
	if err != nil {
		return -1, fmt.Errorf("connect to %s: %w", o.addr, err)
	}
	return fd, nil
}

// connect opens the Selector --backend names, connects to --addr and
// registers the socket for ev; closeAll unregisters and closes both.
func (o *clientOptions) connect(ev iomux.Events) (sel iomux.Selector, fd int, closeAll func(), err error) {
	if sel, err = o.selector(); err != nil {
		return nil, -1, nil, err
	}
	if fd, err = o.dial(); err == nil {
		err = sel.Register(fd, ev, nil)
		if err != nil {
			sock.Close(fd)
		}
	}
	if err != nil {
		sel.Close()
		return nil, -1, nil, err
	}
	return sel, fd, func() {
		sel.Unregister(fd)
		sock.Close(fd)
		sel.Close()
	}, nil
}

// localAddr is the socket's own HOST:PORT, which the tutorials' clients
// print to tell their sockets apart.
func localAddr(fd int) string {
	if a := sock.LocalAddr(fd, false); a != nil {
		return a.String()
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

// hostAndPort writes HOST:PORT as the Python select tutorials print it:
// "127.0.0.1 port 10000".
func hostAndPort(addr string) string {
	if host, port, err := net.SplitHostPort(addr); err == nil {
		return host + " port " + port
	}
	return addr
}
