package iomux

import (
	"errors"
	"slices"
	"testing"
	"time"
)

// TestSelectTutorialServer walks the Python select tutorials' select()
// server: a listening socket in the read list becomes readable when a
// client connects, the accepted connection's message comes back through
// the write list.
func TestSelectTutorialServer(t *testing.T) {
	ln, addr := listenTCP(t)
	client := dialTCP(t, addr)

	rr, ww, xx, err := Select([]int{ln}, nil, []int{ln}, 5*time.Second)
	if err != nil || !slices.Equal(rr, []int{ln}) || len(ww) != 0 || len(xx) != 0 {
		t.Fatalf("Select = %v %v %v, %v; want the listener readable", rr, ww, xx, err)
	}
	conn := acceptConn(t, ln)

	write(t, client, "This is the message.")
	inputs := []int{ln, conn}
	rr, _, _, err = Select(inputs, nil, inputs, 5*time.Second)
	if err != nil || !slices.Equal(rr, []int{conn}) {
		t.Fatalf("Select = %v, %v; want the connection readable", rr, err)
	}
	msg := read(t, conn)
	_, ww, _, err = Select(inputs, []int{conn}, inputs, 5*time.Second)
	if err != nil || !slices.Equal(ww, []int{conn}) {
		t.Fatalf("Select = %v, %v; want the connection writable", ww, err)
	}
	write(t, conn, msg)
	if got := read(t, client); got != msg {
		t.Errorf("echo = %q, want %q", got, msg)
	}

	// The client hangs up: readable with EOF, as the tutorials' server expects.
	shutdownBoth(t, client)
	rr, _, _, err = Select(inputs, nil, inputs, 5*time.Second)
	if err != nil || !slices.Equal(rr, []int{conn}) {
		t.Fatalf("Select after close = %v, %v; want the connection readable", rr, err)
	}
	if got := read(t, conn); got != "" {
		t.Errorf("read %q after peer close, want EOF", got)
	}
}

// TestSelectSocketpairEcho echoes a few messages over a socketpair.
func TestSelectSocketpairEcho(t *testing.T) {
	a, b := socketpair(t)
	for _, msg := range []string{"one", "two", "three"} {
		write(t, a, msg)
		rr, _, _, err := Select([]int{b}, nil, nil, 5*time.Second)
		if err != nil || !slices.Equal(rr, []int{b}) {
			t.Fatalf("Select = %v, %v; want b readable", rr, err)
		}
		got := read(t, b)
		_, ww, _, err := Select(nil, []int{b}, nil, 5*time.Second)
		if err != nil || !slices.Equal(ww, []int{b}) {
			t.Fatalf("Select = %v, %v; want b writable", ww, err)
		}
		write(t, b, got)
		rr, _, _, err = Select([]int{a}, nil, nil, 5*time.Second)
		if err != nil || !slices.Equal(rr, []int{a}) {
			t.Fatalf("Select = %v, %v; want a readable", rr, err)
		}
		if echo := read(t, a); echo != msg {
			t.Errorf("echo = %q, want %q", echo, msg)
		}
	}
}

func TestSelectTimeout(t *testing.T) {
	r, _ := pipe(t)
	for _, timeout := range []time.Duration{0, 30 * time.Millisecond} {
		start := time.Now()
		rr, ww, xx, err := Select([]int{r}, nil, []int{r}, timeout)
		if err != nil || len(rr)+len(ww)+len(xx) != 0 {
			t.Errorf("Select(%v) = %v %v %v, %v; want three empty lists", timeout, rr, ww, xx, err)
		}
		if d := time.Since(start); d < timeout {
			t.Errorf("Select(%v) returned after %v", timeout, d)
		}
	}
}

func TestSelectClosedFD(t *testing.T) {
	r, w, closeR, _ := closablePipe(t)
	closeR()
	_, _, _, err := Select([]int{r}, []int{w}, nil, 0)
	if !errors.Is(err, errNotOpen) {
		t.Errorf("Select on a closed fd: %v, want EBADF", err)
	}
	if _, _, _, err := Select([]int{-1}, nil, nil, 0); !errors.Is(err, ErrBadFD) {
		t.Errorf("Select on fd -1: %v, want ErrBadFD", err)
	}
}

// TestSelectAbove1024: Select is built on poll(2), so FD_SETSIZE is no limit.
func TestSelectAbove1024(t *testing.T) {
	fds := manyPipes(t, 550)
	r, w := fds[len(fds)-2], fds[len(fds)-1]
	if r < 1024 {
		t.Fatalf("highest read end is fd %d, want >= 1024", r)
	}
	write(t, w, "x")
	rr, ww, _, err := Select([]int{fds[0], r}, []int{w}, nil, 5*time.Second)
	if err != nil || !slices.Equal(rr, []int{r}) || !slices.Equal(ww, []int{w}) {
		t.Errorf("Select = %v %v, %v; want [%d] [%d]", rr, ww, err, r, w)
	}
}

// TestSelectDuplicates: an fd listed twice comes back twice and in the
// order given, as Python's select.select does; one fd may be in all lists.
func TestSelectDuplicates(t *testing.T) {
	a, b := socketpair(t)
	c, _ := socketpair(t)
	write(t, b, "x")
	rr, ww, xx, err := Select([]int{c, a, a}, []int{a, c, a}, []int{a}, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(rr, []int{a, a}) || !slices.Equal(ww, []int{a, c, a}) || len(xx) != 0 {
		t.Errorf("Select = %v %v %v; want [%d %d] [%d %d %d] []", rr, ww, xx, a, a, a, c, a)
	}
}

// TestSelectHangupNotAsked: a hung-up fd listed only where a hang-up does
// not count (exceptional, or writable for a pipe's read end) is not
// reported and does not end the wait early, as with Python's select.
func TestSelectHangupNotAsked(t *testing.T) {
	a, _, _, closeB := closableSocketpair(t)
	r, _, _, closeW := closablePipe(t)
	closeB()
	closeW()
	const timeout = 50 * time.Millisecond
	start := time.Now()
	var writers []int
	if hasPipes { // a socket whose peer closed is writable; a pipe's read end never is
		writers = []int{r}
	}
	rr, ww, xx, err := Select(nil, writers, []int{a, r}, timeout)
	if err != nil || len(rr)+len(ww)+len(xx) != 0 {
		t.Errorf("Select = %v %v %v, %v; want a timeout", rr, ww, xx, err)
	}
	if d := time.Since(start); d < timeout {
		t.Errorf("Select(%v) returned after %v: a hang-up nobody asked for ended it", timeout, d)
	}
	rr, _, _, err = Select([]int{a}, nil, []int{a}, timeout) // asked as readable: reported
	if err != nil || !slices.Equal(rr, []int{a}) {
		t.Errorf("Select = %v, %v; want [%d] readable", rr, err, a)
	}
}

// TestSelectUrgent: TCP urgent data lands in the exceptional list.
func TestSelectUrgent(t *testing.T) {
	client, server := tcpPair(t)
	sendOOB(t, client)
	_, _, xx, err := Select(nil, nil, []int{server}, 5*time.Second)
	if err != nil || !slices.Equal(xx, []int{server}) {
		t.Errorf("Select = %v, %v; want the server in the exceptional list", xx, err)
	}
}

func TestEventsString(t *testing.T) {
	for _, c := range []struct {
		ev   Events
		want string
	}{
		{0, "0"},
		{Readable, "Readable"},
		{Readable | Hangup, "Readable|Hangup"},
		{Writable | Error | Invalid, "Writable|Error|Invalid"},
		{Readable | ReadHangup | EdgeTriggered | OneShot | Exclusive, "Readable|ReadHangup|EdgeTriggered|OneShot|Exclusive"},
		{Priority | 1<<12, "Priority|0x1000"},
	} {
		if got := c.ev.String(); got != c.want {
			t.Errorf("Events(%#x).String() = %q, want %q", uint32(c.ev), got, c.want)
		}
	}
}

func TestNewSelector(t *testing.T) {
	names := Backends()
	if len(names) == 0 {
		t.Fatal("Backends() is empty")
	}
	for _, name := range append([]string{"auto", ""}, names...) {
		s, err := NewSelector(name)
		if err != nil {
			t.Fatalf("NewSelector(%q): %v", name, err)
		}
		want := name
		if name == "auto" || name == "" {
			want = names[0]
		}
		if s.Backend() != want {
			t.Errorf("NewSelector(%q).Backend() = %q, want %q", name, s.Backend(), want)
		}
		s.Close()
	}
	if _, err := NewSelector("devpoll"); !errors.Is(err, ErrUnknown) {
		t.Errorf("NewSelector(devpoll): %v, want ErrUnknown", err)
	}
}

// TestSelectHugeFD: an fd number no descriptor can have is an error, not
// truncated to a small fd that happens to be open (1<<32 + 5 was fd 5).
func TestSelectHugeFD(t *testing.T) {
	r, w := pipe(t)
	write(t, w, "x") // r is readable: a truncated huge number must not find it
	for _, fd := range []int{1<<32 + r, -1, 1 << 31} {
		if rr, _, _, err := Select([]int{fd}, nil, nil, 0); err == nil {
			t.Errorf("Select([%d]) = %v, nil; want an error", fd, rr)
		}
	}
}

// TestSelectNothing: with all three lists empty Select sleeps for the
// timeout, on every OS (Winsock's select alone would fail).
func TestSelectNothing(t *testing.T) {
	const timeout = 30 * time.Millisecond
	start := time.Now()
	rr, ww, xx, err := Select(nil, nil, nil, timeout)
	if err != nil || len(rr)+len(ww)+len(xx) != 0 {
		t.Errorf("Select(nil, nil, nil, %v) = %v %v %v, %v; want a timeout", timeout, rr, ww, xx, err)
	}
	if d := time.Since(start); d < timeout {
		t.Errorf("Select returned after %v, want >= %v", d, timeout)
	}
}
