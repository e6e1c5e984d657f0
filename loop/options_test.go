package loop

import (
	"context"
	"errors"
	"fmt"
	"github.com/iomux/iomux/internal/sock"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

func TestDefaults(t *testing.T) {
	o := NewServer(echoHandler{}, Options{}).Options()
	if o.Loops != runtime.GOMAXPROCS(0) || o.Backend != "auto" || o.ReadBufferSize != 64<<10 ||
		o.HighWater != 1<<20 || o.LowWater != 256<<10 || o.AcceptBatch != 64 || o.Logger == nil ||
		o.MaxInput != 1<<20 || o.MaxPosts != 1<<16 {
		t.Fatalf("defaults: %+v", o)
	}
	if o := NewServer(echoHandler{}, Options{HighWater: 1000}).Options(); o.LowWater != 250 {
		t.Fatalf("LowWater with HighWater 1000 is %d, want HighWater/4", o.LowWater)
	}
}

// TestOptionsRule: every field's zero is its default, a negative value is
// none where none makes sense, and Start refuses the others, saying which.
func TestOptionsRule(t *testing.T) {
	for _, bad := range []struct {
		opts Options
		says string
	}{
		{Options{Loops: -1}, "Loops"},
		{Options{ReadBufferSize: -1}, "ReadBufferSize"},
		{Options{LowWater: -5}, "LowWater"},
		{Options{SocketReadBuffer: -1}, "SocketReadBuffer"},
		{Options{SocketWriteBuffer: -1}, "SocketWriteBuffer"},
		{Options{HighWater: 1000, LowWater: 5000}, "LowWater (5000) must be below HighWater (1000)"},
		{Options{Balance: Balance(7)}, "Balance"},
	} {
		s := NewServer(BaseHandler{}, bad.opts)
		err := s.Start()
		if err == nil {
			s.Stop(context.Background())
			t.Errorf("Start with %+v succeeded", bad.opts)
			continue
		}
		if !errors.Is(err, errOptions) || !strings.Contains(err.Error(), bad.says) {
			t.Errorf("Start with bad %s: %v", bad.says, err)
		}
	}
	none := NewServer(echoHandler{}, Options{HighWater: -1, MaxInput: -1, MaxPosts: -1, MaxQueued: -1,
		WriteTimeout: -1, IdleTimeout: -1, KeepAlive: -1, WaitTimeout: -1, AcceptBatch: -1,
		HandshakeTimeout: -1, MaxHandshakes: -1}).Options()
	if none.HighWater >= 0 || none.LowWater != 0 || none.MaxInput >= 0 || none.MaxPosts >= 0 || none.MaxQueued >= 0 ||
		none.WriteTimeout >= 0 || none.IdleTimeout >= 0 || none.AcceptBatch >= 0 || none.HandshakeTimeout >= 0 || none.MaxHandshakes >= 0 {
		t.Fatalf("negative limits became %+v, want them kept (none)", none)
	}
	s := startServer(t, echoHandler{}, Options{Loops: 1, MaxPosts: -1, AcceptBatch: -1, HandshakeTimeout: -1, MaxHandshakes: -1},
		"tcp", "127.0.0.1:0")
	roundTrip(t, dial(t, s), []byte("no bounds, still served"))
	for range 100 {
		if err := s.Loops()[0].Post(func() {}); err != nil {
			t.Fatalf("Post with MaxPosts -1: %v", err)
		}
	}
}

// sockopt reads an int socket option of fd (from any goroutine).
func sockopt(t *testing.T, fd, level, opt int) int {
	t.Helper()
	v, err := getsockoptInt(fd, level, opt)
	if err != nil {
		t.Errorf("getsockopt(%d, %d): %v", level, opt, err)
		return -1
	}
	return v
}

// keepIdle reads the keep-alive idle time in seconds, or 7 (what the test
// sets) where the OS has no such option and the loop sets none.
func keepIdle(t *testing.T, fd int) int {
	if sock.KeepIdleOption == 0 {
		return 7
	}
	return sockopt(t, fd, ipprotoTCP, sock.KeepIdleOption)
}

func TestSocketOptions(t *testing.T) {
	type opts struct{ nodelay, keepalive, idle, rcvbuf, sndbuf, lnRcvbuf, lnSndbuf int }
	measure := func(t *testing.T, o Options) opts {
		got := make(chan opts, 1)
		h := &funcHandler{open: func(c *Conn) {
			fd := c.Fd()
			notify(got, opts{
				sockopt(t, fd, ipprotoTCP, tcpNoDelay),
				sockopt(t, fd, solSocket, soKeepAlive),
				keepIdle(t, fd),
				sockopt(t, fd, solSocket, soRcvBuf),
				sockopt(t, fd, solSocket, soSndBuf),
				0, 0, // the listener's, filled in below
			})
		}}
		o.Loops = 1
		s := startServer(t, h, o, "tcp", "127.0.0.1:0")
		ln := s.Loops()[0].listeners[0]
		if got := sockopt(t, ln.fd, solSocket, soReuseAddr) != 0; got != listenerReusesAddr {
			t.Errorf("listener's SO_REUSEADDR is %v, want %v", got, listenerReusesAddr)
		}
		dial(t, s)
		m := recv(t, got, 5*time.Second, "OnOpen")
		m.lnRcvbuf = sockopt(t, ln.fd, solSocket, soRcvBuf)
		m.lnSndbuf = sockopt(t, ln.fd, solSocket, soSndBuf)
		return m
	}
	def := measure(t, Options{})
	if def.nodelay == 0 || def.keepalive != 0 {
		t.Fatalf("default options: %+v, want TCP_NODELAY on, keep-alive off", def)
	}
	set := measure(t, Options{TCPDelay: true, KeepAlive: 7 * time.Second,
		SocketReadBuffer: 300 << 10, SocketWriteBuffer: 200 << 10})
	// Linux doubles the buffer sizes asked for (bookkeeping overhead). The
	// listener has them too: set before listen, they shape the window
	// scale the handshake offers, and accepted sockets inherit them.
	if set.nodelay != 0 || set.keepalive == 0 || set.idle != 7 || set.rcvbuf < 300<<10 || set.sndbuf < 200<<10 ||
		set.lnRcvbuf < 300<<10 || set.lnSndbuf < 200<<10 {
		t.Fatalf("options set: %+v (defaults %+v)", set, def)
	}
}

// TestUDPSocketBuffers: SocketReadBuffer and SocketWriteBuffer apply to
// UDP sockets too.
func TestUDPSocketBuffers(t *testing.T) {
	const rcv, snd = 300 << 10, 400 << 10
	measure := func(o Options) (rcvbuf, sndbuf int) {
		o.Loops = 1
		s := startServer(t, echoHandler{}, o, "udp", "127.0.0.1:0")
		fd := s.Loops()[0].packets[0].fd
		return sockopt(t, fd, solSocket, soRcvBuf), sockopt(t, fd, solSocket, soSndBuf)
	}
	defRcv, defSnd := measure(Options{})
	if defRcv >= rcv || defSnd >= snd {
		t.Skipf("the OS defaults (%d, %d) are already as large as the test's sizes", defRcv, defSnd)
	}
	gotRcv, gotSnd := measure(Options{SocketReadBuffer: rcv, SocketWriteBuffer: snd})
	if gotRcv < rcv || gotSnd < snd {
		t.Fatalf("UDP socket buffers %d and %d, asked for %d and %d (defaults %d, %d)", gotRcv, gotSnd, rcv, snd, defRcv, defSnd)
	}
}

func TestListenErrors(t *testing.T) {
	s := NewServer(echoHandler{}, Options{Loops: 1})
	if err := s.Listen("sctp", "127.0.0.1:0"); err == nil {
		t.Fatal("Listen accepted network sctp")
	}
	if err := NewServer(&struct{ BaseHandler }{}, Options{}).Listen("udp", "127.0.0.1:0"); err == nil ||
		!strings.Contains(err.Error(), "OnPacket") {
		t.Fatalf("Listen udp with a Handler that has no OnPacket: %v, want an error naming OnPacket", err)
	}
	// A malformed address fails Listen itself, not Start.
	for _, addr := range []string{"127.0.0.1:notaport", "127.0.0.1:99999", "no port"} {
		if err := s.Listen("tcp", addr); err == nil || !strings.Contains(err.Error(), addr) {
			t.Errorf("Listen tcp %q: %v, want an error naming it", addr, err)
		}
	}
	if _, err := s.Dial(within(t, time.Second), "tcp", "127.0.0.1:1", nil); err == nil {
		t.Fatal("Dial before Start succeeded")
	}
	// A taken port: Start fails, and leaves nothing open behind.
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	fds := countFDs(t)
	s.Listen("tcp", "127.0.0.1:0")
	s.Listen("tcp", taken.Addr().String())
	if err := s.Start(); err == nil || !strings.Contains(err.Error(), taken.Addr().String()) {
		t.Fatalf("Start with a taken port: %v", err)
	}
	checkFDs(t, fds)
	if err := s.Stop(context.Background()); err != nil {
		t.Fatalf("Stop after a failed Start: %v", err)
	}

	s = startServer(t, echoHandler{}, Options{Loops: 1}, "tcp", "127.0.0.1:0")
	if err := s.Listen("tcp", "127.0.0.1:0"); err == nil {
		t.Fatal("Listen after Start succeeded")
	}
	if err := s.Start(); err == nil {
		t.Fatal("second Start succeeded")
	}
	if err := NewServer(echoHandler{}, Options{Loops: 1, Backend: "nosuch"}).Start(); err == nil {
		t.Fatal("Start on an unknown backend succeeded")
	}
}

// bootFails is a handler whose OnBoot refuses to start.
type bootFails struct{ BaseHandler }

var errBoot = errors.New("not today")

func (bootFails) OnBoot(*Server) error { return errBoot }

func TestOnBootError(t *testing.T) {
	s := NewServer(bootFails{}, Options{Loops: 1})
	s.Listen("tcp", "127.0.0.1:0")
	if err := s.Start(); !errors.Is(err, errBoot) {
		t.Fatalf("Start: %v, want OnBoot's error", err)
	}
}

// TestListenSeveral: one Server serves TCP, Unix and UDP addresses at once,
// in the order given.
func TestListenSeveral(t *testing.T) {
	skipNoUnix(t)
	path := filepath.Join(t.TempDir(), "s.sock")
	s := NewServer(echoHandler{}, Options{Loops: 2})
	for _, a := range [][2]string{{"tcp", "127.0.0.1:0"}, {"unix", path}, {"udp", "127.0.0.1:0"}} {
		if err := s.Listen(a[0], a[1]); err != nil {
			t.Fatal(err)
		}
	}
	start(t, s)
	addrs := s.Addrs()
	if len(addrs) != 3 || addrs[0].Network() != "tcp" || addrs[1].String() != path || addrs[2].Network() != "udp" {
		t.Fatalf("Addrs = %v", addrs)
	}
	for _, a := range addrs[:2] {
		c, err := net.Dial(a.Network(), a.String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		roundTrip(t, c, []byte("to "+a.Network()))
	}
	u := dialUDP(t, "udp", addrs[2].String())
	defer u.Close()
	u.Write([]byte("dgram"))
	buf := make([]byte, 16)
	u.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := u.Read(buf); err != nil || string(buf[:n]) != "dgram" {
		t.Fatalf("udp: %q, %v", buf[:n], err)
	}
}

// TestNoBackPressure: a negative HighWater lets the queue grow without
// pausing.
func TestNoBackPressure(t *testing.T) {
	queued := make(chan int, 1)
	h := &funcHandler{
		data: func(c *Conn) {
			c.Discard(-1)
			c.Write(payload(8 << 20))
			notify(queued, c.Outbound())
		},
		pause: func(c *Conn) { t.Error("OnPause with back-pressure off") },
	}
	s := startServer(t, h, Options{Loops: 1, HighWater: -1}, "tcp", "127.0.0.1:0")
	c := dial(t, s)
	c.Write([]byte("x"))
	if q := recv(t, queued, 5*time.Second, "OnData"); q <= 1<<20 {
		t.Skipf("only %d bytes queued; the kernel took the rest", q)
	}
	if st := settled(t, s); st.Congested != 0 {
		t.Fatalf("Congested = %d", st.Congested)
	}
	readN(t, c, 8<<20)
}

// TestListenAnyAddress: ":0" listens on every address, IPv4 and IPv6.
func TestListenAnyAddress(t *testing.T) {
	s := startServer(t, echoHandler{}, Options{Loops: 1}, "tcp", ":0")
	port := s.Addrs()[0].(*net.TCPAddr).Port
	hosts := []string{"127.0.0.1"}
	if ln, err := net.Listen("tcp6", "[::1]:0"); err == nil {
		ln.Close()
		hosts = append(hosts, "::1")
	}
	for _, h := range hosts {
		c, err := net.Dial("tcp", net.JoinHostPort(h, fmt.Sprint(port)))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		roundTrip(t, c, []byte("to "+h))
	}
}

// TestListenAbstractUnix: a Linux abstract socket ("@name") works and
// leaves no file behind.
func TestListenAbstractUnix(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("abstract Unix sockets are Linux-only")
	}
	name := fmt.Sprintf("@iomux-loop-test-%d", os.Getpid())
	s := startServer(t, echoHandler{}, Options{Loops: 2}, "unix", name)
	c := dial(t, s)
	roundTrip(t, c, []byte("abstract"))
}

// TestAcceptBatch: with one accept per wake-up, a burst of connections is
// still served in full (the listener stays readable until drained).
func TestAcceptBatch(t *testing.T) {
	s := startServer(t, echoHandler{}, Options{Loops: 1, AcceptBatch: 1}, "tcp", "127.0.0.1:0")
	echoMany(t, s, 100)
}

// TestLoopContext: OnLoopStart runs on each loop before it serves
// anything, so per-loop state set there is in place for the first
// connection, and each loop sees its own.
func TestLoopContext(t *testing.T) {
	type perLoop struct{ index, conns int }
	wrong := make(chan string, 16)
	h, conns := serverConns(&funcHandler{
		open: func(c *Conn) {
			st, ok := c.Loop().Context().(*perLoop)
			if !ok || st.index != c.Loop().Index() {
				notify(wrong, fmt.Sprintf("loop %d has context %#v", c.Loop().Index(), c.Loop().Context()))
				return
			}
			st.conns++
		},
		loopStart: func(l *Loop) { l.SetContext(&perLoop{index: l.Index()}) },
	})
	opts := Options{Loops: 2, Balance: RoundRobin}
	s := startServer(t, h, opts, "tcp", "127.0.0.1:0")
	for range 6 {
		dial(t, s)
		recv(t, conns, 5*time.Second, "OnOpen")
	}
	select {
	case w := <-wrong:
		t.Fatal(w)
	default:
	}
	total := 0
	for _, l := range s.Loops() {
		onLoop(t, l, func() { total += l.Context().(*perLoop).conns })
	}
	if total != 6 {
		t.Fatalf("the loops counted %d connections, want 6", total)
	}
}
