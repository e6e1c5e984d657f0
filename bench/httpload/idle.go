package main

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"os"
	"time"

	"github.com/iomux/iomux/bench/internal/idleconns"
)

// runIdle opens --idle keep-alive connections, one request on each, holds
// them, and reports the server's RSS growth per connection.
func runIdle(cfg config) (*result, error) {
	res := &result{Mode: "http-idle", Addr: cfg.addr, Path: cfg.path, Conns: cfg.idle, Pipeline: 1}
	var conf *tls.Config
	if cfg.tlsCA != "" {
		pem, err := os.ReadFile(cfg.tlsCA)
		if err != nil {
			return nil, err
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("--tls-ca %s: no certificate", cfg.tlsCA)
		}
		host, _, _ := net.SplitHostPort(cfg.addr)
		conf = &tls.Config{RootCAs: pool, ServerName: host}
		res.TLS = true
	}
	get := func() (net.Conn, error) {
		c, err := net.DialTimeout("tcp", cfg.addr, 10*time.Second)
		if err != nil {
			return nil, err
		}
		c.SetDeadline(time.Now().Add(30 * time.Second))
		if conf != nil {
			c = tls.Client(c, conf)
		}
		req := fmt.Sprintf("GET %s HTTP/1.1\r\nHost: %s\r\n\r\n", cfg.path, cfg.addr)
		if _, err := c.Write([]byte(req)); err != nil {
			c.Close()
			return nil, err
		}
		if err := readResponse(bufio.NewReaderSize(c, 1024), cfg.expect); err != nil {
			c.Close()
			return nil, err
		}
		c.SetDeadline(time.Time{})
		return c, nil
	}
	// The server's first request (and handshake) costs it code and pools
	// that no connection after it adds to: not counted.
	first, err := get()
	if err != nil {
		return nil, fmt.Errorf("first request: %w", err)
	}
	if tc, ok := first.(*tls.Conn); ok {
		st := tc.ConnectionState()
		res.TLSVersion, res.TLSCipher, res.TLSGroup = tls.VersionName(st.Version), tls.CipherSuiteName(st.CipherSuite), st.CurveID.String()
	}
	first.Close()
	m := idleconns.Measure(cfg.serverPID, cfg.idle, cfg.hold, func(int) (net.Conn, error) { return get() }, func(i int, err error) {
		res.Note(false, "connection %d: %v", i, err)
	})
	defer idleconns.Close(m.Conns)
	res.Seconds = m.Seconds
	res.Requests = int64(m.Opened)
	res.IdleRSSBeforeKiB, res.IdleRSSAfterKiB, res.IdleKiBPerConn = m.BeforeKiB, m.AfterKiB, m.KiBPerConn
	res.ServerRSSKiB = m.AfterKiB
	return res, nil
}
