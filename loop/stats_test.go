package loop

import (
	"encoding/json"
	"expvar"
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// published returns the Stats the expvar "iomux.loop" lists now.
func published(t *testing.T) []Stats {
	t.Helper()
	v := expvar.Get("iomux.loop")
	if v == nil {
		t.Fatal(`expvar "iomux.loop" not published`)
	}
	var list []Stats
	if err := json.Unmarshal([]byte(v.String()), &list); err != nil {
		t.Fatalf("expvar iomux.loop = %s: %v", v.String(), err)
	}
	return list
}

func TestStats(t *testing.T) {
	h, conns := serverConns(&funcHandler{})
	s := startServer(t, h, Options{Loops: 2}, "tcp", "127.0.0.1:0")
	c := dial(t, s)
	sc := recv(t, conns, 5*time.Second, "OnOpen")
	for range 3 {
		roundTrip(t, c, []byte("hello"))
	}
	st := settled(t, s)
	want := Stats{Open: 1, Total: 1, BytesIn: 15, BytesOut: 15, Waits: st.Waits, Wakeups: st.Wakeups}
	if st != want || st.Waits < 3 {
		t.Fatalf("Stats = %+v, want %+v with Waits >= 3", st, want)
	}
	wakeups := st.Wakeups
	if err := sc.AsyncWrite([]byte("async")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 5)
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadFull(c, buf); err != nil {
		t.Fatal(err)
	}
	st = s.Stats() // before settled's own Posts
	if st.Wakeups != wakeups+1 || settled(t, s).BytesOut != 20 {
		t.Fatalf("after one AsyncWrite: Wakeups %d (was %d), BytesOut %d", st.Wakeups, wakeups, st.BytesOut)
	}

	var found bool
	for _, p := range published(t) {
		found = found || (p.Total == 1 && p.BytesOut == 20 && p.Open == 1)
	}
	if !found {
		t.Fatalf("expvar iomux.loop = %v does not list this server (%+v)", published(t), st)
	}

	c.Close()
	deadline := time.Now().Add(5 * time.Second)
	for s.Stats().Open != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("Open = %d after the client left", s.Stats().Open)
		}
		time.Sleep(time.Millisecond)
	}
	if st := s.Stats(); st.Total != 1 {
		t.Fatalf("Total = %d after the client left, want 1", st.Total)
	}
	stop(t, s)
	for _, p := range published(t) {
		if p.Total == 1 && p.BytesOut == 20 {
			t.Fatalf("expvar still lists the stopped server: %+v", p)
		}
	}
}

// TestSelectFDTooLarge: the select backend cannot watch descriptors from
// 1024 up. A connection that gets one is closed at once; the handler never
// sees it (no OnOpen, so no OnClose), the loop warns with the Selector's
// error and counts it as an accept error, and the server goes on serving.
func TestSelectFDTooLarge(t *testing.T) {
	opened, closed := make(chan struct{}, 4), make(chan error, 4)
	logs := recordHandler{level: slog.LevelWarn, records: make(chan logRecord, 4)}
	s := startServer(t, &funcHandler{
		open:  func(c *Conn) { notify(opened, struct{}{}) },
		close: func(c *Conn, err error) { notify(closed, err) },
	}, Options{Loops: 1, Backend: "select", Logger: slog.New(logs)}, "tcp", "127.0.0.1:0")
	small := dial(t, s)
	roundTrip(t, small, []byte("below 1024"))
	recv(t, opened, 5*time.Second, "OnOpen of the connection below 1024")

	// Take every free descriptor below 1024, so the next accept gets one
	// above.
	var held []int
	defer func() {
		for _, fd := range held {
			unix.Close(fd)
		}
	}()
	for {
		fd, err := unix.Dup(0)
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, fd)
		if fd >= 1024 {
			break
		}
	}
	unix.Close(held[len(held)-1]) // leave the first one above free
	held = held[:len(held)-1]
	c, err := net.Dial("tcp", s.Addrs()[0].String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r := recv(t, logs.records, 5*time.Second, "the warning about the connection above 1024")
	if r.level != slog.LevelWarn || r.msg != "loop: connection dropped: the Selector cannot watch it" ||
		!strings.Contains(r.attrs["err"], "FD_SETSIZE") || r.attrs["addr"] != c.LocalAddr().String() {
		t.Fatalf("warning: %+v", r)
	}
	expectClosed(t, c, 5*time.Second)
	roundTrip(t, small, []byte("still served"))
	select {
	case <-opened:
		t.Error("OnOpen ran for the connection the Selector refused")
	case err := <-closed:
		t.Errorf("OnClose ran (err %v) for a connection whose OnOpen never ran", err)
	default:
	}
	if st := s.Stats(); st.AcceptErrors != 1 {
		t.Errorf("Stats: %+v, want AcceptErrors 1", st)
	}
}

// TestTrace: Options.Trace narrates like the seeds' servers.
func TestTrace(t *testing.T) {
	var out syncBuffer
	closed := make(chan struct{})
	h := &funcHandler{close: func(*Conn, error) { close(closed) }}
	s := startServer(t, h, Options{Loops: 1, Trace: &out}, "tcp", "127.0.0.1:0")
	c := dial(t, s)
	roundTrip(t, c, []byte("This is the message. "))
	c.Close()
	recv(t, closed, 5*time.Second, "OnClose")
	stop(t, s)
	text := out.String()
	for _, want := range []string{
		"waiting for the next event",
		"new connection from 127.0.0.1:",
		`received "This is the message. " from 127.0.0.1:`,
		`sending "This is the message. " to 127.0.0.1:`,
		"closing 127.0.0.1:",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("trace lacks %q:\n%s", want, text)
		}
	}
}
