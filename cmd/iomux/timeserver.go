package main

import (
	"fmt"
	"io"
	"time"

	"github.com/iomux/iomux/loop"
)

// timeServerProgram is iomux time-server.
func timeServerProgram() *command {
	return &command{
		name:    "time-server",
		summary: "send every client the time every few seconds (the tutorials' delay server, for many clients)",
		usage: `Usage: iomux time-server [--addr 127.0.0.1:51423] [--interval 5s] [--loops N] [--tls-cert FILE --tls-key FILE] [--backend auto] [-v]

The Python select tutorials' delaying server, for any number of clients
at once (the tutorial's served one at a time, sleeping between sends).
Each client gets the current time as a line in asctime format ("Mon Nov 23
18:56:57 2026") when it connects and then every --interval, driven by one
loop timer per client, never by sleeping. What clients send is ignored. A
client that stops reading is disconnected once 64 KiB of ticks are queued
for it. A client that closes its connection, or shuts down its sending
half, is taken as gone at once: its connection is closed then, not when a
tick fails.

The notes on stdout ("Got Connection from ...") never hold the server up:
if stdout is not read (a pipe nobody reads), notes past 256 KiB are
dropped and counted, with a warning on stderr at most once a second.

Example:
  $ iomux time-server --interval 1s &
  starting up on 127.0.0.1 port 51423
  $ iomux watch                  # or: nc 127.0.0.1 51423
  Received: Mon Nov 23 18:56:57 2026
`,
		run: runTimeServer,
	}
}

// timeMaxQueue is how much unread output a client may have before it is
// dropped.
const timeMaxQueue = 64 << 10

// timeHandler ticks every client. Each connection owns an Every timer on
// its loop, so a client's ticks are exactly --interval apart from its
// arrival, as in the tutorial, and a timer costs a heap entry, not a goroutine.
//
// Its OnEOF is BaseHandler's: a client's EOF closes its connection at
// once (after a tick being sent). The tutorial's server sent until a send
// failed, which holds a gone client's descriptor until two ticks fail (the
// first only draws the RST); a client that shut down just its sending
// half is taken as gone too, as that is what a client that leaves looks
// like.
type timeHandler struct {
	loop.BaseHandler
	interval time.Duration
	log      io.Writer // the notes: a console, which every loop may write to at once
}

func runTimeServer(e *env, args []string) error {
	fs := newFlags(timeServerProgram())
	var opt serverOptions
	opt.bind(fs, "127.0.0.1:51423", true)
	interval := fs.Duration("interval", 5*time.Second, "time between two ticks to a client")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := opt.check(fs); err != nil {
		return err
	}
	if *interval <= 0 {
		return fmt.Errorf("%w: --interval must be positive", errUsage)
	}
	h := &timeHandler{interval: *interval, log: opt.openOutputs(e)}
	return opt.serve(e, loop.NewServer(h, opt.loopOptions()))
}

func (h *timeHandler) note(format string, args ...any) {
	fmt.Fprintf(h.log, format+"\n", args...)
}

func (h *timeHandler) OnOpen(c *loop.Conn) {
	h.note("Got Connection from %s", c.RemoteAddr())
	h.tick(c)
	if !c.Closed() {
		c.SetContext(c.Loop().Every(h.interval, func() { h.tick(c) }))
	}
}

// tick sends the time, asctime style, as the tutorial's time.asctime() does.
func (h *timeHandler) tick(c *loop.Conn) {
	c.Write([]byte(time.Now().Format(time.ANSIC) + "\n"))
	if !c.Closed() && c.Outbound() > timeMaxQueue {
		c.CloseNow()
	}
}

func (h *timeHandler) OnClose(c *loop.Conn, err error) {
	if t, ok := c.Context().(*loop.Timer); ok {
		t.Stop()
	}
	if err != nil {
		h.note("%s disconnected (%v)", c.RemoteAddr(), err)
		return
	}
	h.note("%s disconnected", c.RemoteAddr())
}
