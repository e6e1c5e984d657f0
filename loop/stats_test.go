package loop

import (
	"io"
	"log/slog"
	"net"
	"net/http"
	"reflect"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// published returns the Stats AllStats lists now, what a program
// publishes. (No test of this package imports expvar: see
// TestImportRegistersNothing.)
func published(t *testing.T) []Stats {
	t.Helper()
	var list []Stats
	for _, p := range AllStats() {
		list = append(list, p.Stats)
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
	want := Stats{Name: "tcp " + s.Addrs()[0].String(), Open: 1, Total: 1, BytesIn: 15, BytesOut: 15, Waits: st.Waits, Wakeups: st.Wakeups}
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
		t.Fatalf("AllStats = %v does not list this server (%+v)", published(t), st)
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
			t.Fatalf("AllStats still lists the stopped server: %+v", p)
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
	defer holdDescriptorsBelow(t, 1024)()
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

// TestObserve: Options.Observe sees a connection's life in order (open,
// the read, the echo written, its queue drained, EOF, close) between
// Waits, with the bytes that crossed the socket. cmd/iomux turns these
// events into the Python select tutorials' words (its -v tests).
func TestObserve(t *testing.T) {
	var mu sync.Mutex
	var kinds []string
	var read, wrote []byte
	closed := make(chan struct{})
	observe := func(e Event) {
		mu.Lock()
		defer mu.Unlock()
		if e.Loop == nil || (e.Kind != EventWait && e.Kind != EventIdle && e.Conn == nil) {
			t.Errorf("%v event without its Loop or Conn: %+v", e.Kind, e)
		}
		switch e.Kind {
		case EventWait:
			if len(kinds) == 0 || kinds[len(kinds)-1] != "wait" {
				kinds = append(kinds, "wait")
			}
			return
		case EventRead:
			read = append(read, e.Data...)
		case EventWrite:
			wrote = append(wrote, e.Data...)
		case EventClose:
			if e.Err != nil {
				t.Errorf("close event: Err = %v, want nil after a clean EOF", e.Err)
			}
		}
		kinds = append(kinds, e.Kind.String())
	}
	h := &funcHandler{close: func(*Conn, error) { close(closed) }}
	s := startServer(t, h, Options{Loops: 1, Observe: observe}, "tcp", "127.0.0.1:0")
	c := dial(t, s)
	roundTrip(t, c, []byte("This is the message. "))
	c.Close()
	recv(t, closed, 5*time.Second, "OnClose")
	stop(t, s)
	mu.Lock()
	defer mu.Unlock()
	// Waits come between the others; the accept may take one or two.
	got := strings.Join(kinds, " ")
	want := regexp.MustCompile(`^wait (wait )?open (wait )?read write drain wait eof close( wait)*$`)
	if !want.MatchString(got) {
		t.Errorf("events: %s\nwant: open, read, write, drain, eof, close, with waits between", got)
	}
	if string(read) != "This is the message. " || string(wrote) != "This is the message. " {
		t.Errorf("read %q and wrote %q, want the message both ways", read, wrote)
	}
}

// TestStatsNamedPerLoop: each Server's AllStats entry carries its name and
// each loop's figures, so two Servers in one process are told apart and a
// busy loop is seen; Server.Stats is the sum of its Loop.Stats.
func TestStatsNamedPerLoop(t *testing.T) {
	a := startServer(t, echoHandler{}, Options{Loops: 2, Name: "front"}, "tcp", "127.0.0.1:0")
	b := startServer(t, echoHandler{}, Options{Loops: 3, Name: "back"}, "tcp", "127.0.0.1:0")
	for _, s := range []*Server{a, b} {
		c := dial(t, s)
		roundTrip(t, c, []byte("hello"))
	}
	found := map[string]int{}
	for _, p := range AllStats() {
		found[p.Name] = len(p.Loops)
	}
	if found["front"] != 2 || found["back"] != 3 {
		t.Fatalf("AllStats lists %v, want front with 2 loops and back with 3", found)
	}
	st := settled(t, a)
	var sum Stats
	for _, l := range a.Loops() {
		ls := l.Stats()
		sum.Open += ls.Open
		sum.BytesIn += ls.BytesIn
	}
	if st.Name != "front" || sum.Open != st.Open || sum.BytesIn != st.BytesIn || st.BytesIn != 5 {
		t.Fatalf("Server.Stats %+v, sum of Loop.Stats Open %d BytesIn %d", st, sum.Open, sum.BytesIn)
	}
}

// TestImportRegistersNothing: importing loop publishes nothing on
// http.DefaultServeMux (no expvar, hence no /debug/vars): a library must
// not change a program's default mux behind its back. A program that wants
// the counters publishes AllStats itself. This test binary imports no
// expvar of its own, so what it finds is the package's doing.
func TestImportRegistersNothing(t *testing.T) {
	for _, path := range []string{"/debug/vars", "/debug/pprof/"} {
		req, err := http.NewRequest("GET", "http://localhost"+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, pattern := http.DefaultServeMux.Handler(req); pattern != "" {
			t.Errorf("http.DefaultServeMux serves %s (pattern %q) in a program that imports loop", path, pattern)
		}
	}
}

// TestStatsCountersMatch: every Stats counter has its loop counter of the
// same name (loopStats.counters reads them by name) and none is left out.
func TestStatsCountersMatch(t *testing.T) {
	var ls loopStats
	ls.Open.Store(1)
	ls.Panics.Store(2)
	ls.HandshakeErrors.Store(3)
	st := ls.counters()
	if st.Open != 1 || st.Panics != 2 || st.HandshakeErrors != 3 {
		t.Fatalf("counters() = %+v", st)
	}
	lt := reflect.TypeFor[loopStats]()
	for _, f := range reflect.VisibleFields(reflect.TypeOf(st)) {
		if f.Type.Kind() != reflect.Int64 {
			continue
		}
		if _, ok := lt.FieldByName(f.Name); !ok {
			t.Errorf("Stats.%s has no loopStats counter", f.Name)
		}
	}
	for _, f := range reflect.VisibleFields(lt) {
		if _, ok := reflect.TypeOf(st).FieldByName(f.Name); !ok && f.IsExported() {
			t.Errorf("loopStats.%s is not in Stats", f.Name)
		}
	}
}
