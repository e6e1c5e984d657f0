package loophttp

import (
	"errors"
	"io"
	"net/http"
	"os"

	"github.com/iomux/iomux/loop"
)

// sniffLen is how much of a body net/http reads to sniff its Content-Type.
const sniffLen = 512

// ReadFrom sends src as the body (io.ReaderFrom, which io.Copy and
// http.ServeContent use): a file (an *os.File, or an io.LimitedReader of
// one, as ServeContent gives it, Range requests included) goes from the
// page cache to the socket with sendfile(2) once the head is out, on plain
// TCP on Linux, as net/http sends it; anything else is copied.
func (w *response) ReadFrom(src io.Reader) (int64, error) {
	f, limited := fileOf(src)
	if f == nil || w.hijacked || w.cn.busy.inline { // inline: the loop cannot wait for itself
		return io.Copy(writerOnly{w}, src)
	}
	// The first bytes go through Write, as net/http sniffs them.
	n, err := io.CopyN(writerOnly{w}, src, sniffLen)
	if err != nil {
		if err == io.EOF {
			err = nil
		}
		return n, err
	}
	if !w.committed {
		w.commit()
	}
	if w.chunking || w.req.Method == http.MethodHead || !bodyAllowedForStatus(w.status) || w.werr != nil {
		m, err := io.Copy(writerOnly{w}, src)
		return n + m, err
	}
	off, err := f.Seek(0, io.SeekCurrent)
	if err != nil {
		m, err := io.Copy(writerOnly{w}, src)
		return n + m, err
	}
	left := int64(-1)
	if limited != nil {
		left = limited.N
	}
	if st, err := f.Stat(); err == nil && st.Mode().IsRegular() {
		if size := st.Size() - off; left < 0 || size < left {
			left = size
		}
	}
	if w.contentLength >= 0 && (left < 0 || w.contentLength-w.written < left) {
		left = w.contentLength - w.written
	}
	if left <= 0 {
		m, err := io.Copy(writerOnly{w}, src)
		return n + m, err
	}
	sent, err := w.cn.sendFile(f, off, left)
	if sent > 0 {
		w.written += sent
		if limited != nil {
			limited.N -= sent
		}
		if _, serr := f.Seek(off+sent, io.SeekStart); serr != nil && err == nil {
			err = serr
		}
	}
	if errors.Is(err, loop.ErrNoSendFile) {
		m, err := io.Copy(writerOnly{w}, src)
		return n + m, err
	}
	if err != nil {
		w.werr = err
	}
	return n + sent, err
}

// sendFile hands the gathered output to the loop, then n bytes of f from
// off, and waits until they are sent: it returns n, or 0 and why not.
func (cn *conn) sendFile(f *os.File, off, n int64) (int64, error) {
	if err := cn.flush(0, false); err != nil {
		return 0, err
	}
	done := make(chan error, 1)
	err := cn.c.AsyncSendFile(f, off, n, func(_ *loop.Conn, err error) { done <- err })
	for errors.Is(err, loop.ErrQueueFull) {
		if err = cn.waitDrained(); err == nil {
			err = cn.c.AsyncSendFile(f, off, n, func(_ *loop.Conn, err error) { done <- err })
		}
	}
	if err == nil {
		err = <-done
	}
	if err != nil {
		return 0, err
	}
	return n, nil
}

// fileOf finds the file under src: src itself, or an io.LimitedReader's.
func fileOf(src io.Reader) (*os.File, *io.LimitedReader) {
	switch r := src.(type) {
	case *os.File:
		return r, nil
	case *io.LimitedReader:
		if f, ok := r.R.(*os.File); ok {
			return f, r
		}
	}
	return nil, nil
}

// writerOnly hides a response's ReadFrom from io.Copy.
type writerOnly struct{ io.Writer }
