package websocket

import (
	"bytes"
	"compress/flate"
	"github.com/iomux/iomux/internal/iomuxtest"
	"math/rand/v2"
	"net/http"
	"runtime"
	"sync"
	"testing"
)

// Every offer Autobahn's category 13 makes, and malformed ones.
var offerCases = []struct {
	ext    string
	accept bool
	resp   string // the response element with DeflateConfig{}
}{
	{"permessage-deflate", true, "permessage-deflate; server_no_context_takeover; client_no_context_takeover"},
	{"permessage-deflate; client_no_context_takeover", true, "permessage-deflate; server_no_context_takeover; client_no_context_takeover"},
	{"permessage-deflate; server_no_context_takeover", true, "permessage-deflate; server_no_context_takeover; client_no_context_takeover"},
	{"permessage-deflate; client_max_window_bits", true, "permessage-deflate; server_no_context_takeover; client_no_context_takeover"},
	{"permessage-deflate; client_max_window_bits=8", true, "permessage-deflate; server_no_context_takeover; client_no_context_takeover"},
	{"permessage-deflate; client_max_window_bits=15", true, "permessage-deflate; server_no_context_takeover; client_no_context_takeover"},
	{"permessage-deflate; server_max_window_bits=15", true, "permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=15"},
	{`permessage-deflate; server_max_window_bits="15"`, true, "permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=15"},
	{"permessage-deflate; server_max_window_bits=9", false, ""},
	{"permessage-deflate; server_max_window_bits=9, permessage-deflate", true, "permessage-deflate; server_no_context_takeover; client_no_context_takeover"},
	{"permessage-deflate; server_max_window_bits", false, ""},
	{"permessage-deflate; server_max_window_bits=16", false, ""},
	{"permessage-deflate; client_max_window_bits=7", false, ""},
	{"permessage-deflate; client_max_window_bits=010", false, ""},
	{"permessage-deflate; unknown", false, ""},
	{"permessage-deflate; unknown, permessage-deflate; client_no_context_takeover", true, "permessage-deflate; server_no_context_takeover; client_no_context_takeover"},
	{"permessage-deflate; client_no_context_takeover; client_no_context_takeover", false, ""},
	{"permessage-deflate; server_no_context_takeover=1", false, ""},
	{"x-webkit-deflate-frame", false, ""},
	{"", false, ""},
}

func TestNegotiateDeflate(t *testing.T) {
	for _, c := range offerCases {
		h := http.Header{"Sec-Websocket-Extensions": {c.ext}}
		d, ok := NegotiateDeflate(ParseDeflateOffers(h), DeflateConfig{})
		if ok != c.accept || ok && d.Response.String() != c.resp {
			t.Errorf("%q: ok=%v %q, want ok=%v %q", c.ext, ok, d.Response.String(), c.accept, c.resp)
		}
	}
	// With context takeover allowed, and a window asked of the client.
	h := http.Header{"Sec-Websocket-Extensions": {"permessage-deflate; client_max_window_bits"}}
	d, _ := NegotiateDeflate(ParseDeflateOffers(h), DeflateConfig{ClientContextTakeover: true, ClientMaxWindowBits: 10, ServerContextTakeover: true})
	if got := d.Response.String(); got != "permessage-deflate; client_max_window_bits=10" || !d.ClientTakeover || d.ClientWindowBits != 10 {
		t.Errorf("takeover: %q %+v", got, d)
	}
	// A client refuses a response with what it did not offer.
	for _, resp := range []string{"permessage-deflate; client_max_window_bits=10", "permessage-deflate; foo", "permessage-deflate, permessage-deflate", "x-other"} {
		if _, _, err := AcceptDeflateResponse(http.Header{"Sec-Websocket-Extensions": {resp}}); err == nil {
			t.Errorf("client accepted %q", resp)
		}
	}
}

// TestDeflateRoundTrip is Autobahn's categories 12 and 13 re-derived: for
// every offer and server policy, a client sends compressed text and
// binary messages of many sizes, the server reads and echoes them
// compressed, the client reads the echoes; whole, byte by byte and in
// random cuts.
func TestDeflateRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var msgs [][]byte
	for _, n := range []int{0, 1, 16, 64, 256, 1024, 4096, 32768, 40000} {
		b := make([]byte, n)
		for i := range b {
			b[i] = "abcdefgh "[rng.IntN(9)] // compressible, repetitive text
		}
		msgs = append(msgs, b, b) // twice: context takeover has something to take
	}
	cases := 0
	for oi, c := range offerCases {
		if !c.accept {
			continue
		}
		for ci, cfg := range []DeflateConfig{{}, {ClientContextTakeover: true}, {ClientContextTakeover: true, ClientMaxWindowBits: 9, ServerContextTakeover: true}, {ServerContextTakeover: true}} {
			h := http.Header{"Sec-Websocket-Extensions": {c.ext}}
			sd, _ := NegotiateDeflate(ParseDeflateOffers(h), cfg)
			if sd.Response.ClientMaxWindowBits > 0 || sd.ClientTakeover && sd.ClientWindowBits < 15 {
				continue // a window this package's client never offers to keep to
			}
			cd, ok, err := AcceptDeflateResponse(http.Header{"Sec-Websocket-Extensions": {sd.Response.String()}})
			if !ok || err != nil {
				t.Fatalf("%q %+v: client refused %q: %v", c.ext, cfg, sd.Response, err)
			}
			for _, s := range iomuxtest.Splits {
				if s.Mode == iomuxtest.ByteByByte && (ci > 0 || oi > 1) {
					continue // byte by byte costs; the reader's cuts do not depend on the parameters
				}
				cases++
				client := FrameWriter{Role: Client, Deflater: cd.ClientDeflater(0)}
				server := FrameWriter{Deflater: sd.ServerDeflater(0)}
				var up, down []byte
				for i, m := range msgs {
					op := OpBinary
					if i%4 < 2 {
						op = OpText
					}
					up = client.AppendMessage(up, op, m)
				}
				sr := MessageReader{FrameReader: FrameReader{Compression: true}, Inflater: sd.ServerInflater()}
				g := play(&sr, up, s)
				if g.err != nil || len(g.msgs) != len(msgs) {
					t.Fatalf("%q %+v %s: server read %v", c.ext, cfg, s, g)
				}
				for i, m := range g.msgs {
					if !bytes.Equal(m.Data, msgs[i]) {
						t.Fatalf("%q %+v %s: message %d differs", c.ext, cfg, s, i)
					}
					down = server.AppendMessage(down, m.Opcode, m.Data)
				}
				cr := MessageReader{FrameReader: FrameReader{Role: Client, Compression: true}, Inflater: cd.ClientInflater()}
				g = play(&cr, down, s)
				if g.err != nil || len(g.msgs) != len(msgs) {
					t.Fatalf("%q %+v %s: client read %v", c.ext, cfg, s, g)
				}
				for i, m := range g.msgs {
					if !bytes.Equal(m.Data, msgs[i]) {
						t.Fatalf("%q %+v %s: echo %d differs", c.ext, cfg, s, i)
					}
				}
			}
		}
	}
	t.Logf("%d round trips of %d messages", cases, len(msgs))
}

// TestInflateSmallWindow inflates messages compressed against a window
// the Inflater must have kept between messages, and checks that a window
// of 2^bits bytes is all it keeps.
func TestInflateSmallWindow(t *testing.T) {
	f := NewInflater(true, 10)
	d := NewDeflater(flate.BestCompression, true)
	defer d.Release()
	first := bytes.Repeat([]byte("0123456789abcdef"), 32) // 512 bytes
	for i, m := range [][]byte{first, first, append([]byte("x"), first...)} {
		out, err := f.Inflate(nil, d.Deflate(nil, m), 1<<20)
		if err != nil || !bytes.Equal(out, m) {
			t.Fatalf("message %d: %v", i, err)
		}
	}
	if f.WindowSize() != 1024 {
		t.Errorf("window %d bytes, want 1024", f.WindowSize())
	}
}

// TestDeflateBomb: a small compressed message that inflates past the
// limit is refused with 1009, having cost about the limit in memory.
func TestDeflateBomb(t *testing.T) {
	bomb := NewDeflater(flate.BestCompression, false).Deflate(nil, make([]byte, 64<<20))
	t.Logf("64 MiB of zeros compress to %d bytes", len(bomb))
	f := NewInflater(false, 15)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := f.Inflate(nil, bomb, 1<<20)
	runtime.ReadMemStats(&after)
	if closeCode(err) != CloseMessageTooBig {
		t.Fatalf("err %v, want 1009", err)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 8<<20 {
		t.Errorf("inflating the bomb allocated %d bytes, want about the 1 MiB limit", alloc)
	}
	// Through a MessageReader, as the peer sends it.
	w := FrameWriter{Role: Client}
	wire := w.appendFrame(nil, Header{Fin: true, Compressed: true, Opcode: OpBinary, Length: int64(len(bomb))}, bomb)
	r := MessageReader{FrameReader: FrameReader{Compression: true, MaxMessage: 1 << 20}, Inflater: f}
	if g := play(&r, wire, iomuxtest.Split{Mode: iomuxtest.Whole}); closeCode(g.err) != CloseMessageTooBig {
		t.Errorf("reader: %v", g)
	}
}

func TestInflateCorrupt(t *testing.T) {
	f := NewInflater(false, 15)
	for _, bad := range [][]byte{{0xff, 0xff, 0xff}, {0x07}, bytes.Repeat([]byte{0xfe}, 100)} {
		if _, err := f.Inflate(nil, bad, 1<<20); closeCode(err) != CloseInvalidPayload {
			t.Errorf("%x: %v, want 1007", bad, err)
		}
	}
}

// TestCompressorMemory measures what the package doc states: the memory
// of a flate.Writer per level and of a flate.Reader.
func TestCompressorMemory(t *testing.T) {
	measure := func(build func() any) uint64 {
		const n = 20
		keep := make([]any, 0, n)
		var a, b runtime.MemStats
		runtime.ReadMemStats(&a)
		for range n {
			keep = append(keep, build())
		}
		runtime.ReadMemStats(&b)
		runtime.KeepAlive(keep)
		return (b.TotalAlloc - a.TotalAlloc) / n
	}
	for _, level := range []int{flate.HuffmanOnly, flate.BestSpeed, flate.DefaultCompression, flate.BestCompression} {
		size := measure(func() any { w, _ := flate.NewWriter(nil, level); return w })
		t.Logf("flate.Writer level %d: %d KiB", level, size>>10)
		if size < 256<<10 {
			t.Errorf("flate.Writer level %d: %d bytes: update the package doc", level, size)
		}
	}
	size := measure(func() any { return flate.NewReader(bytes.NewReader(nil)) })
	t.Logf("flate.Reader: %d KiB", size>>10)
	// What an idle connection keeps: its window, with context takeover.
	msg := NewDeflater(0, false).Deflate(nil, bytes.Repeat([]byte("idle "), 20000))
	for _, takeover := range []bool{false, true} {
		f := NewInflater(takeover, 15)
		f.Inflate(nil, msg, 1<<20)
		if want := map[bool]int{false: 0, true: 32 << 10}[takeover]; f.WindowSize() != want {
			t.Errorf("takeover %v: an idle Inflater keeps %d bytes, want %d", takeover, f.WindowSize(), want)
		}
	}
}

// TestPlainDeflaterShared: a Deflater without context takeover is one per
// level, used from many goroutines at once (AsyncWrite, Prepare, every
// loop's connections): each message still comes out whole.
func TestPlainDeflaterShared(t *testing.T) {
	d := NewDeflater(0, false)
	if d != NewDeflater(flate.BestSpeed, false) || d == NewDeflater(0, true) {
		t.Fatal("NewDeflater without takeover: not one per level")
	}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			msg := bytes.Repeat([]byte{byte('a' + g), ' ', 'x'}, 5000)
			f := NewInflater(false, 15)
			for range 50 {
				out, err := f.Inflate(nil, d.Deflate(nil, msg), 1<<20)
				if err != nil || !bytes.Equal(out, msg) {
					t.Errorf("goroutine %d: %v, %d bytes back of %d", g, err, len(out), len(msg))
					return
				}
			}
		})
	}
	wg.Wait()
}
