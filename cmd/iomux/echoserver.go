package main

import (
	"fmt"

	"github.com/iomux/iomux/loop"
)

// echoServerProgram is iomux echo-server.
func echoServerProgram() *command {
	return &command{
		name:    "echo-server",
		summary: "echo back whatever each client sends (the tutorials' select/poll echo server)",
		usage: `Usage: iomux echo-server [--addr 127.0.0.1:10000] [--timeout 1s] [--loops N] [--tls-cert FILE --tls-key FILE] [--backend auto] [-v]

The Python select tutorials' echo server, on the event loop: every byte a
client sends comes back to it, in order, however many clients are
connected. Writes go straight to the socket; only what the socket refuses
is queued, and a client that stops reading is no longer read from until
its queue drains. When a client closes its side, what is still queued is
sent before the connection closes: nothing is dropped.

With --timeout, a loop that waits that long without an event says so (at
-v: "timed out, do some other work here"), as the tutorials' select server
with a timeout does. -v traces each loop in the tutorials' words on stderr.
` + stopHelp + ` stops it gracefully: queues drain, then it exits.

With --tls-cert and --tls-key it serves TLS instead ("iomux cert" writes a
development pair; clients then take --tls --tls-ca cert.pem), as every
server does: the handler sees the same plaintext.

` + selectLimitHelp + `

Example:
  $ iomux echo-server -v --timeout 1s
  starting up on 127.0.0.1 port 10000

  waiting for the next event
    timed out, do some other work here
  ...
  $ iomux echo-client            # in another terminal
`,
		run: runEchoServer,
	}
}

// echoHandler echoes what arrives. OnData is the benchmark suite's hot
// path: one write(2) of the loop's own read buffer, no copy, no allocation
// (what the socket refuses is copied into the connection's queue). EOF is
// BaseHandler's: close once the queue is sent.
type echoHandler struct{ loop.BaseHandler }

func (echoHandler) OnData(c *loop.Conn) { c.Write(c.Next(-1)) }

func runEchoServer(e *env, args []string) error {
	fs := newFlags(echoServerProgram())
	var opt serverOptions
	opt.bind(fs, "127.0.0.1:10000", true)
	timeout := fs.Duration("timeout", 0, "report an idle loop after this long without events (0: never)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := opt.check(fs); err != nil {
		return err
	}
	if *timeout < 0 {
		return fmt.Errorf("%w: --timeout must not be negative", errUsage)
	}
	opt.openOutputs(e)
	opts := opt.loopOptions()
	opts.WaitTimeout = *timeout
	return opt.serve(e, loop.NewServer(echoHandler{}, opts))
}
