package main

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/iomux/iomux/bench/internal/idleconns"
	"github.com/iomux/iomux/bench/internal/wspeer"
)

// broadcastWait bounds the wait for one broadcast to reach every
// connection.
const broadcastWait = 30 * time.Second

// runIdle opens --idle connections, one echo on each, holds them, and
// reports the server's RSS growth per connection; then, with
// --broadcast, times broadcasts to all of them.
func runIdle(cfg config) (*result, error) {
	res := &result{Mode: "ws-idle", Conns: cfg.idle}
	text := []byte(strings.Repeat("an idle WebSocket connection, echoed once. ", cfg.size/43+1)[:cfg.size])
	open := func(int) (net.Conn, error) {
		ws, err := cfg.dialer.dial()
		if err != nil {
			return nil, err
		}
		ws.SetDeadline(time.Now().Add(handshakeTimeout))
		if bad, err := ws.echo(opText, text); err != nil || bad {
			ws.Close()
			return nil, fmt.Errorf("echo: mismatch %v, %v", bad, err)
		}
		ws.SetDeadline(time.Time{})
		return ws, nil
	}
	// The server's first connection costs it code and pools that no
	// connection after it adds to: not counted.
	first, err := open(0)
	if err != nil {
		return nil, fmt.Errorf("first connection: %w", err)
	}
	res.Extension = first.(*wsConn).extension
	res.noteTLS(first.(*wsConn).Conn)
	first.Close()
	m := idleconns.Measure(cfg.serverPID, cfg.idle, cfg.hold, open, func(i int, err error) {
		res.Note(false, "connection %d: %v", i, err)
	})
	defer idleconns.Close(m.Conns)
	res.Seconds = m.Seconds
	res.Messages = int64(m.Opened)
	res.IdleRSSBeforeKiB, res.IdleRSSAfterKiB, res.IdleKiBPerConn = m.BeforeKiB, m.AfterKiB, m.KiBPerConn
	res.ServerRSSKiB = m.AfterKiB
	if cfg.broadcast > 0 && res.Errors == 0 {
		broadcasts(cfg, m.Conns, res)
	}
	return res, nil
}

// broadcasts POSTs --broadcast messages to /broadcast one after the
// other, each once every connection has the one before, and notes the
// time from each request to the first and the last connection's having
// the message,
// and the CPU the server and this process spent per broadcast.
func broadcasts(cfg config, conns []net.Conn, res *result) {
	var mu sync.Mutex
	fail := func(mismatch bool, format string, args ...any) {
		mu.Lock()
		res.Note(mismatch, format, args...)
		mu.Unlock()
	}
	msgs := make([][]byte, cfg.broadcast)
	for k := range msgs {
		msgs[k] = make([]byte, cfg.size)
		fill(msgs[k], 1<<63|uint64(k))
	}
	base := time.Now()
	arrived := make([][]time.Duration, cfg.broadcast) // per message, per connection: since base
	got := make([]sync.WaitGroup, cfg.broadcast)
	for k := range arrived {
		arrived[k] = make([]time.Duration, len(conns))
		got[k].Add(len(conns))
	}
	for i, c := range conns {
		ws := c.(*wsConn)
		go func() {
			k := 0
			defer func() { // a failed connection gets nothing more
				for ; k < len(msgs); k++ {
					got[k].Done()
				}
			}()
			for ; k < len(msgs); k++ {
				ws.SetReadDeadline(time.Now().Add(broadcastWait))
				op, p, err := ws.read()
				arrived[k][i] = time.Since(base)
				if err != nil || op != opBinary || !bytes.Equal(p, msgs[k]) {
					fail(err == nil, "connection %d, broadcast %d: opcode %d, %d bytes, %v", i, k, op, len(p), err)
					return
				}
				got[k].Done()
			}
		}()
	}
	scheme := "http"
	if cfg.dialer.tls != nil {
		scheme = "https"
	}
	client := &http.Client{Timeout: broadcastWait, Transport: &http.Transport{TLSClientConfig: cfg.dialer.tls}}
	defer client.CloseIdleConnections()
	w := openWindow(cfg.serverPID)
	var firsts []float64
	for k, msg := range msgs {
		sent := time.Since(base)
		resp, err := client.Post(scheme+"://"+cfg.addr+wspeer.BroadcastPath, "application/octet-stream", bytes.NewReader(msg))
		if err != nil {
			fail(false, "POST /broadcast: %v", err)
			return
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if n, _ := strconv.Atoi(strings.TrimSpace(string(body))); resp.StatusCode != http.StatusOK || n != len(conns) {
			fail(false, "POST /broadcast: %s, sent to %q connections of %d", resp.Status, body, len(conns))
		}
		got[k].Wait()
		first, last := slices.Min(arrived[k])-sent, slices.Max(arrived[k])-sent
		res.BroadcastMsAll = append(res.BroadcastMsAll, float64(last.Microseconds())/1e3)
		firsts = append(firsts, float64(first.Microseconds())/1e3)
	}
	res.BroadcastMs, res.BroadcastFirstMs = median(res.BroadcastMsAll), median(firsts)
	c := w.close(int64(len(msgs)))
	res.ServerCPUMsPerBroadcast, res.ClientCPUMsPerBroadcast = c.server/1e3, c.self/1e3
}

func median(s []float64) float64 {
	s = slices.Sorted(slices.Values(s))
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
