//go:build unix

package main

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"

	"github.com/iomux/iomux"
)

// chat-client's stdin on Unix: the Selector waits on it with the socket,
// as in the Python select tutorials.

// editsLine: on a terminal, chat-client edits the typed line itself.
const editsLine = true

// errStdinAgain is readStdin's "nothing to read now".
var errStdinAgain = unix.EAGAIN

// stdinFeed is Windows's stdin goroutine; on Unix there is none.
type stdinFeed struct{}

func (stdinFeed) stop() {}

// watchStdin registers stdin with the Selector. epoll refuses regular
// files (EPERM): such a stdin is always ready, so it is read between waits
// instead.
func (c *chatClient) watchStdin(stdin *os.File) error {
	switch err := c.sel.Register(c.in, iomux.Readable, nil); {
	case errors.Is(err, unix.EPERM):
		c.inFile = true
	case err != nil:
		return fmt.Errorf("stdin: %w", err)
	default:
		c.inWatched = true
	}
	return nil
}

// stdinReady reports whether a stdin that cannot be waited on has
// something to read: a regular file always has (or its EOF).
func (c *chatClient) stdinReady() bool { return true }

// readStdin reads what stdin has: errStdinAgain if nothing now.
func (c *chatClient) readStdin(buf []byte) (int, error) {
	n, err := unix.Read(c.in, buf)
	if err == unix.EINTR {
		err = errStdinAgain
	}
	return n, err
}
