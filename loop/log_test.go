package loop

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"testing"
	"time"
)

// recordHandler is a slog.Handler that sends each record it takes, as its
// message and attributes, to a channel.
type recordHandler struct {
	level   slog.Level
	records chan logRecord
}

type logRecord struct {
	level slog.Level
	msg   string
	attrs map[string]string
}

func (h recordHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= h.level }

func (h recordHandler) Handle(_ context.Context, r slog.Record) error {
	rec := logRecord{level: r.Level, msg: r.Message, attrs: map[string]string{}}
	r.Attrs(func(a slog.Attr) bool {
		rec.attrs[a.Key] = a.Value.String()
		return true
	})
	notify(h.records, rec)
	return nil
}

func (h recordHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h recordHandler) WithGroup(string) slog.Handler      { return h }

// TestDebugEvents: a Debug-level Logger sees a connection's life (opened,
// paused, resumed, closed) and Stop's, as attributes.
func TestDebugEvents(t *testing.T) {
	const size = 4 << 20
	h := recordHandler{level: slog.LevelDebug, records: make(chan logRecord, 64)}
	handler := &funcHandler{data: func(c *Conn) {
		c.Discard(-1)
		c.Write(payload(size)) // above HighWater: paused at once
	}}
	// Small socket buffers: most of the write waits in the loop's queue.
	opts := Options{Loops: 1, Logger: slog.New(h), HighWater: 64 << 10, SocketWriteBuffer: 16 << 10}
	s := startServer(t, handler, opts, "tcp", "127.0.0.1:0")
	c := dial(t, s)
	c.(*net.TCPConn).SetReadBuffer(16 << 10)
	addr := c.LocalAddr().String()
	// expect takes the next record: msg, with the attributes given as
	// key-value pairs ("*": any value).
	expect := func(msg string, attrs ...string) {
		t.Helper()
		r := recv(t, h.records, 10*time.Second, fmt.Sprintf("the %q record", msg))
		if r.msg != msg || r.level != slog.LevelDebug {
			t.Fatalf("got %v record %q %v, want Debug %q", r.level, r.msg, r.attrs, msg)
		}
		for i := 0; i < len(attrs); i += 2 {
			if got, ok := r.attrs[attrs[i]]; !ok || got != attrs[i+1] && attrs[i+1] != "*" {
				t.Fatalf("%q: %s=%q (present %v), want %q; all: %v", msg, attrs[i], got, ok, attrs[i+1], r.attrs)
			}
		}
	}
	expect("loop: connection opened", "loop", "0", "addr", addr)
	c.Write([]byte("go"))
	expect("loop: connection paused", "addr", addr, "queued", "*")
	readN(t, c, size)
	expect("loop: connection resumed", "addr", addr, "queued", "*")
	c.Close()
	expect("loop: connection closed", "addr", addr, "err", "<nil>")
	stop(t, s)
	expect("loop: stop begun", "loops", "1", "open", "0")
	expect("loop: stop ended", "err", "<nil>", "took", "*")
	select {
	case r := <-h.records:
		t.Fatalf("unexpected record %q %v", r.msg, r.attrs)
	default:
	}
}

// TestDebugEventsOff: a Logger at Info, the default level, gets no Debug
// event (and so the loop builds none).
func TestDebugEventsOff(t *testing.T) {
	h := recordHandler{level: slog.LevelInfo, records: make(chan logRecord, 16)}
	s := startServer(t, echoHandler{}, Options{Loops: 1, Logger: slog.New(h)}, "tcp", "127.0.0.1:0")
	c := dial(t, s)
	roundTrip(t, c, []byte("hello"))
	c.Close()
	stop(t, s)
	select {
	case r := <-h.records:
		t.Fatalf("a logger at Info got %v record %q %v", r.level, r.msg, r.attrs)
	default:
	}
}
