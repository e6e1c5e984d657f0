package chat

// Web members: a browser's WebSocket (gorilla/websocket here) and TCP
// members in one room.

import (
	"crypto/sha256"
	"encoding/base64"
	"io"
	"net"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	gorilla "github.com/gorilla/websocket"
	"github.com/nats-io/nats-server/v2/server"

	"github.com/iomux/iomux/internal/chat/chattest"
	"github.com/iomux/iomux/internal/linetest"
	"github.com/iomux/iomux/internal/natstest"
	"github.com/iomux/iomux/loop"
	"github.com/iomux/iomux/loophttp"
)

// serveWeb serves s's room to browsers on loophttp, on an ephemeral port,
// and returns its address; cleanup closes it.
func serveWeb(t *testing.T, s *running) string {
	t.Helper()
	hs := &loophttp.Server{Handler: s.srv.WebHandler(), Loop: loop.Options{WriteTimeout: testWriteTimeout}}
	if err := hs.Start("tcp", "127.0.0.1:0", nil); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { hs.Close() })
	return hs.Addrs()[0].String()
}

// browser is a member over a WebSocket: its messages are Lines, one
// line each, and the stream ends when the WebSocket does (closed then
// holds its Close frame's code).
type browser struct {
	ws     *gorilla.Conn
	name   string
	lines  *linetest.Lines
	closed chan int
}

// joinWeb joins the room served at addr over a WebSocket and takes the
// welcome.
func joinWeb(t *testing.T, addr string) *browser {
	t.Helper()
	h := http.Header{"Origin": {"http://" + addr}} // as the page's
	ws, _, err := gorilla.DefaultDialer.Dial("ws://"+addr+"/ws", h)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ws.Close() })
	mine, theirs := net.Pipe()
	w := &browser{ws: ws, name: ws.LocalAddr().String(), closed: make(chan int, 1), lines: linetest.ReadLines(t, theirs)}
	go func() {
		defer mine.Close()
		for {
			_, data, err := ws.ReadMessage()
			if err != nil {
				code := -1
				if ce, ok := err.(*gorilla.CloseError); ok {
					code = ce.Code
				}
				w.closed <- code
				return
			}
			if _, err := mine.Write(append(data, '\n')); err != nil {
				return
			}
		}
	}()
	if got := w.lines.Next(t); !strings.HasPrefix(got, "* welcome, "+w.name+";") {
		t.Fatalf("first message %q, want the welcome", got)
	}
	return w
}

func (w *browser) say(t *testing.T, text string) {
	t.Helper()
	if err := w.ws.WriteMessage(gorilla.TextMessage, []byte(text)); err != nil {
		t.Fatal(err)
	}
}

// expectClose waits for the end of w's stream, closed with code.
func (w *browser) expectClose(t *testing.T, code int) {
	t.Helper()
	w.lines.ExpectEOF(t)
	select {
	case got := <-w.closed:
		if got != code {
			t.Fatalf("closed with %d, want %d", got, code)
		}
	case <-time.After(testWait):
		t.Fatal("not closed")
	}
}

// TestWebMembers: TCP and web members see each other's lines, joins,
// nick changes and leaves; commands work the same; a hostile line is
// text, and a "\n" in a message cannot start a line of its own.
func TestWebMembers(t *testing.T) {
	s := start(t, Config{WriteTimeout: testWriteTimeout})
	web := serveWeb(t, s)
	a := chattest.Join(t, s.addr)
	w := joinWeb(t, web)
	a.Lines.Expect(t, "* ["+w.name+"] entered room")
	b := chattest.Join(t, s.addr)
	chattest.ExpectAll(t, "* ["+b.Name+"] entered room", a)
	w.lines.Expect(t, "* ["+b.Name+"] entered room")

	w.say(t, "hello from the web")
	chattest.ExpectAll(t, "["+w.name+"] hello from the web", a, b)
	a.Say(t, "hello, browser\n")
	w.lines.Expect(t, "["+a.Name+"] hello, browser")
	b.Lines.Expect(t, "["+a.Name+"] hello, browser")

	w.say(t, "/nick webby")
	w.lines.Expect(t, "* you are now webby")
	chattest.ExpectAll(t, "* ["+w.name+"] is now known as [webby]", a, b)
	w.name = "webby"
	w.say(t, "/who")
	w.lines.Expect(t, "* 3 in the room: ["+a.Name+"] [webby] ["+b.Name+"]")
	w.say(t, "/nick "+a.Name)
	w.lines.Expect(t, "* a name may hold letters, digits, - _ and . only")

	// Hostile text: what a member sends reaches the others as it is
	// (the page shows it with textContent), after its sender's name.
	const img = `<img src=x onerror="alert(1)">`
	w.say(t, "/nick "+img)
	w.lines.Expect(t, "* a name may hold letters, digits, - _ and . only")
	a.Say(t, img+"\n")
	w.lines.Expect(t, "["+a.Name+"] "+img)
	b.Lines.Expect(t, "["+a.Name+"] "+img)
	w.say(t, "one\n* [mallory] entered room\r\n\x1b[2J//two")
	for _, m := range []*chattest.Member{a, b} {
		m.Lines.Expect(t, "[webby] one")
		m.Lines.Expect(t, "[webby] * [mallory] entered room")
		m.Lines.Expect(t, `[webby] \x1b[2J//two`)
	}
	w.say(t, strings.Repeat("x", MaxLine+1)+"\nok")
	w.lines.Expect(t, "* line refused: longer than 4096 bytes")
	chattest.ExpectAll(t, "[webby] ok", a, b)

	// A web member who goes is offline; one who quits left the room.
	gone := joinWeb(t, web)
	chattest.ExpectAll(t, "* ["+gone.name+"] entered room", a, b)
	w.lines.Expect(t, "* ["+gone.name+"] entered room")
	gone.ws.NetConn().Close()
	chattest.ExpectAll(t, "* ["+gone.name+"] is offline", a, b)
	w.lines.Expect(t, "* ["+gone.name+"] is offline")

	w.say(t, "/quit\nnot sent")
	w.lines.Expect(t, "* bye")
	w.expectClose(t, gorilla.CloseNormalClosure)
	chattest.ExpectAll(t, "* [webby] left the room", a, b)
	a.Say(t, "/who\n")
	a.Lines.Expect(t, "* 2 in the room: ["+a.Name+"] ["+b.Name+"]")

	// A stopping server tells its web members, and closes with 1001.
	w2 := joinWeb(t, web)
	chattest.ExpectAll(t, "* ["+w2.name+"] entered room", a, b)
	if err := s.stop(); err != nil {
		t.Fatal(err)
	}
	w2.lines.Expect(t, "* the server is shutting down")
	w2.expectClose(t, gorilla.CloseGoingAway)
}

// TestWebPage: / is the page, with a Content-Security-Policy that allows
// its own inline script and style (by hash), its own WebSocket and
// nothing else; the page puts text on screen with textContent only.
func TestWebPage(t *testing.T) {
	s := start(t, Config{})
	web := serveWeb(t, s)
	resp, err := http.Get("http://" + web + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /: %v %v", resp.Status, err)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
		t.Errorf("Content-Type %q", ct)
	}
	csp := resp.Header.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'none'", "connect-src 'self'", "base-uri 'none'", "form-action 'none'", "frame-ancestors 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q: no %q", csp, want)
		}
	}
	for _, tag := range []string{"script", "style"} {
		m := regexp.MustCompile(`(?s)<`+tag+`>(.*?)</`+tag+`>`).FindAllSubmatch(body, -1)
		if len(m) != 1 {
			t.Fatalf("%d inline %s elements, want 1", len(m), tag)
		}
		sum := sha256.Sum256(m[0][1])
		if want := tag + "-src 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"; !strings.Contains(csp, want) {
			t.Errorf("CSP %q: no %q", csp, want)
		}
	}
	for _, bad := range []string{"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", " on", "src=", "href=", "http://", "https://"} {
		if i := strings.Index(string(body), bad); i >= 0 && !(bad == " on" && !regexp.MustCompile(` on[a-z]+=`).Match(body)) {
			t.Errorf("the page holds %q (at %d): no HTML from strings, no inline handlers, nothing from elsewhere", bad, i)
		}
	}
	if resp, err := http.Get("http://" + web + "/other"); err != nil || resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET /other: %v %v", resp.Status, err)
	}
}

// TestWebCluster: a web member on one node and a TCP member on another
// see each other's lines, joins and leaves.
func TestWebCluster(t *testing.T) {
	ns := natstest.Start(t, server.Options{})
	s1 := startNode(t, ns.ClientURL(), "n1", Config{})
	s2 := startNode(t, ns.ClientURL(), "n2", Config{})
	web := serveWeb(t, s1)
	a := chattest.Join(t, s2.addr)
	w := joinWeb(t, web)
	a.WaitLine(t, "* ["+w.name+"] entered room")
	a.Who(t, "* 2 in the room, 2 nodes")
	w.say(t, "/who")
	w.lines.SkipTo(t, "* 2 in the room, 2 nodes: n1: ["+w.name+"]; n2: ["+a.Name+"]")
	w.say(t, "across nodes")
	a.WaitLine(t, "["+w.name+"] across nodes")
	a.Say(t, "back to the web\n")
	w.lines.SkipTo(t, "["+a.Name+"] back to the web")
	w.say(t, "/quit")
	w.lines.Expect(t, "* bye")
	a.WaitLine(t, "* ["+w.name+"] left the room")
}

// TestWebSlowReader: a web member who reads nothing while a TCP member
// floods is dropped once it took nothing for the write timeout (its
// loophttp loop's), the others told as for a TCP member; a reading member
// gets every line meanwhile.
func TestWebSlowReader(t *testing.T) {
	s := start(t, Config{WriteTimeout: testWriteTimeout})
	web := serveWeb(t, s)
	a := chattest.Join(t, s.addr)
	b := chattest.Join(t, s.addr)
	a.Lines.Expect(t, "* ["+b.Name+"] entered room")
	d := gorilla.Dialer{ReadBufferSize: 4096, NetDialContext: (&net.Dialer{Control: smallWindow}).DialContext}
	slow, _, err := d.Dial("ws://"+web+"/ws", http.Header{"Origin": {"http://" + web}})
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	name := slow.LocalAddr().String()
	chattest.ExpectAll(t, "* ["+name+"] entered room", a, b)

	line := []byte(strings.Repeat("f", 4000) + "\n")
	flood := "[" + a.Name + "] " + strings.Repeat("f", 4000)
	notice := "* [" + name + "] was disconnected: took nothing for " + testWriteTimeout.String()
	for sent := 0; ; sent++ {
		if sent == 20000 {
			t.Fatalf("the silent web member was not dropped after %d lines", sent)
		}
		a.Conn.SetWriteDeadline(time.Now().Add(testWait))
		if _, err := a.Conn.Write(line); err != nil {
			t.Fatalf("flood: %v", err)
		}
		got := b.Lines.Next(t)
		if got == notice {
			t.Logf("the silent web member was dropped after %d lines of 4000 bytes", sent)
			break
		}
		if got != flood {
			t.Fatalf("b got %.60q during the flood", got)
		}
	}
	a.Say(t, "still here\n")
	b.Lines.SkipTo(t, "["+a.Name+"] still here")
}
