package loop

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/iomux/iomux/internal/devcert"
)

// testCerts are a certificate for localhost and 127.0.0.1 and the pool
// that trusts it, made once.
var testCerts = sync.OnceValues(func() (*tls.Certificate, *x509.CertPool) {
	cert, pool, err := devcert.Pair("localhost", "127.0.0.1")
	if err != nil {
		panic(err)
	}
	return &cert, pool
})

func serverTLS() *tls.Config {
	cert, _ := testCerts()
	return &tls.Config{Certificates: []tls.Certificate{*cert}}
}

func clientTLS(version uint16) *tls.Config {
	_, pool := testCerts()
	return &tls.Config{RootCAs: pool, ServerName: "localhost", MinVersion: version, MaxVersion: version}
}

// startTLSServer serves h over TLS on an ephemeral port.
func startTLSServer(t testing.TB, h Handler, opts Options, config *tls.Config) *Server {
	t.Helper()
	s := NewServer(h, opts)
	if err := s.ListenTLS("tcp", "127.0.0.1:0", config); err != nil {
		t.Fatal(err)
	}
	return start(t, s)
}

// dialTLS connects a crypto/tls client and completes its handshake.
func dialTLS(t testing.TB, s *Server, config *tls.Config) *tls.Conn {
	t.Helper()
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 10 * time.Second}, "tcp", s.Addrs()[0].String(), config)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// TestTLSEcho: crypto/tls clients (TLS 1.2 and 1.3) against ListenTLS on
// every backend: the handler echoes plaintext through Next and Write,
// sees the negotiated state in OnOpen, and 16 MiB comes back byte for
// byte.
func TestTLSEcho(t *testing.T) { forEachBackend(t, testTLSEcho) }

func testTLSEcho(t *testing.T, backend string) {
	for _, version := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		t.Run(tls.VersionName(version), func(t *testing.T) {
			states := make(chan tls.ConnectionState, 4)
			h := &funcHandler{open: func(c *Conn) {
				if st, ok := c.TLS(); ok {
					notify(states, st)
				}
			}}
			conf := serverTLS()
			conf.NextProtos = []string{"iomux-echo"}
			s := startTLSServer(t, h, Options{Loops: 2, Backend: backend}, conf)
			cc := clientTLS(version)
			cc.NextProtos = []string{"iomux-echo"}
			c := dialTLS(t, s, cc)
			roundTrip(t, c, []byte("This is the message. "))
			st := recv(t, states, 5*time.Second, "OnOpen with the TLS state")
			if !st.HandshakeComplete || st.Version != version || st.NegotiatedProtocol != "iomux-echo" || st.ServerName != "localhost" {
				t.Errorf("state in OnOpen: complete %v, version %s, ALPN %q, SNI %q",
					st.HandshakeComplete, tls.VersionName(st.Version), st.NegotiatedProtocol, st.ServerName)
			}
			big := payload(16 << 20)
			errs := make(chan error, 1)
			go func() { _, err := c.Write(big); errs <- err }()
			got := make([]byte, len(big))
			c.SetReadDeadline(time.Now().Add(60 * time.Second))
			if _, err := io.ReadFull(c, got); err != nil {
				t.Fatal(err)
			}
			if err := <-errs; err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, big) {
				t.Fatal("16 MiB through TLS came back different")
			}
			if st := settled(t, s); st.Handshakes != 1 || st.HandshakeErrors != 0 || st.Handshaking != 0 {
				t.Errorf("Stats: %d handshakes, %d failed, %d running; want 1, 0, 0", st.Handshakes, st.HandshakeErrors, st.Handshaking)
			}
		})
	}
}

// TestTLSNoGoroutinePerConnection: 200 established TLS connections cost
// no goroutine each: once the handshakes are done, the pool's goroutines
// are gone.
func TestTLSNoGoroutinePerConnection(t *testing.T) {
	s := startTLSServer(t, &funcHandler{}, Options{Loops: 2}, serverTLS())
	before := runtime.NumGoroutine()
	for i := range 200 {
		c := dialTLS(t, s, clientTLS(tls.VersionTLS13))
		if i%50 == 0 {
			roundTrip(t, c, []byte("still echoing"))
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		st := settled(t, s)
		n := runtime.NumGoroutine()
		if st.Handshakes == 200 && st.Handshaking == 0 && n <= before+2 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines with 200 TLS connections open, %d before (%d handshakes done, %d running)",
				n, before, st.Handshakes, st.Handshaking)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestTLSCloseNotify: Close sends what is queued, then close_notify (the
// client reads io.EOF, not a truncation); CloseWrite sends close_notify
// and the connection still reads.
func TestTLSCloseNotify(t *testing.T) {
	got := make(chan string, 1)
	big := payload(2 << 20)
	h := &funcHandler{data: func(c *Conn) {
		msg := string(c.Next(-1))
		switch msg {
		case "close":
			c.Write(big)
			c.Close()
		case "half":
			c.Write([]byte("bye"))
			c.CloseWrite()
		default:
			notify(got, msg)
		}
	}}
	s := startTLSServer(t, h, Options{Loops: 1}, serverTLS())
	c := dialTLS(t, s, clientTLS(tls.VersionTLS13))
	c.Write([]byte("close"))
	c.SetReadDeadline(time.Now().Add(30 * time.Second))
	all, err := io.ReadAll(c)
	if err != nil || !bytes.Equal(all, big) {
		t.Fatalf("read %d bytes, %v; want the 2 MiB then a clean EOF (close_notify)", len(all), err)
	}

	h2 := dialTLS(t, s, clientTLS(tls.VersionTLS12))
	h2.Write([]byte("half"))
	h2.SetReadDeadline(time.Now().Add(10 * time.Second))
	if rest, err := io.ReadAll(h2); err != nil || string(rest) != "bye" {
		t.Fatalf("after CloseWrite: %q, %v; want bye then EOF", rest, err)
	}
	h2.Write([]byte("still heard"))
	if msg := recv(t, got, 10*time.Second, "input after CloseWrite"); msg != "still heard" {
		t.Fatalf("read %q after CloseWrite", msg)
	}
}

// TestTLSBadInput: plain text, random bytes and an SSLv2-looking hello
// are refused at once; a truncated ClientHello and a client that says
// nothing are closed after HandshakeTimeout. None reaches OnOpen or
// OnClose, each is counted in Stats.HandshakeErrors, and an established
// connection is served meanwhile.
func TestTLSBadInput(t *testing.T) {
	opened := make(chan struct{}, 16)
	h := &funcHandler{open: func(*Conn) { notify(opened, struct{}{}) }, close: func(c *Conn, err error) {}}
	const timeout = time.Second // far from both "at once" and "never", on a busy machine
	s := startTLSServer(t, h, Options{Loops: 1, HandshakeTimeout: timeout}, serverTLS())
	good := dialTLS(t, s, clientTLS(tls.VersionTLS13))
	roundTrip(t, good, []byte("before"))
	recv(t, opened, 5*time.Second, "OnOpen of the good client")

	hello := clientHello(t)
	cases := []struct {
		name    string
		send    []byte
		timeout bool // closed by the timeout, not at once
	}{
		{"plain text", []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), false},
		{"random bytes", payload(3000), false},
		{"sslv2 hello", []byte{0x80, 0x2e, 0x01, 0x00, 0x02}, false},
		{"truncated ClientHello", hello[:len(hello)/2], true},
		{"says nothing", nil, true},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now() // before the connect: the timeout runs from the server's accept
			c := dial(t, s)
			c.Write(tc.send)
			c.SetReadDeadline(time.Now().Add(10 * time.Second))
			io.Copy(io.Discard, c) // an alert, maybe, then the close
			took := time.Since(start)
			if tc.timeout && took < timeout {
				t.Errorf("closed after %v, before the %v handshake timeout", took, timeout)
			}
			if !tc.timeout && took >= timeout {
				t.Errorf("closed after %v: garbage should be refused at once, not by the %v timeout", took, timeout)
			}
			roundTrip(t, good, []byte(fmt.Sprint("still served ", i)))
			if st := settled(t, s); st.HandshakeErrors != int64(i+1) || st.Open != 1 {
				t.Errorf("Stats: %d handshake errors, %d open; want %d and 1", st.HandshakeErrors, st.Open, i+1)
			}
		})
	}
	select {
	case <-opened:
		t.Error("OnOpen ran for a connection whose handshake failed")
	default:
	}
}

// clientHello returns the first flight a crypto/tls client sends.
func clientHello(t *testing.T) []byte {
	t.Helper()
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	go tls.Client(a, clientTLS(tls.VersionTLS13)).Handshake()
	buf := make([]byte, 4096)
	b.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, err := b.Read(buf)
	if err != nil {
		t.Fatal(err)
	}
	return buf[:n]
}

// TestTLSHandshakeStorm: 1,000 clients handshake at once (more than
// MaxHandshakes: the rest wait their turn) while an established
// connection echoes: its round trips go on, every handshake completes,
// and afterwards nothing is left running.
func TestTLSHandshakeStorm(t *testing.T) {
	s := startTLSServer(t, &funcHandler{}, Options{Loops: 2, MaxHandshakes: 8}, serverTLS())
	good := dialTLS(t, s, clientTLS(tls.VersionTLS13))
	clients := 1000
	if raceEnabled {
		clients = 300 // the race detector makes each handshake many times slower
	}
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	conns := make(chan *tls.Conn, clients)
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := tls.DialWithDialer(&net.Dialer{Timeout: 30 * time.Second}, "tcp", s.Addrs()[0].String(), clientTLS(tls.VersionTLS12))
			if err != nil {
				errs <- err
				return
			}
			conns <- c
		}()
	}
	stormOver := make(chan struct{})
	go func() { wg.Wait(); close(stormOver) }()
	worst, trips := time.Duration(0), 0
	for done := false; !done; {
		select {
		case <-stormOver:
			done = true
		default:
		}
		start := time.Now()
		roundTrip(t, good, []byte("during the storm"))
		worst = max(worst, time.Since(start))
		trips++
	}
	close(conns)
	for c := range conns {
		c.Close()
	}
	close(errs)
	for err := range errs {
		t.Errorf("handshake: %v", err)
	}
	t.Logf("%d round trips during %d handshakes, the slowest %v", trips, clients, worst)
	// Generous: a loop that waited for handshakes would take seconds; one
	// that does not is slowed only by sharing two cores with them.
	if worst > 2*time.Second*wineSlowdown {
		t.Errorf("a round trip on the established connection took %v during the handshakes", worst)
	}
	if st := settled(t, s); st.Handshakes != int64(clients)+1 || st.HandshakeErrors != 0 {
		t.Errorf("Stats: %d handshakes, %d failed; want %d and 0", st.Handshakes, st.HandshakeErrors, clients+1)
	}
}

// TestTLSClientCertificatesAndSNI: GetConfigForClient picks the config by
// server name, a client certificate is required and verified, and the
// handler sees both in the state.
func TestTLSClientCertificatesAndSNI(t *testing.T) {
	cert, pool := testCerts()
	states := make(chan tls.ConnectionState, 2)
	h := &funcHandler{open: func(c *Conn) {
		st, _ := c.TLS()
		notify(states, st)
	}}
	conf := &tls.Config{GetConfigForClient: func(hello *tls.ClientHelloInfo) (*tls.Config, error) {
		if hello.ServerName != "localhost" {
			return nil, fmt.Errorf("no certificate for %q", hello.ServerName)
		}
		if !strings.HasPrefix(hello.Conn.RemoteAddr().String(), "127.0.0.1:") {
			return nil, fmt.Errorf("ClientHelloInfo.Conn has no real address: %v", hello.Conn.RemoteAddr())
		}
		return &tls.Config{Certificates: []tls.Certificate{*cert}, ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: pool}, nil
	}}
	s := startTLSServer(t, h, Options{Loops: 1}, conf)
	cc := clientTLS(tls.VersionTLS13)
	cc.Certificates = []tls.Certificate{*cert}
	c := dialTLS(t, s, cc)
	roundTrip(t, c, []byte("with a certificate"))
	st := recv(t, states, 5*time.Second, "OnOpen")
	if len(st.PeerCertificates) != 1 || st.ServerName != "localhost" {
		t.Fatalf("state: %d peer certificates, SNI %q", len(st.PeerCertificates), st.ServerName)
	}
	noCert := clientTLS(tls.VersionTLS13)
	bad, err := tls.Dial("tcp", s.Addrs()[0].String(), noCert)
	if err == nil {
		defer bad.Close()
		bad.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, err = bad.Read(make([]byte, 1)) // TLS 1.3: the refusal comes after the client's Finished
	}
	if err == nil {
		t.Fatal("a client without a certificate was served")
	}
	if st := settledWhen(t, s, func(st Stats) bool { return st.HandshakeErrors == 1 }); st.HandshakeErrors != 1 {
		t.Errorf("Stats: %d handshake errors, want 1", st.HandshakeErrors)
	}
}

// TestDialTLS: DialTLS from a client-only Server to a ListenTLS server
// echoes; one to a server with an untrusted certificate fails with the
// verification error and never opens.
func TestDialTLS(t *testing.T) {
	srv := startTLSServer(t, &funcHandler{}, Options{Loops: 1}, serverTLS())
	d := startDialer(t, 1)
	c, err := d.Dial(within(t, 5*time.Second), "tcp", srv.Addrs()[0].String(), &DialOptions{Transport: TLSClient(clientTLS(tls.VersionTLS13))})
	if err != nil {
		t.Fatal(err)
	}
	if st, ok := c.TLS(); !ok || !st.HandshakeComplete {
		t.Fatalf("dialed connection's TLS state: %v, %v", st.HandshakeComplete, ok)
	}
	c.AsyncWrite([]byte("dialed over TLS"))
	if got := d.expect(t, len("dialed over TLS")); string(got) != "dialed over TLS" {
		t.Fatalf("echo %q", got)
	}
	c.AsyncClose()

	untrusting := &tls.Config{ServerName: "localhost", RootCAs: x509.NewCertPool()}
	_, err = d.Dial(within(t, 5*time.Second), "tcp", srv.Addrs()[0].String(), &DialOptions{Transport: TLSClient(untrusting)})
	var unknown x509.UnknownAuthorityError
	if !errors.As(err, &unknown) {
		t.Fatalf("DialTLS to an untrusted certificate: %v, want x509.UnknownAuthorityError", err)
	}
	if st := settled(t, d.Server); st.Handshakes != 1 || st.HandshakeErrors != 1 {
		t.Errorf("dialer Stats: %d handshakes, %d failed; want 1 and 1", st.Handshakes, st.HandshakeErrors)
	}
}

// TestTLSBackPressure: a TLS client that sends 16 MiB and reads nothing
// meets the same back-pressure as on plain TCP: the server's queue of
// records stays bounded (OnPause, no more reading), and once the client
// reads, every byte comes back.
func TestTLSBackPressure(t *testing.T) {
	paused := make(chan struct{}, 1)
	var mu sync.Mutex
	maxQueued := 0
	h := &funcHandler{
		data: func(c *Conn) {
			c.Write(c.Next(-1))
			mu.Lock()
			maxQueued = max(maxQueued, c.Outbound())
			mu.Unlock()
		},
		pause: func(*Conn) { notify(paused, struct{}{}) },
	}
	const highWater = 256 << 10
	s := startTLSServer(t, h, Options{Loops: 1, HighWater: highWater}, serverTLS())
	c := dialTLS(t, s, clientTLS(tls.VersionTLS13))
	big := payload(16 << 20)
	errs := make(chan error, 1)
	go func() { _, err := c.Write(big); errs <- err }()
	recv(t, paused, 30*time.Second, "OnPause")
	time.Sleep(100 * time.Millisecond) // the writer keeps pushing; the server must not take it
	mu.Lock()
	queued := maxQueued
	mu.Unlock()
	// Past HighWater by at most what one read's records decode to.
	if limit := highWater + 64<<10 + 16<<10 + 64<<10; queued > limit {
		t.Errorf("queued %d bytes for a client that does not read, want at most %d", queued, limit)
	}
	got := make([]byte, len(big))
	c.SetReadDeadline(time.Now().Add(60 * time.Second))
	if _, err := io.ReadFull(c, got); err != nil {
		t.Fatal(err)
	}
	if err := <-errs; err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, big) {
		t.Fatal("echo after back-pressure differs")
	}
}

// TestTLSIdleTimeout: an idle timeout set in OnOpen closes a TLS
// connection that stays quiet, with ErrTimeout, as on plain TCP.
func TestTLSIdleTimeout(t *testing.T) {
	closed := make(chan error, 1)
	h := &funcHandler{
		open:  func(c *Conn) { c.SetIdleTimeout(100 * time.Millisecond) },
		close: func(c *Conn, err error) { notify(closed, err) },
	}
	s := startTLSServer(t, h, Options{Loops: 1}, serverTLS())
	c := dialTLS(t, s, clientTLS(tls.VersionTLS12))
	roundTrip(t, c, []byte("then quiet"))
	if err := recv(t, closed, 5*time.Second, "OnClose"); !errors.Is(err, ErrTimeout) {
		t.Fatalf("OnClose(%v), want ErrTimeout", err)
	}
}

// TestTLSDataRightAfterHandshake: a TLS 1.3 client may send as soon as its
// own side of the handshake is done, before the server's is: 4 MiB written
// at once after Handshake are all echoed (the loop stops reading while the
// session holds its most, instead of refusing the flood).
func TestTLSDataRightAfterHandshake(t *testing.T) {
	s := startTLSServer(t, &funcHandler{}, Options{Loops: 1, MaxHandshakes: 1}, serverTLS())
	for range 5 {
		c := dialTLS(t, s, clientTLS(tls.VersionTLS13))
		big := payload(4 << 20)
		errs := make(chan error, 1)
		go func() { _, err := c.Write(big); errs <- err }()
		got := make([]byte, len(big))
		c.SetReadDeadline(time.Now().Add(30 * time.Second))
		if _, err := io.ReadFull(c, got); err != nil {
			t.Fatal(err)
		}
		if err := <-errs; err != nil || !bytes.Equal(got, big) {
			t.Fatalf("echo of 4 MiB sent right after the handshake: %v", err)
		}
	}
	if st := settled(t, s); st.HandshakeErrors != 0 {
		t.Errorf("%d handshakes failed", st.HandshakeErrors)
	}
}

// TestTLSGetCertificate: the certificate is chosen by server name with
// GetCertificate; a name it has none for fails the handshake.
func TestTLSGetCertificate(t *testing.T) {
	cert, _ := testCerts()
	conf := &tls.Config{GetCertificate: func(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
		if hello.ServerName == "localhost" {
			return cert, nil
		}
		return nil, fmt.Errorf("no certificate for %q", hello.ServerName)
	}}
	s := startTLSServer(t, &funcHandler{}, Options{Loops: 1}, conf)
	roundTrip(t, dialTLS(t, s, clientTLS(tls.VersionTLS12)), []byte("by name"))
	other := clientTLS(tls.VersionTLS13)
	other.ServerName = "elsewhere.example"
	other.InsecureSkipVerify = true
	if c, err := tls.Dial("tcp", s.Addrs()[0].String(), other); err == nil {
		c.Close()
		t.Fatal("a server name with no certificate was served")
	}
	if st := settledWhen(t, s, func(st Stats) bool { return st.Handshakes == 1 && st.HandshakeErrors == 1 }); st.Handshakes != 1 || st.HandshakeErrors != 1 {
		t.Errorf("Stats: %d handshakes, %d failed; want 1 and 1", st.Handshakes, st.HandshakeErrors)
	}
}

// TestTLSHandshakeFlightSentDirectly: the server's handshake flight
// leaves from the handshake's goroutine, not through the loop: a handshake
// wakes the loop once (to run OnOpen), not once more for its records.
func TestTLSHandshakeFlightSentDirectly(t *testing.T) {
	s := startTLSServer(t, &funcHandler{}, Options{Loops: 1}, serverTLS())
	before := settled(t, s).Wakeups
	const n = 20
	for range n {
		c := dialTLS(t, s, clientTLS(tls.VersionTLS13))
		roundTrip(t, c, []byte("flight"))
		c.Close()
	}
	st := settled(t, s)
	// settled posts once; each handshake's end posts once (twice, when
	// its flight went through the loop).
	if woke := st.Wakeups - before; woke > n+1 {
		t.Errorf("%d handshakes woke the loop %d times: the flights went through it", n, woke)
	}
	if st.Handshakes != n || st.HandshakeErrors != 0 {
		t.Errorf("Stats: %d handshakes, %d failed; want %d and 0", st.Handshakes, st.HandshakeErrors, n)
	}
}

// TestTLSHandshakeFlightLargerThanTheSocket: a server flight the socket
// does not take at once (a 48 KiB certificate chain, small socket buffers
// at both ends) is sent whole and in order: the handshake goroutine's
// write takes what fits, the loop sends the rest, and the records after it
// follow it.
func TestTLSHandshakeFlightLargerThanTheSocket(t *testing.T) {
	cert, _ := testCerts()
	chain := *cert
	for len(chain.Certificate) < 100 { // the leaf again as "intermediates": the client ignores what it does not need
		chain.Certificate = append(chain.Certificate, cert.Certificate[0])
	}
	size := 0
	for _, der := range chain.Certificate {
		size += len(der)
	}
	if size < 32<<10 {
		t.Fatalf("the chain is only %d bytes", size)
	}
	s := startTLSServer(t, &funcHandler{}, Options{Loops: 1, SocketWriteBuffer: 4096},
		&tls.Config{Certificates: []tls.Certificate{chain}})
	before := settled(t, s).Wakeups
	for _, version := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		d := &net.Dialer{Timeout: 10 * time.Second, Control: smallReceiveBuffer}
		raw, err := d.Dial("tcp", s.Addrs()[0].String())
		if err != nil {
			t.Fatal(err)
		}
		c := tls.Client(raw, clientTLS(version))
		c.SetDeadline(time.Now().Add(20 * time.Second))
		if err := c.Handshake(); err != nil {
			t.Fatalf("%s: handshake with a %d-byte chain: %v", tls.VersionName(version), size, err)
		}
		if got := len(c.ConnectionState().PeerCertificates); got != len(chain.Certificate) {
			t.Errorf("%s: %d certificates came, %d were sent", tls.VersionName(version), got, len(chain.Certificate))
		}
		roundTrip(t, c, payload(100<<10))
		c.Close()
	}
	st := settled(t, s)
	if st.Handshakes != 2 || st.HandshakeErrors != 0 {
		t.Errorf("Stats: %d handshakes, %d failed; want 2 and 0", st.Handshakes, st.HandshakeErrors)
	}
	// The test's premise, where socket buffers are as small as asked: the
	// loop sent part of a flight (a post more than OnOpen's per handshake).
	if runtime.GOOS == "linux" && st.Wakeups-before < 2+2+1 {
		t.Errorf("the loop was woken %d times: no flight was left to it", st.Wakeups-before)
	}
}

// smallReceiveBuffer is a net.Dialer's Control that gives the socket a
// 4 KiB receive buffer, so what it has not read waits in the sender sooner.
func smallReceiveBuffer(_, _ string, rc syscall.RawConn) error {
	var err error
	if cerr := rc.Control(func(fd uintptr) { err = setsockoptInt(int(fd), solSocket, soRcvBuf, 4096) }); cerr != nil {
		return cerr
	}
	return err
}

// TestTLSStallersHoldNoHandshakeSlot: clients that connect and say
// nothing, or send half a ClientHello, more of them than MaxHandshakes, do
// not hold up a real client's handshake: a server's handshake takes one of
// the pool's goroutines only once the client's first record is in. The
// stallers wait for HandshakeTimeout, counted as handshaking.
func TestTLSStallersHoldNoHandshakeSlot(t *testing.T) {
	const timeout = 10 * time.Second
	s := startTLSServer(t, &funcHandler{}, Options{Loops: 1, MaxHandshakes: 2, HandshakeTimeout: timeout}, serverTLS())
	hello := clientHello(t)
	const stallers = 8
	for i := range stallers {
		c := dial(t, s)
		if i%2 == 1 {
			c.Write(hello[:len(hello)/2])
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for settled(t, s).Handshaking != stallers {
		if time.Now().After(deadline) {
			t.Fatalf("%d handshaking, want the %d stallers", s.Stats().Handshaking, stallers)
		}
		time.Sleep(10 * time.Millisecond)
	}
	start := time.Now()
	for range 3 {
		roundTrip(t, dialTLS(t, s, clientTLS(tls.VersionTLS13)), []byte("not held up"))
	}
	if took := time.Since(start); took > timeout/2 {
		t.Errorf("3 handshakes beside %d stallers took %v: they waited for a slot", stallers, took)
	}
	if st := settled(t, s); st.Handshakes != 3 || st.Handshaking != stallers {
		t.Errorf("Stats: %d handshakes, %d handshaking; want 3 and %d", st.Handshakes, st.Handshaking, stallers)
	}
}
