package loop

import (
	"errors"
	"os"

	"github.com/iomux/iomux/internal/sock"
)

// ErrNoSendFile is AsyncSendFile's refusal where the loop cannot hand a
// file to the kernel: not Linux, a connection with a Transport (TLS), or
// Options.Observe set (it must see every byte). Copy the file instead.
var ErrNoSendFile = errors.New("loop: sendfile not available for this connection")

// fileSend is a file on its way to a connection with sendfile(2).
type fileSend struct {
	f       *os.File
	off     int64 // where the next byte comes from
	left    int64 // bytes still to send
	started bool  // the output queued before it is sent: the file goes now
	done    func(*Conn, error)
}

// AsyncSendFile sends n bytes of f from offset off, from any goroutine,
// after what was written or queued before it, with sendfile(2): the bytes
// go from the page cache to the socket without passing through the
// process. done runs on the loop when they are all sent (err nil) or the
// connection closed first. Write nothing else to c until done runs: what
// is written meanwhile goes after the file. f must stay open until then;
// it is not closed. One file at a time per connection. It fails with
// ErrNoSendFile where the kernel cannot do it (see there), ErrClosed on a
// closed connection, ErrQueueFull like Post.
func (c *Conn) AsyncSendFile(f *os.File, off, n int64, done func(*Conn, error)) error {
	if !sendFileWorks || c.loop.observe != nil || n < 0 || off < 0 {
		return ErrNoSendFile
	}
	return c.postForConn(func() {
		switch {
		case c.Closed() || !c.writable():
			done(c, ErrClosed)
		case c.transport() != nil:
			done(c, ErrNoSendFile)
		case c.rareIfSet() != nil && c.rareIfSet().file != nil:
			done(c, errors.New("loop: AsyncSendFile while another file is sent"))
		case n == 0:
			c.whenSent(done)
		default:
			x := c.rareState()
			x.file = &fileSend{f: f, off: off, left: n, done: done}
			// The file starts once what was queued before it is sent.
			c.whenSent(func(c *Conn, err error) {
				if err != nil || x.file == nil {
					return // closeWith told done
				}
				x.file.started = true
				c.sendFileNow()
			})
		}
	})
}

// sendingFile reports whether a file's bytes go before the output queue.
func (c *Conn) sendingFile() bool {
	x := c.rareIfSet()
	return x != nil && x.file != nil && x.file.started
}

// sendFileNow sends what the socket takes of the file; done, once it is
// all sent, then the output queued behind it.
func (c *Conn) sendFileNow() {
	x := c.extra.rare
	fs := x.file
	for fs.left > 0 {
		n, err := sendFile(int(c.fd), fs.f, &fs.off, int(min(fs.left, 1<<30)))
		if n > 0 {
			fs.left -= int64(n)
			c.wrote(n)
			c.loop.stats.SentFile.Add(int64(n))
		}
		if err != nil {
			if sock.WouldBlock(err) {
				c.updateInterest() // writable interest: flush calls back
				return
			}
			c.closeWith(ioError(err))
			return
		}
		if n == 0 { // the file is shorter than said
			c.closeWith(errors.New("loop: AsyncSendFile: the file ended early"))
			return
		}
	}
	x.file = nil
	c.loop.hold(heldDone, c, nil, fs.done)
	if len(x.written) > 0 {
		c.sentQueued(0) // waiters of nothing but the file
	}
	if c.Outbound() > 0 {
		c.flush()
		return
	}
	c.updateInterest()
	c.finishClose()
}

// endFile tells a file's done that the connection closed first.
func (x *connRare) endFile(l *Loop, c *Conn, err error) {
	if fs := x.file; fs != nil {
		x.file = nil
		l.hold(heldDone, c, err, fs.done)
	}
}
