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
// where the cursor is. The console's CRLF line ends are sent as LF.

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
		cr := false // the last chunk ended in a CR, held back
		for {
			b := make([]byte, 4096)
			n, err := stdin.Read(b[1:])
			data := b[1 : 1+n]
			if cr {
				data, cr = b[:1+n], false
				data[0] = '\r'
			}
			data, cr = crlfToLF(data, err == nil)
			if len(data) == 0 && err == nil {
				continue
			}
			select {
			case f.chunks <- stdinChunk{data, err}:
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

// crlfToLF turns the console's (and Windows text files') CRLF line ends
// into the LF the chat server splits lines on, in place. A CR that ends
// data is held back (held) when more may follow, to be joined to the next
// read; a lone CR is kept.
func crlfToLF(data []byte, more bool) (out []byte, held bool) {
	if more && len(data) > 0 && data[len(data)-1] == '\r' {
		data, held = data[:len(data)-1], true
	}
	out = data[:0]
	for i, b := range data {
		if b == '\r' && i+1 < len(data) && data[i+1] == '\n' {
			continue
		}
		out = append(out, b)
	}
	return out, held
}
