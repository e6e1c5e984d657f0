package loop

import (
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"slices"
	"sync/atomic"
	"testing"
	"time"
)

// lateness is how late a timer may fire on a loaded 2-core machine running
// other tests; timers must never fire early.
const lateness = time.Second

// TestAfterFuncOrder: timers set in a shuffled order, some 1ms apart, fire
// strictly in deadline order, none before its deadline (early is a bug;
// late, up to lateness, is a loaded machine).
func TestAfterFuncOrder(t *testing.T) {
	s := startServer(t, echoHandler{}, Options{Loops: 1}, "", "")
	l := s.Loops()[0]
	delays := []int{30, 10, 50, 20, 40, 11, 12, 31, 1, 2, 3, 49, 21}
	type firing struct {
		ms      int
		due, at time.Time
	}
	fired := make(chan firing, len(delays))
	onLoop(t, l, func() {
		for _, ms := range delays {
			var tm *Timer
			tm = l.AfterFunc(time.Duration(ms)*time.Millisecond, func() {
				notify(fired, firing{ms, epoch.Add(time.Duration(tm.when)), time.Now()})
			})
		}
	})
	var order []int
	var last time.Time
	for range delays {
		f := recv(t, fired, 10*time.Second, "a timer")
		if f.at.Before(f.due) {
			t.Errorf("the %dms timer fired %v before its deadline", f.ms, f.due.Sub(f.at))
		}
		if late := f.at.Sub(f.due); late > lateness {
			t.Errorf("the %dms timer fired %v late", f.ms, late)
		}
		if !f.due.After(last) {
			t.Errorf("the %dms timer (due %v) fired after one due no earlier", f.ms, f.due)
		}
		last = f.due
		order = append(order, f.ms)
	}
	if !slices.IsSorted(order) {
		t.Fatalf("timers fired in order %v", order)
	}
}

// TestAfterFuncNotEarly: a timer set late in a long event batch still
// waits its full duration from the call, not from when the batch began.
func TestAfterFuncNotEarly(t *testing.T) {
	s := startServer(t, echoHandler{}, Options{Loops: 1}, "", "")
	l := s.Loops()[0]
	fired := make(chan time.Duration, 2)
	onLoop(t, l, func() {
		for begin := time.Now(); time.Since(begin) < 50*time.Millisecond; {
			// a handler busy for 50ms
		}
		start := time.Now()
		l.AfterFunc(20*time.Millisecond, func() { notify(fired, time.Since(start)) })
		l.Every(20*time.Millisecond, func() { notify(fired, time.Since(start)) })
	})
	for range 2 {
		if d := recv(t, fired, 5*time.Second, "the timer"); d < 20*time.Millisecond {
			t.Fatalf("a 20ms timer fired %v after it was set", d)
		}
	}
}

func TestEveryAndStop(t *testing.T) {
	s := startServer(t, echoHandler{}, Options{Loops: 1}, "", "")
	l := s.Loops()[0]
	var ticks atomic.Int32
	var after []time.Duration
	done := make(chan struct{})
	cancelled := make(chan bool, 1)
	onLoop(t, l, func() {
		start := time.Now()
		var tick *Timer
		tick = l.Every(10*time.Millisecond, func() {
			after = append(after, time.Since(start))
			if ticks.Add(1) == 5 {
				tick.Stop()
				// A later timer of the same loop proves no sixth tick.
				l.AfterFunc(60*time.Millisecond, func() { close(done) })
			}
		})
		never := l.AfterFunc(20*time.Millisecond, func() { t.Error("a stopped timer fired") })
		notify(cancelled, never.Stop())
	})
	if !recv(t, cancelled, time.Second, "Stop") {
		t.Fatal("Stop of a pending timer reported false")
	}
	recv(t, done, 5*time.Second, "five ticks")
	if n := ticks.Load(); n != 5 {
		t.Fatalf("%d ticks after Stop at 5", n)
	}
	for i, d := range after {
		if want := time.Duration(i+1) * 10 * time.Millisecond; d < want {
			t.Fatalf("tick %d came after %v, before %v", i+1, d, want)
		}
	}
	onLoop(t, l, func() {
		if n := len(l.timers); n != 0 {
			t.Errorf("%d timers left in the heap", n)
		}
	})
}

// TestTimerFromHandler: timers set in OnOpen write to the connection later.
func TestTimerFromHandler(t *testing.T) {
	h := &funcHandler{open: func(c *Conn) {
		start := time.Now()
		c.Loop().AfterFunc(30*time.Millisecond, func() {
			if time.Since(start) >= 30*time.Millisecond {
				c.Write([]byte("late hello\n"))
			} else {
				c.Write([]byte("early hello\n"))
			}
		})
	}}
	s := startServer(t, h, Options{Loops: 2}, "tcp", "127.0.0.1:0")
	for range 3 {
		c := dial(t, s)
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		buf := make([]byte, 64)
		n, err := c.Read(buf)
		if err != nil || string(buf[:n]) != "late hello\n" {
			t.Fatalf("got %q, %v", buf[:n], err)
		}
	}
}

// TestTimerFromOnWaitTimeout: a timer set in OnWaitTimeout bounds the next Wait,
// instead of waiting a whole WaitTimeout more.
func TestTimerFromOnWaitTimeout(t *testing.T) {
	const wait = 2 * time.Second
	fired := make(chan time.Duration, 1)
	var once atomic.Bool
	h := &funcHandler{timeout: func(l *Loop) {
		if once.Swap(true) {
			return
		}
		start := time.Now()
		l.AfterFunc(time.Millisecond, func() { notify(fired, time.Since(start)) })
	}}
	startServer(t, h, Options{Loops: 1, WaitTimeout: wait}, "", "")
	if d := recv(t, fired, 2*wait+lateness, "the timer"); d >= wait/2 {
		t.Fatalf("a 1ms timer set in OnWaitTimeout fired after %v (WaitTimeout %v)", d, wait)
	}
}

func TestWaitTimeout(t *testing.T) {
	timeouts := make(chan *Loop, 100)
	h := &funcHandler{timeout: func(l *Loop) {
		select {
		case timeouts <- l:
		default:
		}
	}}
	s := startServer(t, h, Options{Loops: 2, WaitTimeout: 20 * time.Millisecond}, "tcp", "127.0.0.1:0")
	seen := map[int]bool{}
	for len(seen) < 2 {
		l := recv(t, timeouts, 5*time.Second, "OnWaitTimeout")
		seen[l.Index()] = true
	}
	roundTrip(t, dial(t, s), []byte("still serving"))
}

// TestWaitTimeoutBusy: OnWaitTimeout means a Wait found nothing for
// WaitTimeout; wake-ups from other goroutines (Post, AsyncWrite) are not
// timeouts.
func TestWaitTimeoutBusy(t *testing.T) {
	var timeouts atomic.Int32
	h := &funcHandler{timeout: func(*Loop) { timeouts.Add(1) }}
	s := startServer(t, h, Options{Loops: 1, WaitTimeout: 2 * time.Second}, "", "")
	l := s.Loops()[0]
	for range 25 {
		onLoop(t, l, func() {})
		time.Sleep(10 * time.Millisecond)
	}
	if n := timeouts.Load(); n != 0 {
		t.Fatalf("OnWaitTimeout ran %d times in 25 wake-ups, none of them 2s idle", n)
	}
}

// closeRecorder records each connection's OnClose error by local port of
// the client (the server's RemoteAddr).
type closeRecorder chan closeEvent

type closeEvent struct {
	peer string
	err  error
}

func (r closeRecorder) onClose(c *Conn, err error) {
	notify(r, closeEvent{fmt.Sprint(c.RemoteAddr()), err})
}

func (r closeRecorder) expect(t *testing.T, client net.Conn, what string) error {
	t.Helper()
	ev := recv(t, (<-chan closeEvent)(r), 10*time.Second, "OnClose of "+what)
	if ev.peer != client.LocalAddr().String() {
		t.Fatalf("OnClose for %s (err %v), want %s (%s)", ev.peer, ev.err, client.LocalAddr(), what)
	}
	return ev.err
}

// TestIdleTimeout: Options.IdleTimeout closes the idle connection only; a
// connection that only sends, or only receives, is not idle.
func TestIdleTimeout(t *testing.T) {
	const idle = 500 * time.Millisecond
	closes := make(closeRecorder, 4)
	h := &funcHandler{
		data: func(c *Conn) {
			if string(c.Next(-1)) == "subscribe" { // the server talks from now on
				var tick *Timer
				tick = c.Loop().Every(idle/10, func() {
					if _, err := c.Write([]byte("tick")); err != nil {
						tick.Stop()
					}
				})
			}
		},
		close: closes.onClose,
	}
	s := startServer(t, h, Options{Loops: 1, IdleTimeout: idle}, "tcp", "127.0.0.1:0")
	start := time.Now() // before the dial: the idle clock starts at accept
	quiet, sender, receiver := dial(t, s), dial(t, s), dial(t, s)
	receiver.Write([]byte("subscribe"))
	stop := make(chan struct{})
	sent, received := make(chan error, 1), make(chan error, 1)
	go func() { // sender: writes every idle/10, reads nothing
		for {
			select {
			case <-stop:
				sent <- nil
				return
			case <-time.After(idle / 10):
			}
			if _, err := sender.Write([]byte("ping")); err != nil {
				sent <- err
				return
			}
		}
	}()
	go func() { // receiver: reads the ticks, sends nothing
		buf := make([]byte, 64)
		for {
			select {
			case <-stop:
				received <- nil
				return
			default:
			}
			receiver.SetReadDeadline(time.Now().Add(idle))
			if _, err := receiver.Read(buf); err != nil {
				received <- err
				return
			}
		}
	}()
	err := closes.expect(t, quiet, "the idle connection")
	if !errors.Is(err, ErrTimeout) {
		t.Fatalf("OnClose err = %v, want ErrTimeout", err)
	}
	if d := time.Since(start); d < idle {
		t.Fatalf("idle connection closed after %v, IdleTimeout %v", d, idle)
	}
	expectClosed(t, quiet, time.Second)
	// The active connections outlive several idle periods.
	time.Sleep(3 * idle)
	close(stop)
	if err := <-sent; err != nil {
		t.Fatalf("the sending connection failed: %v", err)
	}
	if err := <-received; err != nil {
		t.Fatalf("the receiving connection failed: %v", err)
	}
	select {
	case ev := <-closes:
		t.Fatalf("an active connection was closed: %s, %v", ev.peer, ev.err)
	default:
	}
	if st := s.Stats(); st.Open != 2 {
		t.Fatalf("%d connections open, want the 2 active ones", st.Open)
	}
}

// TestConnTimeouts covers the per-connection limits set from OnOpen.
func TestConnTimeouts(t *testing.T) {
	const d = 200 * time.Millisecond
	cases := []struct {
		name string
		open func(c *Conn)
		// talk is what the client does meanwhile (nil: nothing); it
		// returns when the connection closes.
		talk func(c net.Conn)
	}{
		{"SetIdleTimeout", func(c *Conn) { c.SetIdleTimeout(d) }, nil},
		{
			// The server writes every d/4, but nothing arrives: the read
			// limit still passes (where an idle limit would not).
			"SetReadTimeout",
			func(c *Conn) {
				c.SetReadTimeout(d)
				c.Loop().Every(d/4, func() { c.Write([]byte("tick")) })
			},
			func(c net.Conn) {
				c.SetReadDeadline(time.Now().Add(10 * time.Second))
				io.Copy(io.Discard, c)
			},
		},
		{
			// The client never reads 16 MiB queued for it.
			"SetWriteTimeout",
			func(c *Conn) {
				c.SetWriteTimeout(d)
				c.Write(payload(16 << 20))
			},
			nil,
		},
		{
			// Output queued later, with a far longer limit also set: the
			// write limit must still be watched.
			"SetWriteTimeout+far deadline",
			func(c *Conn) {
				c.SetDeadline(time.Now().Add(time.Hour))
				c.SetIdleTimeout(time.Hour)
				c.SetWriteTimeout(d)
				c.Loop().AfterFunc(d/2, func() { c.Write(payload(16 << 20)) })
			},
			nil,
		},
		{
			// Talking does not postpone a deadline.
			"SetDeadline",
			func(c *Conn) { c.SetDeadline(time.Now().Add(d)) },
			func(c net.Conn) {
				buf := make([]byte, 4)
				for {
					c.SetDeadline(time.Now().Add(10 * time.Second))
					if _, err := c.Write([]byte("ping")); err != nil {
						return
					}
					if _, err := c.Read(buf); err != nil {
						return
					}
					time.Sleep(d / 10)
				}
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			closes := make(closeRecorder, 1)
			opened := make(chan time.Time, 1)
			h := &funcHandler{
				open: func(c *Conn) {
					notify(opened, time.Now())
					tc.open(c)
				},
				close: closes.onClose,
			}
			s := startServer(t, h, Options{Loops: 1}, "tcp", "127.0.0.1:0")
			c := dial(t, s)
			if tc.talk != nil {
				talked := make(chan struct{})
				go func() { tc.talk(c); close(talked) }()
				t.Cleanup(func() { c.Close(); <-talked })
			}
			start := recv(t, opened, 5*time.Second, "OnOpen")
			err := closes.expect(t, c, tc.name)
			if !errors.Is(err, ErrTimeout) {
				t.Fatalf("OnClose err = %v, want ErrTimeout", err)
			}
			if el := time.Since(start); el < d {
				t.Fatalf("closed after %v, limit %v", el, d)
			}
			t.Logf("OnClose: %v", err)
		})
	}
}

// TestTimerHeap: many timers with random delays, some stopped and some
// reset, fire exactly once each (the stopped ones never), in deadline
// order, none before its deadline.
func TestTimerHeap(t *testing.T) {
	s := startServer(t, echoHandler{}, Options{Loops: 1}, "", "")
	l := s.Loops()[0]
	const n = 1000
	rng := rand.New(rand.NewPCG(3, 4))
	type fire struct {
		id   int
		when time.Time // the deadline it was given
		at   time.Time // when it fired
	}
	var fired []fire
	want := map[int]time.Time{}
	done := make(chan struct{})
	onLoop(t, l, func() {
		timers := make([]*Timer, n)
		for i := range timers {
			d := time.Duration(rng.IntN(200)) * time.Millisecond
			timers[i] = l.AfterFunc(d, func() { fired = append(fired, fire{i, want[i], time.Now()}) })
			want[i] = epoch.Add(time.Duration(timers[i].when))
		}
		for i := range timers {
			switch rng.IntN(4) {
			case 0:
				if !timers[i].Stop() {
					t.Errorf("Stop of pending timer %d reported false", i)
				}
				delete(want, i)
			case 1:
				timers[i].Reset(time.Duration(rng.IntN(200)) * time.Millisecond)
				want[i] = epoch.Add(time.Duration(timers[i].when))
			}
		}
		l.AfterFunc(300*time.Millisecond, func() { close(done) })
	})
	recv(t, done, 10*time.Second, "the last timer")
	if len(fired) != len(want) {
		t.Fatalf("%d timers fired, want %d", len(fired), len(want))
	}
	seen := map[int]bool{}
	for i, f := range fired {
		if _, ok := want[f.id]; !ok || seen[f.id] {
			t.Fatalf("timer %d fired (stopped, or twice)", f.id)
		}
		seen[f.id] = true
		if f.at.Before(f.when) {
			t.Fatalf("timer %d fired %v before its deadline", f.id, f.when.Sub(f.at))
		}
		// Equal deadlines may fire in either order; a later one never first.
		if i > 0 && f.when.Before(fired[i-1].when) {
			t.Fatalf("timer due at %v fired after one due at %v", f.when, fired[i-1].when)
		}
	}
}

// TestShortPeriodCannotStarveIO: a periodic timer whose period is shorter
// than its own run (1 µs, each run busy for 20 µs) fires at most once per
// loop iteration, and a client connecting meanwhile is served; so is one
// on a loop whose WaitTimeout is 1 ns, which does not spin either.
func TestShortPeriodCannotStarveIO(t *testing.T) {
	var fires, waits atomic.Int64
	h := &funcHandler{}
	s := startServer(t, h, Options{Loops: 1, Observe: func(e Event) {
		if e.Kind == EventWait {
			waits.Add(1)
		}
	}}, "tcp", "127.0.0.1:0")
	l := s.Loops()[0]
	var tick *Timer
	onLoop(t, l, func() {
		tick = l.Every(time.Microsecond, func() {
			fires.Add(1)
			for start := time.Now(); time.Since(start) < 20*time.Microsecond; {
			}
		})
	})
	c := dial(t, s)
	roundTrip(t, c, []byte("served while the timer runs"))
	onLoop(t, l, func() { tick.Stop() })
	if f, w := fires.Load(), waits.Load(); f > w+1 {
		t.Errorf("the timer fired %d times in %d loop iterations: more than once per iteration", f, w)
	}

	var idles atomic.Int64
	idle := startServer(t, &funcHandler{timeout: func(*Loop) { idles.Add(1) }},
		Options{Loops: 1, WaitTimeout: time.Nanosecond, Backend: "select"}, "tcp", "127.0.0.1:0") // select waits in µs
	roundTrip(t, dial(t, idle), []byte("served by an idle-timing loop"))
	time.Sleep(100 * time.Millisecond)
	// 1 ns is raised to 1 ms: about 100 idle Waits in 100 ms, not millions.
	if n := idles.Load(); n == 0 || n > 400 {
		t.Errorf("%d idle Waits in 100 ms with WaitTimeout 1ns, want some and at most about one a millisecond", n)
	}
}

// TestTimerFromOnLoopStart: a timer set as the loop starts fires with no
// I/O at all; the first Wait is bounded by it, not endless.
func TestTimerFromOnLoopStart(t *testing.T) {
	fired := make(chan struct{}, 1)
	h := &funcHandler{loopStart: func(l *Loop) {
		l.AfterFunc(10*time.Millisecond, func() { notify(fired, struct{}{}) })
	}}
	startServer(t, h, Options{Loops: 1}, "tcp", "127.0.0.1:0")
	recv(t, fired, 5*time.Second, "the timer set in OnLoopStart")
}
