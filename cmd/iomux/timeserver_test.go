package main

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// srvTicks connects to a time-server and reads count lines, each of which
// must parse as asctime.
func srvTicks(addr string, count int) error {
	c, err := net.DialTimeout("tcp", addr, srvWait)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(srvWait))
	r := bufio.NewReader(c)
	var last time.Time
	for i := range count {
		line, err := r.ReadString('\n')
		if err != nil {
			return fmt.Errorf("%s: tick %d: %v", c.LocalAddr(), i, err)
		}
		at, err := time.ParseInLocation(time.ANSIC, strings.TrimSuffix(line, "\n"), time.Local)
		if err != nil {
			return fmt.Errorf("%s: tick %q is not asctime: %v", c.LocalAddr(), line, err)
		}
		if at.Before(last) {
			return fmt.Errorf("%s: tick %q earlier than the one before", c.LocalAddr(), line)
		}
		last = at
	}
	return nil
}

// 200 clients at once, each getting the time on arrival and then at every
// interval: at least two ticks each.
func TestTimeServerManyClients(t *testing.T) {
	srvEachBackend(t, func(t *testing.T, backend string) {
		s := srvStart(t, runTimeServer, "--backend", backend, "--loops", "2", "--interval", "100ms")
		const clients = 200
		var wg sync.WaitGroup
		errs := make(chan error, clients)
		for range clients {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs <- srvTicks(s.addr, 3)
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Error(err)
			}
		}
		s.out.waitFor(t, "Got Connection from 127.0.0.1:", clients)
		s.out.waitFor(t, " disconnected", clients) // each timer stopped with its connection
	})
}

func TestServerUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		run  func([]string, serverEnv) error
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
		err := tc.run(tc.args, serverEnv{stdout: &errs, stderr: &errs})
		if !errors.Is(err, errUsage) {
			t.Errorf("%v: got %v, want a usage error", tc.args, err)
		}
	}
}
