package chat

// Web members: a browser joins the room over a WebSocket (/ws) from the
// page the room serves (/, webpage/chat.html). Each text message is one
// line, in and out: what a TCP member sends and gets, without the "\n".
//
// The room runs on its own loop, a WebSocket on one of loophttp's: what
// a web member says is posted to the room's loop, and what the room
// writes to web members is posted to their loops, one function per loop
// per turn for all its web members there (loop's "Broadcast across
// loops"), with the turn's bytes shared, not copied.

import (
	"bytes"
	"crypto/sha256"
	_ "embed"
	"encoding/base64"
	"fmt"
	"net/http"
	"sync/atomic"

	"github.com/iomux/iomux/loop"
	"github.com/iomux/iomux/websocket"
)

const (
	// webMessageMax bounds a message from a web member (several lines,
	// each at most MaxLine): past it the WebSocket closes with 1009.
	webMessageMax = 64 << 10
	// webInboxMax bounds what a held web member sends meanwhile (a TCP
	// member is simply not read; a WebSocket on another loop cannot be
	// paused from here): past it the member is disconnected with 1008.
	webInboxMax = 256 << 10
)

// webMember is a web member's WebSocket, as the room sees it.
type webMember struct {
	ws *websocket.Conn

	// On the room's loop.
	gone    bool     // closed or closing: nothing more is written
	held    bool     // its messages wait in inbox until the queues drain
	inbox   [][]byte // messages that came while held
	inBytes int

	// What waits to be sent to it: posted to its loop and not yet
	// written, and its connection's queue as its loop last saw it.
	posted, queued atomic.Int64
	asking         atomic.Bool // a look at queued is posted
}

// outbound is what waits to be sent to w. The connection's queue is its
// loop's to read: while it was not empty at the last look, outbound asks
// again, so a drained queue is seen within a turn of that loop.
func (w *webMember) outbound() int {
	q := w.queued.Load()
	if q > 0 && w.asking.CompareAndSwap(false, true) {
		err := w.ws.Loop().Post(func() {
			w.queued.Store(int64(w.ws.NetConn().Outbound()))
			w.asking.Store(false)
		})
		if err != nil {
			w.asking.Store(false)
		}
	}
	return int(w.posted.Load() + q)
}

// close closes w after what was posted to it (code, reason: the Close
// frame's).
func (w *webMember) close(code websocket.CloseCode, reason string) {
	if !w.gone {
		w.gone = true
		w.ws.AsyncClose(code, reason) // posted behind the writes
	}
}

// webOutput is a turn's output for web members, by loop.
type webOutput map[*loop.Loop][]webWrite

// webWrite is output for one web member: its pieces, each of whole lines.
type webWrite struct {
	w     *webMember
	bufs  [][]byte
	bytes int64
}

// add adds bufs (kept, not copied: a turn's pieces are not changed once
// written) for w.
func (o *webOutput) add(w *webMember, bufs [][]byte) {
	if *o == nil {
		*o = webOutput{}
	}
	ww := webWrite{w: w, bufs: append([][]byte(nil), bufs...)}
	for _, b := range bufs {
		ww.bytes += int64(len(b))
	}
	w.posted.Add(ww.bytes)
	l := w.ws.Loop()
	(*o)[l] = append((*o)[l], ww)
}

// post sends each loop its members' output, in one posted function. A
// loop that refuses it (its queue of posted functions is full) loses its
// members: they are closed with 1013, try again later.
func (o webOutput) post() {
	for l, writes := range o {
		err := l.Post(func() {
			for _, ww := range writes {
				ww.write()
			}
		})
		if err != nil {
			for _, ww := range writes {
				ww.w.posted.Add(-ww.bytes)
				ww.w.ws.AsyncClose(1013, "the server is overloaded")
			}
		}
	}
}

// write sends ww's lines, a text message each, on its loop.
func (ww webWrite) write() {
	ws := ww.w.ws
	for _, b := range ww.bufs {
		for len(b) > 0 {
			line, rest, _ := bytes.Cut(b, []byte{'\n'})
			b = rest
			if ws.WriteText(line) != nil {
				break // closed: OnClose tells the room
			}
		}
	}
	ww.w.posted.Add(-ww.bytes)
	ww.w.queued.Store(int64(ws.NetConn().Outbound()))
}

// webHandler serves a room's web members on loophttp's loops.
type webHandler struct {
	websocket.BaseHandler
	r *room
	l *loop.Loop // the room's
}

// webOptions are /ws's: compression without per-connection state, and
// messages of at most webMessageMax.
var webOptions = &websocket.Options{Compression: true, MaxMessage: webMessageMax}

// toRoom runs fn on the room's loop; if the room cannot take it (stopped,
// or its posted functions are full), ws is closed.
func (h webHandler) toRoom(ws *websocket.Conn, fn func()) {
	if h.l.Post(fn) != nil {
		ws.Close(1001, "the room is not there")
	}
}

func (h webHandler) OnOpen(ws *websocket.Conn) {
	m := &member{web: &webMember{ws: ws}, name: ws.RemoteAddr().String()}
	ws.SetContext(m)
	h.toRoom(ws, func() {
		fmt.Fprintf(h.r.log, "Client %s connected (web)\n", m.name)
		h.r.join(m)
		h.r.flush()
	})
}

func (h webHandler) OnMessage(ws *websocket.Conn, msg websocket.Message) {
	m, _ := ws.Context().(*member)
	if msg.Opcode != websocket.OpText {
		ws.Close(1003, "text messages only: one line each")
		return
	}
	text := bytes.Clone(msg.Data)
	h.toRoom(ws, func() { h.r.webMessage(m, text) })
}

func (h webHandler) OnClose(ws *websocket.Conn, _ websocket.CloseCode, _ string, err error) {
	m, ok := ws.Context().(*member)
	if !ok {
		return
	}
	h.l.Post(func() { // if refused, the room has stopped
		m.web.gone = true
		h.r.held = deleteMember(h.r.held, m)
		h.r.leave(m, err)
	})
}

// webMessage handles a message of web member m on the room's loop: its
// lines, as a TCP member's (a "\n" in it ends a line, as it would
// there), unless m is held (then it waits in m's inbox).
func (r *room) webMessage(m *member, text []byte) {
	w := m.web
	if w.gone || m.quit {
		return
	}
	if w.held {
		if w.inBytes += len(text); w.inBytes > webInboxMax {
			w.close(1008, "sending faster than the room takes")
			return
		}
		w.inbox = append(w.inbox, text)
		return
	}
	for len(text) > 0 && !m.quit {
		line, rest, _ := bytes.Cut(text, []byte{'\n'})
		text = rest
		line = bytes.TrimSuffix(line, []byte{'\r'})
		if len(line) > MaxLine {
			r.tell(m, fmt.Sprintf("* line refused: longer than %d bytes", MaxLine))
			continue
		}
		r.line(m, line)
	}
	r.flush()
	if !w.gone && r.backlog() {
		r.hold(m)
	}
}

// resumeWeb handles what held web member m sent meanwhile, until m is
// held again.
func (r *room) resumeWeb(m *member) {
	w := m.web
	w.held = false
	for len(w.inbox) > 0 && !w.held && !w.gone {
		text := w.inbox[0]
		w.inbox[0] = nil
		w.inbox = w.inbox[1:]
		w.inBytes -= len(text)
		r.webMessage(m, text)
	}
}

// deleteMember returns ms without m.
func deleteMember(ms []*member, m *member) []*member {
	for i, x := range ms {
		if x == m {
			return append(ms[:i], ms[i+1:]...)
		}
	}
	return ms
}

// webPage is the page at /: the room in a browser (plain HTML, CSS and
// JavaScript, no build step, nothing from elsewhere).
//
//go:embed webpage/chat.html
var webPage []byte

// webCSP is the page's Content-Security-Policy: its own script and style
// (inline, by hash), its own WebSocket, nothing else (no other origin,
// no plugin, no frame, no form, no base).
var webCSP = "default-src 'none'; script-src '" + pageHash("script") + "'; style-src '" + pageHash("style") +
	"'; connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// WebHandler serves the room to browsers: the page at / and its
// WebSocket at /ws, on loophttp (under another http.Server, /ws answers
// 501: websocket.Upgrade needs loophttp's loop). Call it once the Server
// started (before, /ws answers 503). Serve it from a loophttp.Server
// whose Loop.WriteTimeout is the room's, so a web member who takes
// nothing is dropped as a TCP member is.
func (s *Server) WebHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Content-Type", "text/html; charset=utf-8")
		hd.Set("Content-Security-Policy", webCSP)
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("Referrer-Policy", "no-referrer")
		hd.Set("Cache-Control", "no-cache")
		w.Write(webPage)
	})
	loops := s.Loops()
	if len(loops) == 0 {
		mux.HandleFunc("GET /ws", func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "the room has not started", http.StatusServiceUnavailable)
		})
		return mux
	}
	h := webHandler{r: s.room, l: loops[0]}
	mux.HandleFunc("GET /ws", func(w http.ResponseWriter, r *http.Request) {
		websocket.Upgrade(w, r, h, webOptions)
	})
	return mux
}

// pageHash is the CSP source of webPage's inline element tag (script,
// style): the SHA-256 of its text, in base64.
func pageHash(tag string) string {
	_, rest, _ := bytes.Cut(webPage, []byte("<"+tag+">"))
	text, _, _ := bytes.Cut(rest, []byte("</"+tag+">"))
	sum := sha256.Sum256(text)
	return "sha256-" + base64.StdEncoding.EncodeToString(sum[:])
}
