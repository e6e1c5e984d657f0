package loop

import (
	"context"
	"log/slog"
	"time"
)

// warn logs an error event at most once a second per key, so an error
// storm (EMFILE under load) cannot flood the log. args are slog's
// key-value pairs; the loop's index is added.
func (s *Server) warn(l *Loop, key, msg string, args ...any) {
	s.warnMu.Lock()
	now := time.Now()
	if s.lastWarn == nil {
		s.lastWarn = map[string]time.Time{}
	}
	if now.Sub(s.lastWarn[key]) < time.Second {
		s.warnMu.Unlock()
		return
	}
	s.lastWarn[key] = now
	s.warnMu.Unlock()
	s.opts.Logger.Warn(msg, append([]any{"loop", l.index}, args...)...)
}

// debugOn reports whether the Logger takes Debug events. Every Debug event
// is guarded by it, before its attributes are built (RemoteAddr allocates):
// with a logger at Info, the default, an event costs one Enabled call and
// no allocation. Events are per connection or per Stop, never per message.
func (s *Server) debugOn() bool {
	return s.opts.Logger.Enabled(context.Background(), slog.LevelDebug)
}

// debug logs a Debug event of loop l; check debugOn first.
func (l *Loop) debug(msg string, attrs ...slog.Attr) {
	l.srv.opts.Logger.LogAttrs(context.Background(), slog.LevelDebug, msg,
		append([]slog.Attr{slog.Int("loop", l.index)}, attrs...)...)
}
