package websocket

import (
	"bytes"
	"compress/flate"
	"errors"
	"io"
	"sync"
)

// deflateTail is what a sync flush ends with, and what permessage-deflate
// strips from every compressed message (RFC 7692 section 7.2.1).
var deflateTail = []byte{0x00, 0x00, 0xff, 0xff}

// Inflater inflates a connection's compressed messages (RFC 7692 section
// 7.2.2). With context takeover it keeps the peer's window, the last 2^bits
// bytes of inflated text (32 KiB at most, or what *_max_window_bits
// agreed), between messages; the decompressor itself (about 40 KiB,
// flate's) is taken from a pool for one message and put back, so an idle
// connection holds the window only, and none without context takeover.
type Inflater struct {
	takeover bool
	window   int
	history  []byte
}

// NewInflater returns an Inflater for a peer that compresses with
// windowBits (8 to 15; 0 means 15), keeping its window between messages
// if takeover.
func NewInflater(takeover bool, windowBits int) *Inflater {
	if windowBits == 0 {
		windowBits = 15
	}
	// zlib, the usual compressor, cannot do 8 and uses 9 when asked for 8.
	windowBits = min(max(windowBits, 9), 15)
	return &Inflater{takeover: takeover, window: 1 << windowBits}
}

// WindowSize is the memory an idle connection's Inflater holds: its window
// so far (0 without context takeover).
func (f *Inflater) WindowSize() int { return cap(f.history) }

// decompressor is a pooled flate reader and the source it reads: a
// message's bytes and then the tail the sender stripped.
type decompressor struct {
	fr  io.ReadCloser
	src twoSlices
}

var decompressors = sync.Pool{New: func() any {
	d := &decompressor{}
	d.fr = flate.NewReader(&d.src)
	return d
}}

// errCorrupt is compressed data that is not deflate.
var errCorrupt = errors.New("websocket: compressed message is not valid deflate data")

// Inflate appends to dst the message compressed holds, and returns a
// *CloseError when it is not deflate data (1007) or inflates past limit
// bytes (1009: inflating stops there, so a small frame cannot expand into
// memory: a deflate bomb costs limit bytes at most).
func (f *Inflater) Inflate(dst, compressed []byte, limit int64) ([]byte, error) {
	d := decompressors.Get().(*decompressor)
	defer decompressors.Put(d)
	d.src = twoSlices{a: compressed, b: deflateTail}
	var dict []byte
	if f.takeover {
		dict = f.history
	}
	if err := d.fr.(flate.Resetter).Reset(&d.src, dict); err != nil {
		return dst, invalidPayload(errCorrupt.Error())
	}
	start := len(dst)
	for {
		if len(dst) == cap(dst) {
			dst = append(dst, 0)[:len(dst)]
		}
		room := dst[len(dst):cap(dst)]
		if most := limit + 1 - int64(len(dst)-start); int64(len(room)) > most {
			room = room[:most]
		}
		k, err := d.fr.Read(room)
		dst = dst[:len(dst)+k]
		if int64(len(dst)-start) > limit {
			return dst, tooBig("message inflates past the limit")
		}
		if err == io.EOF || err == io.ErrUnexpectedEOF && d.src.empty() {
			// A message ends at the sync flush: the decompressor then
			// wants the next block header, which never comes.
			break
		}
		if err != nil {
			return dst, invalidPayload(errCorrupt.Error())
		}
	}
	if f.takeover {
		f.remember(dst[start:])
	}
	return dst, nil
}

// remember slides the window over out, the message just inflated.
func (f *Inflater) remember(out []byte) {
	if f.history == nil {
		f.history = make([]byte, 0, f.window)
	}
	if len(out) >= f.window {
		f.history = append(f.history[:0], out[len(out)-f.window:]...)
		return
	}
	if drop := len(f.history) + len(out) - f.window; drop > 0 {
		n := copy(f.history, f.history[drop:])
		f.history = f.history[:n]
	}
	f.history = append(f.history, out...)
}

// twoSlices reads a, then b; a ByteReader, so that flate reads it without
// a bufio.Reader of its own.
type twoSlices struct{ a, b []byte }

func (s *twoSlices) Read(p []byte) (int, error) {
	if len(s.a) == 0 {
		s.a, s.b = s.b, nil
	}
	if len(s.a) == 0 {
		return 0, io.EOF
	}
	n := copy(p, s.a)
	s.a = s.a[n:]
	return n, nil
}

func (s *twoSlices) ReadByte() (byte, error) {
	if len(s.a) == 0 {
		s.a, s.b = s.b, nil
	}
	if len(s.a) == 0 {
		return 0, io.EOF
	}
	c := s.a[0]
	s.a = s.a[1:]
	return c, nil
}

func (s *twoSlices) empty() bool { return len(s.a) == 0 && len(s.b) == 0 }

// Deflater compresses a connection's messages (RFC 7692 section 7.2.1)
// with compress/flate, whose compressor always uses a 32 KiB window: a
// peer that asks for a smaller one (server_max_window_bits < 15 from a
// client) cannot be served, and NegotiateDeflate declines such offers.
//
// A flate.Writer costs about 800 KiB (1.2 MiB at level 1, BestSpeed;
// measured in TestCompressorMemory). Without context takeover, a
// Deflater takes one from a pool per message and puts it back, so
// compressors exist only while compressing, and the Deflater itself keeps
// nothing: NewDeflater returns one per level, shared, safe for concurrent
// use. With context takeover it keeps its own compressor for the
// connection's life (until Release), for one goroutine at a time.
type Deflater struct {
	level    int
	takeover bool
	c        *compressor // with takeover
}

// compressor is a flate.Writer and the buffer it writes to.
type compressor struct {
	w   *flate.Writer
	out appendWriter
}

// plainDeflaters are the Deflaters without context takeover, per level
// (-2 to 9).
var plainDeflaters = func() (d [12]Deflater) {
	for i := range d {
		d[i].level = i - 2
	}
	return d
}()

// NewDeflater returns a Deflater at a compress/flate level (0 means
// flate.BestSpeed), keeping the compression context between messages if
// takeover.
func NewDeflater(level int, takeover bool) *Deflater {
	if level == 0 || level < flate.HuffmanOnly || level > flate.BestCompression {
		level = flate.BestSpeed
	}
	if !takeover {
		return &plainDeflaters[level+2]
	}
	return &Deflater{level: level, takeover: true}
}

// compressors pools compressors per level (-2 to 9).
var compressors [12]sync.Pool

func getCompressor(level int) *compressor {
	if v := compressors[level+2].Get(); v != nil {
		c := v.(*compressor)
		c.w.Reset(&c.out)
		return c
	}
	c := &compressor{}
	c.w, _ = flate.NewWriter(&c.out, level)
	return c
}

// Deflate appends msg, compressed as permessage-deflate sends it (a sync
// flush without its final 00 00 ff ff), to dst.
func (d *Deflater) Deflate(dst, msg []byte) []byte {
	c := d.c
	if c == nil {
		c = getCompressor(d.level)
		if d.takeover {
			d.c = c
		} else {
			defer compressors[d.level+2].Put(c)
		}
	}
	c.out.b = dst
	c.w.Write(msg)
	c.w.Flush()
	out := c.out.b
	c.out.b = nil
	return bytes.TrimSuffix(out, deflateTail)
}

// Release gives back the compressor a Deflater with context takeover
// keeps; a Deflate after it starts a new context.
func (d *Deflater) Release() {
	if d.c != nil {
		compressors[d.level+2].Put(d.c)
		d.c = nil
	}
}

type appendWriter struct{ b []byte }

func (w *appendWriter) Write(p []byte) (int, error) {
	w.b = append(w.b, p...)
	return len(p), nil
}
