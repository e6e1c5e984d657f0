package main

// chat-server --http: the room's web page and its WebSocket, beside TCP
// members (the room's rules for web members are tested in internal/chat).

import (
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	gorilla "github.com/gorilla/websocket"

	"github.com/iomux/iomux/internal/chat/chattest"
)

func TestChatServerHTTP(t *testing.T) {
	s := srvStart(t, runChatServer, "--http", "127.0.0.1:0")
	a := chattest.Join(t, s.addr)
	m := regexp.MustCompile(`the room's web page: http://(\S+)/\n`).FindStringSubmatch(s.errs.String())
	if m == nil {
		t.Fatalf("no web page announced:\n%s", s.errs)
	}
	web := m[1]

	resp, err := http.Get("http://" + web + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if csp := resp.Header.Get("Content-Security-Policy"); resp.StatusCode != http.StatusOK || !strings.HasPrefix(csp, "default-src 'none'") {
		t.Fatalf("GET /: %s, CSP %q", resp.Status, csp)
	}

	ws, _, err := gorilla.DefaultDialer.Dial("ws://"+web+"/ws", http.Header{"Origin": {"http://" + web}})
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	ws.SetReadDeadline(time.Now().Add(srvWait))
	next := func() string {
		t.Helper()
		_, data, err := ws.ReadMessage()
		if err != nil {
			t.Fatal(err)
		}
		return string(data)
	}
	name := ws.LocalAddr().String()
	if got := next(); !strings.HasPrefix(got, "* welcome, "+name+"; 2 in the room;") {
		t.Fatalf("welcome: %q", got)
	}
	a.Lines.Expect(t, "* ["+name+"] entered room")
	ws.WriteMessage(gorilla.TextMessage, []byte("/nick browser"))
	if got := next(); got != "* you are now browser" {
		t.Fatalf("/nick: %q", got)
	}
	a.Lines.Expect(t, "* ["+name+"] is now known as [browser]")
	ws.WriteMessage(gorilla.TextMessage, []byte("hi from the page"))
	a.Lines.Expect(t, "[browser] hi from the page")
	a.Say(t, "hi page\n")
	if got := next(); got != "["+a.Name+"] hi page" {
		t.Fatalf("a's line: %q", got)
	}

	// Stopping: the web member is told, and closed with 1001.
	if err := s.stop(); err != nil {
		t.Fatal(err)
	}
	if got := next(); got != "* the server is shutting down" {
		t.Fatalf("at stop: %q", got)
	}
	if _, _, err := ws.ReadMessage(); !gorilla.IsCloseError(err, gorilla.CloseGoingAway) {
		t.Fatalf("at stop: %v", err)
	}
}
