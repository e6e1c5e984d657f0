package loop

import (
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// TestHandlerPanics: a panic in OnData, OnClose, a timer or a
// posted function is recovered: the connection it was for is closed with
// a PanicError (OnClose gets it), the panic is logged at Error with its
// stack and counted, and the loop goes on serving the others.
func TestHandlerPanics(t *testing.T) {
	logs := recordHandler{level: slog.LevelError, records: make(chan logRecord, 16)}
	closed := make(chan error, 16)
	h := &funcHandler{
		data: func(c *Conn) {
			switch msg := string(c.Next(-1)); msg {
			case "panic":
				panic("a handler's bug")
			case "panic in OnClose":
				c.SetContext("panic in OnClose")
				c.Close()
			default:
				c.Write([]byte(msg))
			}
		},
		close: func(c *Conn, err error) {
			notify(closed, err)
			if c.Context() == "panic in OnClose" {
				panic("OnClose's bug")
			}
		},
	}
	s := startServer(t, h, Options{Loops: 1, Logger: slog.New(logs)}, "tcp", "127.0.0.1:0")
	other := dial(t, s)
	roundTrip(t, other, []byte("before"))

	expectPanic := func(what string) {
		t.Helper()
		r := recv(t, logs.records, 5*time.Second, "the Error record of "+what)
		if r.msg != "loop: handler panicked" || !strings.Contains(r.attrs["stack"], "goroutine") {
			t.Fatalf("%s: logged %+v, want the panic with its stack", what, r)
		}
		roundTrip(t, other, []byte("still served after "+what))
	}

	bad := dial(t, s)
	bad.Write([]byte("panic"))
	err := recv(t, closed, 5*time.Second, "OnClose of the panicking connection")
	var pe *PanicError
	if !errors.As(err, &pe) || pe.Value != "a handler's bug" || len(pe.Stack) == 0 {
		t.Fatalf("OnClose(%v), want a PanicError with the value and a stack", err)
	}
	expectClosed(t, bad, 5*time.Second)
	expectPanic("OnData")

	c := dial(t, s)
	c.Write([]byte("panic in OnClose"))
	recv(t, closed, 5*time.Second, "OnClose")
	expectPanic("OnClose")

	l := s.Loops()[0]
	onLoop(t, l, func() { l.AfterFunc(0, func() { panic("a timer's bug") }) })
	expectPanic("a timer")
	if err := l.Post(func() { panic("a posted function's bug") }); err != nil {
		t.Fatal(err)
	}
	expectPanic("a posted function")
	if n := settled(t, s).Panics; n != 4 {
		t.Errorf("Stats.Panics = %d, want 4", n)
	}
}
