package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/iomux/iomux"
)

// ---- the epoll driver: one thread, one Selector, every connection ----

type epollConn struct {
	fd    int
	index int
	seq   uint64
	want  []byte // the batch in flight
	sent  int    // bytes of want written
	got   int    // bytes of want echoed back
	bad   bool   // this batch mismatched
	start time.Duration
	wait  bool // registered for Writable
	dead  bool
}

type epollDriver struct {
	cfg   echoConfig
	sel   iomux.Selector
	conns []*epollConn // indexed by fd
	live  int
	pl    []byte
	buf   []byte
	base  time.Time
	phase int
	once  bool // idle mode: one batch per connection
	done  int  // batches completed, all phases
	st    echoStats
}

func newEpollDriver(cfg echoConfig) (*epollDriver, error) {
	sel, err := iomux.NewSelector("auto")
	if err != nil {
		return nil, err
	}
	batch := cfg.size * cfg.pipeline
	d := &epollDriver{cfg: cfg, sel: sel, pl: payload(batch), buf: make([]byte, max(64<<10, batch)), base: time.Now()}
	sa, err := resolveSockaddr(cfg.addr)
	if err != nil {
		sel.Close()
		return nil, err
	}
	for i := range cfg.conns {
		fd, err := dialRaw(sa)
		if err != nil {
			d.close()
			return nil, fmt.Errorf("connection %d of %d: %w", i+1, cfg.conns, err)
		}
		c := &epollConn{fd: fd, index: i}
		if fd >= len(d.conns) {
			d.conns = append(d.conns, make([]*epollConn, fd+1-len(d.conns))...)
		}
		d.conns[fd] = c
		d.live++
		if err := sel.Register(fd, iomux.Readable, nil); err != nil {
			d.close()
			return nil, err
		}
	}
	return d, nil
}

func (d *epollDriver) stats() *echoStats { return &d.st }

func (d *epollDriver) close() {
	for _, c := range d.conns {
		if c != nil && !c.dead {
			d.sel.Unregister(c.fd)
			unix.Close(c.fd)
			c.dead = true
		}
	}
	d.sel.Close()
}

func (d *epollDriver) now() time.Duration { return time.Since(d.base) }

// run starts a batch on every connection, then serves readiness until the
// window closes. Level-triggered: one read per readiness; write interest
// only while a batch is partly written.
func (d *epollDriver) run(at func(phase int)) error {
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(stop)
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()

	at(phaseWarmup)
	phaseEnd := d.now() + d.cfg.warmup
	if d.cfg.warmup <= 0 {
		phaseEnd = d.now()
	}
	var measureStart time.Duration
	for _, c := range d.conns {
		if c != nil {
			d.startBatch(c)
		}
	}
	ready := make([]iomux.Ready, 256)
	prog := newProgress(d.cfg.progress, &d.st)
	for {
		now := d.now()
		if now >= phaseEnd {
			if d.phase == phaseWarmup {
				d.phase = phaseMeasure
				d.st = echoStats{errors: d.st.errors, mismatches: d.st.mismatches}
				at(phaseMeasure)
				measureStart = d.now()
				phaseEnd = measureStart + d.cfg.duration
				prog.begin(measureStart)
			} else {
				d.st.window = now - measureStart
				d.phase = phaseDone
				at(phaseDone)
				prog.end()
				return nil
			}
		}
		if d.live == 0 {
			return fmt.Errorf("every connection failed (%d errors)", d.st.errors)
		}
		select {
		case <-stop:
			if d.phase == phaseWarmup {
				return errInterrupted
			}
			phaseEnd = 0 // end the window now and report it
			continue
		default:
		}
		timeout := min(phaseEnd-now, 200*time.Millisecond)
		n, err := d.sel.Wait(timeout, ready)
		if err != nil {
			return err
		}
		d.serve(ready[:n])
		prog.tick(d.now())
	}
}

func (d *epollDriver) serve(ready []iomux.Ready) {
	for _, r := range ready {
		c := d.conns[r.FD]
		if r.Events&iomux.Writable != 0 && c.wait {
			d.write(c)
		}
		if r.Events&iomux.Readable != 0 && !c.dead {
			d.read(c)
		}
	}
}

func (d *epollDriver) startBatch(c *epollConn) {
	batch := d.cfg.size * d.cfg.pipeline
	off := batchOffset(c.index, c.seq)
	c.want = d.pl[off : off+batch]
	c.sent, c.got, c.bad = 0, 0, false
	c.start = d.now()
	d.write(c)
}

func (d *epollDriver) write(c *epollConn) {
	for c.sent < len(c.want) {
		n, err := unix.Write(c.fd, c.want[c.sent:])
		if err == unix.EINTR {
			continue
		}
		if err == unix.EAGAIN {
			if !c.wait {
				c.wait = true
				d.sel.Modify(c.fd, iomux.Readable|iomux.Writable, nil)
			}
			return
		}
		if err != nil {
			d.fail(c)
			return
		}
		c.sent += n
	}
	if c.wait {
		c.wait = false
		d.sel.Modify(c.fd, iomux.Readable, nil)
	}
}

func (d *epollDriver) read(c *epollConn) {
	buf := d.buf
	if rest := len(c.want) - c.got; rest > 0 && rest < len(buf) {
		buf = buf[:rest]
	}
	n, err := unix.Read(c.fd, buf)
	if err == unix.EAGAIN || err == unix.EINTR {
		return
	}
	if err != nil || n == 0 {
		d.fail(c)
		return
	}
	if c.got+n > len(c.want) {
		// More bytes than were sent: the server invented data.
		d.st.mismatches++
		d.fail(c)
		return
	}
	if !c.bad && !bytes.Equal(buf[:n], c.want[c.got:c.got+n]) {
		c.bad = true
	}
	c.got += n
	if c.got < len(c.want) {
		return
	}
	if c.sent < len(c.want) {
		return // cannot be: the server echoed bytes not yet sent
	}
	if c.bad {
		d.st.mismatches++
	}
	if d.phase == phaseMeasure {
		d.st.messages += int64(d.cfg.pipeline)
		d.st.hist.record(int64(d.now() - c.start))
	}
	c.seq++
	d.done++
	if d.phase != phaseDone && !d.once {
		d.startBatch(c)
	}
}

func (d *epollDriver) fail(c *epollConn) {
	if c.dead {
		return
	}
	if d.phase != phaseDone {
		d.st.errors++
	}
	d.sel.Unregister(c.fd)
	unix.Close(c.fd)
	c.dead = true
	d.live--
}

func resolveSockaddr(addr string) (unix.Sockaddr, error) {
	ta, err := net.ResolveTCPAddr("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("%w: --addr: %v", errUsage, err)
	}
	if ip4 := ta.IP.To4(); ip4 != nil {
		sa := &unix.SockaddrInet4{Port: ta.Port}
		copy(sa.Addr[:], ip4)
		return sa, nil
	}
	sa := &unix.SockaddrInet6{Port: ta.Port}
	copy(sa.Addr[:], ta.IP.To16())
	return sa, nil
}

// dialRaw connects a blocking socket (loopback connects at once), then makes
// it non-blocking with TCP_NODELAY, as every peer server sets it.
func dialRaw(sa unix.Sockaddr) (int, error) {
	domain := unix.AF_INET
	if _, ok := sa.(*unix.SockaddrInet6); ok {
		domain = unix.AF_INET6
	}
	fd, err := unix.Socket(domain, unix.SOCK_STREAM, 0) // SOCK_CLOEXEC is not portable; nothing forks here
	if err != nil {
		return -1, os.NewSyscallError("socket", err)
	}
	unix.CloseOnExec(fd)
	for {
		err = unix.Connect(fd, sa)
		if err != unix.EINTR {
			break
		}
	}
	if err == nil {
		err = unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
	}
	if err == nil {
		err = unix.SetNonblock(fd, true)
	}
	if err != nil {
		unix.Close(fd)
		return -1, os.NewSyscallError("connect", err)
	}
	return fd, nil
}

// errInterrupted reports a run stopped by SIGINT or SIGTERM before its
// measured window began.
var errInterrupted = errors.New("interrupted during warmup")

// ---- the goroutine driver: one goroutine and net.Conn per connection ----

type goroutineDriver struct {
	cfg    echoConfig
	conns  []net.Conn
	pl     []byte
	phase  atomic.Int32
	count  atomic.Int64 // messages in the window, for the progress line
	mu     sync.Mutex
	st     echoStats
	errors atomic.Int64
	bad    atomic.Int64
}

func newGoroutineDriver(cfg echoConfig) (*goroutineDriver, error) {
	d := &goroutineDriver{cfg: cfg, pl: payload(cfg.size * cfg.pipeline)}
	for i := range cfg.conns {
		c, err := net.Dial("tcp", cfg.addr)
		if err != nil {
			d.close()
			return nil, fmt.Errorf("connection %d of %d: %w", i+1, cfg.conns, err)
		}
		d.conns = append(d.conns, c)
	}
	return d, nil
}

func (d *goroutineDriver) stats() *echoStats { return &d.st }

func (d *goroutineDriver) close() {
	for _, c := range d.conns {
		c.Close()
	}
}

func (d *goroutineDriver) run(at func(phase int)) error {
	at(phaseWarmup)
	base := time.Now()
	var wg sync.WaitGroup
	for i, c := range d.conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d.serve(i, c, base)
		}()
	}
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	sleep := func(t time.Duration) {
		select {
		case <-time.After(t):
		case <-ctx.Done():
		}
	}
	sleep(d.cfg.warmup)
	if ctx.Err() != nil {
		d.phase.Store(phaseDone)
		d.close()
		wg.Wait()
		return errInterrupted
	}
	d.phase.Store(phaseMeasure)
	at(phaseMeasure)
	start := time.Now()
	prog := newProgress(d.cfg.progress, &echoStats{})
	prog.begin(0)
	for deadline := start.Add(d.cfg.duration); ctx.Err() == nil && time.Now().Before(deadline); {
		sleep(min(time.Until(deadline), 200*time.Millisecond))
		prog.st.messages = d.count.Load()
		prog.tick(time.Since(start))
	}
	d.phase.Store(phaseDone)
	window := time.Since(start)
	at(phaseDone)
	prog.end()
	for _, c := range d.conns {
		c.SetDeadline(time.Now()) // unblock the readers; their errors no longer count
	}
	wg.Wait()
	d.st.window = window
	d.st.errors = d.errors.Load()
	d.st.mismatches = d.bad.Load()
	return nil
}

func (d *goroutineDriver) serve(i int, c net.Conn, base time.Time) {
	batch := d.cfg.size * d.cfg.pipeline
	buf := make([]byte, batch)
	var h histogram
	var msgs int64
	defer func() {
		d.mu.Lock()
		d.st.messages += msgs
		d.st.hist.merge(&h)
		d.mu.Unlock()
	}()
	for seq := uint64(0); d.phase.Load() != phaseDone; seq++ {
		off := batchOffset(i, seq)
		want := d.pl[off : off+batch]
		start := time.Since(base)
		if _, err := c.Write(want); err != nil {
			d.failed()
			return
		}
		if _, err := io.ReadFull(c, buf); err != nil {
			d.failed()
			return
		}
		if !bytes.Equal(buf, want) {
			d.bad.Add(1)
		}
		if d.phase.Load() == phaseMeasure {
			msgs += int64(d.cfg.pipeline)
			d.count.Add(int64(d.cfg.pipeline))
			h.record(int64(time.Since(base) - start))
		}
	}
}

func (d *goroutineDriver) failed() {
	if d.phase.Load() != phaseDone {
		d.errors.Add(1)
	}
}
