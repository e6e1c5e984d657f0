package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/iomux/iomux/internal/iomuxtest"
	"github.com/iomux/iomux/internal/linetest"
)

// srvTicks connects to a time-server and reads count lines, each of which
// must parse as asctime, timing each on arrival: the ticks must come at
// the interval.
//
// The server's timers are fixed-rate (a tick that fires late is followed
// by a shorter gap, so the schedule does not drift), and a loaded machine
// delays both the server's timers and this reader, so a bound on each gap
// would be flaky. What always holds is the schedule itself: tick k (0 is
// sent on arrival) is sent k intervals after the server accepted us, so it
// cannot arrive sooner than k intervals after we dialled; a server that
// ticks early, twice, or ignores the interval breaks that bound (checked
// with 0.8 intervals of room, as the gaps would be). The gaps' upper bound
// is generous: it only catches a server that stops ticking.
func srvTicks(addr string, count int, interval time.Duration) error {
	dialled := time.Now()
	c, err := net.DialTimeout("tcp", addr, srvWait)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(srvWait))
	r := bufio.NewReader(c)
	var last time.Time
	prev := dialled
	for i := range count {
		line, err := r.ReadString('\n')
		if err != nil {
			return fmt.Errorf("%s: tick %d: %v", c.LocalAddr(), i, err)
		}
		arrived := time.Now()
		at, err := time.ParseInLocation(time.ANSIC, strings.TrimSuffix(line, "\n"), time.Local)
		if err != nil {
			return fmt.Errorf("%s: tick %q is not asctime: %v", c.LocalAddr(), line, err)
		}
		if at.Before(last) {
			return fmt.Errorf("%s: tick %q earlier than the one before", c.LocalAddr(), line)
		}
		last = at
		if early := time.Duration(i) * interval * 8 / 10; arrived.Sub(dialled) < early {
			return fmt.Errorf("%s: tick %d arrived %v after connecting, want at least %v (%d intervals of %v)",
				c.LocalAddr(), i, arrived.Sub(dialled), early, i, interval)
		}
		if gap := arrived.Sub(prev); gap > interval+srvTickSlack {
			return fmt.Errorf("%s: %v between ticks %d and %d, interval %v", c.LocalAddr(), gap, i-1, i, interval)
		}
		prev = arrived
	}
	return nil
}

// srvTickSlack is how late a tick may be on a loaded machine.
const srvTickSlack = 10 * time.Second

// 200 clients at once, each getting the time on arrival and then at every
// interval.
func TestTimeServerManyClients(t *testing.T) {
	iomuxtest.ForEachBackend(t, func(t *testing.T, backend string) {
		const interval = 100 * time.Millisecond
		s := srvStart(t, runTimeServer, "--backend", backend, "--loops", "2", "--interval", interval.String())
		const clients = 200
		var wg sync.WaitGroup
		errs := make(chan error, clients)
		for range clients {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs <- srvTicks(s.addr, 4, interval)
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Error(err)
			}
		}
		s.out.WaitFor(t, "Got Connection from 127.0.0.1:", clients)
		s.out.WaitFor(t, " disconnected", clients) // each timer stopped with its connection
	})
}

// The tick check itself: a server that ignores the interval, or ticks
// twice per interval, fails it. (A loaded machine only makes the wrong
// server's sleep longer; it would take 0.6 intervals of delay to pass.)
func TestSrvTicksCatchesEarlyTicks(t *testing.T) {
	const interval = 500 * time.Millisecond
	for _, tc := range []struct {
		name  string
		sleep []time.Duration // before each tick after the first
	}{
		{"no interval", []time.Duration{0, 0, 0}},
		{"two ticks per interval", []time.Duration{interval, 0}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := startPeerServer(t, func(c net.Conn) {
				tick := []byte(time.Now().Format(time.ANSIC) + "\n")
				c.Write(tick)
				for _, d := range tc.sleep {
					time.Sleep(d) // a deliberately wrong server, not synchronisation
					if _, err := c.Write(tick); err != nil {
						return
					}
				}
			})
			if err := srvTicks(srv.addr(), len(tc.sleep)+1, interval); err == nil || !strings.Contains(err.Error(), "want at least") {
				t.Errorf("srvTicks = %v, want an early-tick error", err)
			}
		})
	}
}

func TestServerUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		run  func(*env, []string) error
		args []string
	}{
		{runTimeServer, []string{"--interval", "0s"}},
		{runEchoServer, []string{"--timeout", "-1s"}},
		{runEchoServer, []string{"--backend", "nonesuch"}},
		{runEchoServer, []string{"--loops", "-1"}},
		{runLogServer, []string{"--addr", "no-port"}},
		{runChatServer, []string{"--loops", "2"}}, // one loop by design: no such flag
		{runChatServer, []string{"extra"}},
	} {
		var errs strings.Builder
		err := tc.run(&env{stdout: &errs, stderr: &errs}, tc.args)
		if !errors.Is(err, errUsage) {
			t.Errorf("%v: got %v, want a usage error", tc.args, err)
		}
	}
}

// -v traces the loop in the tutorials' words: each tick is a "sending".
func TestTimeServerVerbose(t *testing.T) {
	s := srvStart(t, runTimeServer, "-v", "--interval", "1h")
	c := srvDial(t, s.addr)
	name := c.LocalAddr().String()
	lines := linetest.ReadLines(t, c)
	lines.Next(t)                 // the tick on arrival
	c.(*net.TCPConn).CloseWrite() // taken as gone
	s.errs.WaitFor(t, "closing "+name+" after reading no data", 1)
	lines.ExpectEOF(t)
	srvExpectTrace(t, s.errs.String(), "starting up on 127.0.0.1 port ", "\nwaiting for the next event\n",
		"new connection from "+name, `sending "`, `\n" to `+name)
}

// A client that shuts down its sending half, or closes, is taken as gone
// at once: the server closes its side then, not ticks later.
func TestTimeServerClosesOnEOF(t *testing.T) {
	iomuxtest.ForEachBackend(t, func(t *testing.T, backend string) {
		s := srvStart(t, runTimeServer, "--backend", backend, "--interval", "1h")
		c := srvDial(t, s.addr)
		c.SetReadDeadline(time.Now().Add(5 * time.Second)) // the next tick is an hour away
		r := bufio.NewReader(c)
		if _, err := r.ReadString('\n'); err != nil {
			t.Fatalf("first tick: %v", err)
		}
		start := time.Now()
		c.(*net.TCPConn).CloseWrite()
		if n, err := r.Read(make([]byte, 1)); n != 0 || err != io.EOF {
			t.Fatalf("after our EOF: read %d bytes, %v; want the server's EOF", n, err)
		}
		t.Logf("the server closed %v after our EOF", time.Since(start).Round(time.Microsecond))
	})
}

// Under a low open-file limit, 2,000 clients that connect, take their
// first tick and close leave no descriptor behind: each is closed at its
// EOF, and a new client is still served. (The tutorial's way held every
// one until two ticks to it failed, and ran out of descriptors after a
// few hundred.)
func TestTimeServerUnderLowFileLimit(t *testing.T) {
	skipOnWindows(t, "Windows has no per-process socket limit (RLIMIT_NOFILE) to lower")
	const limit, cycles = 256, 2000
	p := startProc(t, nil, []string{fmt.Sprintf("%s=%d", procNofileEnv, limit)},
		"time-server", "--interval", "1h")
	fds := func() int {
		entries, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", p.cmd.Process.Pid))
		if err != nil {
			t.Skipf("cannot count the server's descriptors: %v", err)
		}
		return len(entries)
	}
	before := fds()
	tick := func(i int) error {
		c, err := net.DialTimeout("tcp", p.addr, srvWait)
		if err != nil {
			return fmt.Errorf("client %d: %v", i, err)
		}
		defer c.Close()
		c.SetReadDeadline(time.Now().Add(5 * time.Second)) // an unserved client waits for ever
		if _, err := bufio.NewReader(c).ReadString('\n'); err != nil {
			return fmt.Errorf("client %d: no tick: %v (%d descriptors open in the server, limit %d)", i, err, fds(), limit)
		}
		return nil
	}
	start := time.Now()
	for i := range cycles {
		if err := tick(i); err != nil {
			t.Fatal(err)
		}
	}
	took := time.Since(start)
	deadline := time.Now().Add(srvWait)
	for fds() > before+2 && time.Now().Before(deadline) { // the last EOFs may be on their way
		time.Sleep(10 * time.Millisecond)
	}
	t.Logf("%d connect-tick-close cycles in %v; the server holds %d descriptors (%d before; limit %d)", cycles, took.Round(time.Millisecond), fds(), before, limit)
	if n := fds(); n > before+2 {
		t.Errorf("the server holds %d descriptors after the clients left, %d before", n, before)
	}
	if err := tick(cycles); err != nil {
		t.Error(err)
	}
}
