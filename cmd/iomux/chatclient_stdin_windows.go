package main

import (
	"errors"
	"os"
	"sync"
)

// chat-client's stdin on Windows. Winsock's select and WSAPoll wait on
// sockets only (Python's select module says the same), so a goroutine
// reads stdin, hands each chunk to the client's loop over a channel and
// wakes its Selector. The goroutine blocks on the channel until the loop
// takes the chunk before, so stdin is not read faster than the server
// takes it.
// There is no line editor: the console edits and echoes the line itself
// (its cooked mode), and a message that arrives while you type is printed
// where the cursor is.

// editsLine is false: chat-client does not edit the line in a Windows
// console (see above).
const editsLine = false

// errStdinAgain is readStdin's "nothing to read now".
var errStdinAgain = errors.New("stdin: nothing to read now")

// stdinFeed is the goroutine reading stdin and what it has read.
type stdinFeed struct {
	chunks chan stdinChunk
	next   *stdinChunk // taken from chunks, not yet read
	done   chan struct{}
	once   sync.Once
}

// stdinChunk is one read of stdin: data, or its end (err).
type stdinChunk struct {
	data []byte
	err  error
}

// stop tells the goroutine to end once its read returns (a read that
// blocks on the console cannot be interrupted; the process's exit ends it).
func (f *stdinFeed) stop() {
	if f.done != nil {
		f.once.Do(func() { close(f.done) })
	}
}

// watchStdin starts the goroutine. stdin counts as a file that cannot be
// waited on (inFile); stdinReady says when it has something.
func (c *chatClient) watchStdin(stdin *os.File) error {
	c.inFile = true
	f := &c.feed
	// One chunk of room: the goroutine puts a chunk there, then wakes the
	// Selector (an unbuffered send would wait for a loop that waits for
	// the wake-up); the next chunk waits until the loop took that one.
	f.chunks, f.done = make(chan stdinChunk, 1), make(chan struct{})
	sel := c.sel
	go func() {
		for {
			b := make([]byte, 4096)
			n, err := stdin.Read(b)
			if n == 0 && err == nil {
				continue
			}
			select {
			case f.chunks <- stdinChunk{b[:n], err}:
				sel.Wake()
			case <-f.done:
				return
			}
			if err != nil {
				return
			}
		}
	}()
	return nil
}

// stdinReady takes the next chunk from the goroutine, if one is there.
func (c *chatClient) stdinReady() bool {
	f := &c.feed
	if f.next == nil {
		select {
		case ch := <-f.chunks:
			f.next = &ch
		default:
		}
	}
	return f.next != nil
}

// readStdin returns the chunk stdinReady took (at most len(buf) of it at a
// time), or errStdinAgain.
func (c *chatClient) readStdin(buf []byte) (int, error) {
	f := &c.feed
	if f.next == nil {
		return 0, errStdinAgain
	}
	n := copy(buf, f.next.data)
	f.next.data = f.next.data[n:]
	if len(f.next.data) > 0 {
		return n, nil
	}
	err := f.next.err
	f.next = nil
	if n > 0 {
		if err != nil { // the data now, the end on the next call
			f.next = &stdinChunk{err: err}
		}
		return n, nil
	}
	return 0, err
}
