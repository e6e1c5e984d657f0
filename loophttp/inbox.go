package loophttp

import (
	"io"
	"os"
	"sync"
	"time"
)

// inbox carries bytes from the loop, which puts what arrives, to a
// goroutine that reads them (a request body, a hijacked connection). It
// holds at most max (plus one put): when it is full the loop stops reading
// the connection (room says so), and a read that makes room calls wake.
type inbox struct {
	mu   sync.Mutex
	cond sync.Cond
	buf  []byte
	off  int
	max  int
	wake func() // from the reader's goroutine: the loop may read again

	done     bool // every byte is in (EOF follows them)
	closed   bool // the reader closed it: what arrives is dropped
	full     bool // the loop found no room and waits for a read
	err      error
	deadline time.Time   // reads after it fail (SetReadDeadline)
	timer    *time.Timer // wakes readers at the deadline
}

func (in *inbox) init(max int, wake func()) {
	in.max, in.wake = max, wake
	in.cond.L = &in.mu
}

// room is how much more the loop may put (on the loop).
func (in *inbox) room() int {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.closed {
		return 1 << 30 // dropped as it comes
	}
	n := in.max - (len(in.buf) - in.off)
	if n <= 0 {
		in.full = true
	}
	return n
}

// put appends what arrived (on the loop; data is the loop's buffer).
func (in *inbox) put(data []byte) {
	in.mu.Lock()
	if !in.closed {
		if in.off > 0 && in.off == len(in.buf) {
			in.buf, in.off = in.buf[:0], 0
		} else if in.off > 0 && len(in.buf)+len(data) > cap(in.buf) {
			n := copy(in.buf, in.buf[in.off:])
			in.buf, in.off = in.buf[:n], 0
		}
		in.buf = append(in.buf, data...)
		in.cond.Broadcast()
	}
	in.mu.Unlock()
}

// finish says everything is in.
func (in *inbox) finish() {
	in.mu.Lock()
	in.done = true
	in.cond.Broadcast()
	in.mu.Unlock()
}

// fail ends the inbox with err (a malformed chunk, a connection gone).
func (in *inbox) fail(err error) {
	in.mu.Lock()
	if !in.done && in.err == nil {
		in.err = err
	}
	in.cond.Broadcast()
	in.mu.Unlock()
}

// readLocked waits for bytes and copies them to p; with mu held. It
// returns io.EOF once done and drained; errClosed if the reader closed.
func (in *inbox) readLocked(p []byte, errClosed error) (int, error) {
	for in.off == len(in.buf) && !in.done && in.err == nil && !in.closed && !in.pastDeadline() {
		in.cond.Wait()
	}
	switch {
	case in.closed:
		return 0, errClosed
	case in.off < len(in.buf):
		n := copy(p, in.buf[in.off:])
		in.off += n
		if in.off == len(in.buf) {
			in.buf, in.off = in.buf[:0], 0
		}
		if in.full && in.max-(len(in.buf)-in.off) >= in.max/2 {
			in.full = false
			in.mu.Unlock()
			in.wake()
			in.mu.Lock()
		}
		return n, nil
	case in.err != nil:
		return 0, in.err
	case in.done:
		return 0, io.EOF
	}
	return 0, os.ErrDeadlineExceeded
}

func (in *inbox) pastDeadline() bool {
	return !in.deadline.IsZero() && !time.Now().Before(in.deadline)
}

// setDeadline makes reads fail with os.ErrDeadlineExceeded from t on.
func (in *inbox) setDeadline(t time.Time) {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.deadline = t
	if in.timer != nil {
		in.timer.Stop()
		in.timer = nil
	}
	if !t.IsZero() {
		in.timer = time.AfterFunc(time.Until(t), func() {
			in.mu.Lock()
			in.cond.Broadcast()
			in.mu.Unlock()
		})
	}
	in.cond.Broadcast()
}

// close drops what is buffered and what arrives; readers get errClosed.
func (in *inbox) close() {
	in.mu.Lock()
	wake := in.full
	in.closed, in.full = true, false
	in.buf, in.off = nil, 0
	if in.timer != nil {
		in.timer.Stop()
		in.timer = nil
	}
	in.cond.Broadcast()
	in.mu.Unlock()
	if wake {
		in.wake()
	}
}
