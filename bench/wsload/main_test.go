package main

import (
	"bytes"
	"compress/flate"
	"crypto/tls"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/iomux/iomux/bench/internal/wspeer"
	"github.com/iomux/iomux/internal/devcert"
	"github.com/iomux/iomux/loophttp"
	"github.com/iomux/iomux/websocket"
)

// echo is a wspeer server's /ws on iomux's websocket package; wrong makes
// it answer with the message's first byte changed.
type echo struct {
	conns *wspeer.Conns[*websocket.Conn]
	wrong bool
}

func (e echo) OnOpen(c *websocket.Conn) { e.conns.Add(c) }

func (e echo) OnMessage(c *websocket.Conn, m websocket.Message) {
	if e.wrong && len(m.Data) > 0 {
		m.Data[0]++
	}
	c.WriteMessage(m.Opcode, m.Data)
}

func (e echo) OnClose(c *websocket.Conn, _ websocket.CloseCode, _ string, _ error) { e.conns.Remove(c) }

// serve starts a server of wspeer's protocol in this process (TLS if
// withTLS) and returns its address and, for TLS, a CA file that trusts it.
func serve(t *testing.T, withTLS, wrong bool) (addr, ca string) {
	t.Helper()
	h := echo{conns: &wspeer.Conns[*websocket.Conn]{}, wrong: wrong}
	opts := &websocket.Options{Compression: true}
	srv := &loophttp.Server{Handler: wspeer.Mux(func(w http.ResponseWriter, r *http.Request) {
		websocket.Upgrade(w, r, h, opts)
	}, func(msg []byte) int {
		conns := h.conns.All()
		return len(conns) - websocket.Broadcast(conns, websocket.Prepare(websocket.OpBinary, msg, 0))
	})}
	var config *tls.Config
	if withTLS {
		cert, _, err := devcert.Pair("127.0.0.1")
		if err != nil {
			t.Fatal(err)
		}
		config = &tls.Config{Certificates: []tls.Certificate{cert}}
		ca = filepath.Join(t.TempDir(), "ca.pem")
		if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Certificate[0]}), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := srv.Start("tcp", "127.0.0.1:0", config); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return srv.Addrs()[0].String(), ca
}

// load runs wsload with args against addr and returns its JSON result.
func load(t *testing.T, addr string, args ...string) (*result, error) {
	t.Helper()
	var out bytes.Buffer
	args = append([]string{"--addr", addr, "--server-pid", strconv.Itoa(os.Getpid()), "--json",
		"--duration", "300ms", "--warmup", "50ms"}, args...)
	err := run(args, &out)
	var res result
	if err != nil && out.Len() == 0 {
		return &res, err // it failed before measuring
	}
	if jerr := json.Unmarshal(out.Bytes(), &res); jerr != nil {
		t.Fatalf("wsload %s: %v; output %q", strings.Join(args, " "), jerr, out.String())
	}
	return &res, err
}

func TestEcho(t *testing.T) {
	addr, _ := serve(t, false, false)
	res, err := load(t, addr, "--conns", "4", "--size", "1024")
	if err != nil || res.Messages == 0 || res.RTPerSec <= 0 || res.P99us <= 0 {
		t.Fatalf("%v: %+v", err, res)
	}
}

func TestUpgrades(t *testing.T) {
	addr, _ := serve(t, false, false)
	res, err := load(t, addr, "--upgrades", "4")
	if err != nil || res.Messages == 0 || res.UpgradesPerSec <= 0 {
		t.Fatalf("%v: %+v", err, res)
	}
}

// TestIdle: idle connections over TLS with permessage-deflate, then
// broadcasts that reach every one.
func TestIdle(t *testing.T) {
	addr, ca := serve(t, true, false)
	res, err := load(t, addr, "--idle", "40", "--hold", "50ms", "--broadcast", "3", "--tls-ca", ca, "--deflate")
	if err != nil || res.Conns != 40 || len(res.BroadcastMsAll) != 3 || res.BroadcastMs <= 0 {
		t.Fatalf("%v: %+v", err, res)
	}
	if !strings.HasPrefix(res.Extension, "permessage-deflate") || res.TLSVersion != "TLS 1.3" {
		t.Errorf("extension %q, %s: want permessage-deflate over TLS 1.3", res.Extension, res.TLSVersion)
	}
}

func TestMismatch(t *testing.T) {
	addr, _ := serve(t, false, true)
	for _, args := range [][]string{{"--conns", "2"}, {"--upgrades", "2"}, {"--idle", "3", "--hold", "0s"}} {
		if res, err := load(t, addr, args...); err == nil {
			t.Errorf("%v against a wrong echo: %v, %+v", args, err, res)
		}
	}
}

// TestInflateTakeover: a server that keeps its compression context
// refers back to earlier messages, and the client follows.
func TestInflateTakeover(t *testing.T) {
	var z bytes.Buffer
	fw, _ := flate.NewWriter(&z, flate.BestSpeed)
	ws := &wsConn{deflate: true, takeover: true}
	msgs := []string{"hello, context takeover", "hello, context takeover, again", strings.Repeat("x", 40000)}
	for _, m := range msgs {
		z.Reset()
		fw.Write([]byte(m))
		fw.Flush()
		wire := bytes.TrimSuffix(z.Bytes(), deflateTail)
		got, err := ws.inflate(wire)
		if err != nil || string(got) != m {
			t.Fatalf("inflate %q: %q, %v", m, got, err)
		}
	}
	if len(ws.window) != 32<<10 {
		t.Errorf("window %d bytes, want 32 KiB", len(ws.window))
	}
}

func TestUsage(t *testing.T) {
	for _, line := range []string{"", "--addr 127.0.0.1:1 --idle 2 --upgrades 2", "--addr 127.0.0.1:1 --broadcast 2", "--addr 127.0.0.1:1 --size 0"} {
		if err := run(strings.Fields(line), &bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), "usage") {
			t.Errorf("wsload %s: %v, want a usage error", line, err)
		}
	}
}
