package chat

// A room of several nodes under a flood: the flood rules of one node hold
// across nodes (flood_test.go has them on one node).

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/iomux/iomux/internal/chat/chattest"
	"github.com/iomux/iomux/internal/iomuxtest"
	"github.com/iomux/iomux/internal/natstest"
)

// A member of node a who floods the room with short lines (256 KiB of
// 2-byte lines) does not freeze node b: a probe said on b reaches b's
// other members and a's at once.
func TestChatClusterFloodDoesNotFreezeOtherNodes(t *testing.T) {
	ns := natstest.Start(t, server.Options{})
	a := startNode(t, ns.ClientURL(), "a", Config{})
	b := startNode(t, ns.ClientURL(), "b", Config{})
	const perNode = 10
	const probe = "] probe\n"
	flooder := startReader(t, dial(t, a.addr))
	var others []*reader
	for range perNode {
		others = append(others, startReader(t, dial(t, a.addr), probe), startReader(t, dial(t, b.addr), probe))
	}
	prober := chattest.Join(t, b.addr)
	prober.Who(t, fmt.Sprintf("* %d in the room, 2 nodes", 2*perNode+2))

	flood := []byte(strings.Repeat("x\n", 128<<10))
	go flooder.conn.Write(flood) // ends at cleanup, when the connection closes
	time.Sleep(20 * time.Millisecond)
	sent := time.Now()
	prober.Say(t, "probe\n")
	var slowest time.Duration
	for _, o := range others {
		slowest = max(slowest, o.wait(t, probe).Sub(sent))
	}
	t.Logf("during a flood of 256 KiB of 2-byte lines on node a, a probe from node b reached all %d others within %v",
		len(others), slowest.Round(time.Millisecond))
	if slowest > 2*time.Second {
		t.Errorf("the probe took %v to reach every member during the flood", slowest)
	}
}

// A member of node b who reads steadily but slower than a flood from
// node a comes is not dropped, and loses nothing: node b tells the others
// its queue is full, and node a holds the flooder until it drains (and
// notes that it does). What is on its way between them meanwhile (in
// the sockets, and what crosses while the news of a full queue does) is
// logged.
func TestChatClusterHoldsARemoteFlooder(t *testing.T) {
	iomuxtest.SkipUnderWine(t, "the test needs node a to flood faster than the reader's 4 MiB/s; under Wine, on a loaded machine, it may not, and then there is nothing to hold")
	ns := natstest.Start(t, server.Options{})
	a := startNode(t, ns.ClientURL(), "a", Config{})
	b := startNode(t, ns.ClientURL(), "b", Config{})
	rc := dialSmallWindow(t, b.addr) // what the reader has not read waits in the server
	rc.SetReadDeadline(time.Now().Add(4 * testWait))
	const rate = 4 << 20 // bytes a second: slower than node a under -race
	reader := bufio.NewReaderSize(&pacedReader{c: rc, rate: rate}, 64<<10)
	if l, err := reader.ReadString('\n'); err != nil || !strings.HasPrefix(l, "* welcome") {
		t.Fatalf("first line %q, %v", l, err)
	}
	flooder := chattest.JoinOver(t, dialSmallWindow(t, a.addr)) // what node a has not read waits in the flooder
	flooder.Nick(t, "flooder")
	for {
		l, err := reader.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(l, "is now known as [flooder]") {
			break
		}
	}

	const lines = 2048 // of 4 KiB with the name: 8 MiB and more
	line := strings.Repeat("f", 4000) + "\n"
	written := make(chan struct{})
	go func() {
		flooder.Conn.SetWriteDeadline(time.Now().Add(4 * testWait))
		for range lines {
			if _, err := io.WriteString(flooder.Conn, line); err != nil {
				return // the test failed, or is over
			}
		}
		close(written)
	}()
	behind := -1 // lines the reader had still to read when the flooder was done
	start := time.Now()
	want := "[flooder] " + line
	for i := range lines {
		got, err := reader.ReadString('\n')
		if err != nil {
			t.Fatalf("the reader's line %d: %v (dropped?)", i, err)
		}
		if got != want {
			t.Fatalf("the reader's line %d is %.80q, want the flood's", i, got)
		}
		if behind < 0 {
			select {
			case <-written:
				behind = lines - i
			default:
			}
		}
	}
	a.out.WaitFor(t, "node b is behind (a member's queue is full): holding the senders here", 1)
	a.out.WaitFor(t, "node b caught up", 1)
	behindMiB := float64(behind*len(want)) / (1 << 20)
	t.Logf("when the flooder had written its last line, the reader was %.1f MiB behind", behindMiB)
	t.Logf("a member of node b reading at %d MiB/s got all %d lines of a %.1f MiB flood from node a in %v",
		rate>>20, lines, float64(lines*len(want))/(1<<20), time.Since(start).Round(time.Millisecond))
}

// natsStall is a TCP proxy to a NATS server that can stop reading what
// the nodes send (a server or network that takes nothing): their writes
// then block once the sockets fill.
type natsStall struct {
	ln      net.Listener
	stalled chan struct{} // closed: stop reading from the nodes

	mu    sync.Mutex
	conns []net.Conn
	cut   bool // connections are refused (closed at once)
}

// cutOff closes every connection and refuses new ones until mend: a cut
// link, as the node sees it.
func (p *natsStall) cutOff() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = true
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

func (p *natsStall) mend() {
	p.mu.Lock()
	p.cut = false
	p.mu.Unlock()
}

// copy copies from src to dst until an error, or until stop is closed.
// (Not io.Copy: between TCP sockets it splices through pipes that Go
// keeps after the test, which the leak check would count.)
func (p *natsStall) copy(dst, src net.Conn, stop chan struct{}) {
	buf := make([]byte, 4096)
	for {
		select {
		case <-stop:
			return // reads nothing more; the sender's socket fills
		default:
		}
		n, err := src.Read(buf)
		if n > 0 {
			dst.Write(buf[:n])
		}
		if err != nil {
			return
		}
	}
}

func natsStallStart(t *testing.T, target string) *natsStall {
	t.Helper()
	lc := net.ListenConfig{Control: smallWindow} // a stall is felt at once
	ln, err := lc.Listen(t.Context(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &natsStall{ln: ln, stalled: make(chan struct{})}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.mu.Lock()
			cut := p.cut
			p.mu.Unlock()
			if cut {
				c.Close()
				continue
			}
			up, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, up)
			p.mu.Unlock()
			go p.copy(c, up, nil)
			go p.copy(up, c, p.stalled)
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		<-done
		p.cutOff()
	})
	return p
}

// NATS takes nothing (a stalled server or link) while a member floods:
// the loop never waits on it, so other members' /who is answered at once.
// The room is held meanwhile, NATS being its slowest reader (each
// member's turn is one line until the queues drain), until nats.go finds
// the link broken (the node timeout, here 3 s) and the room says it is
// split and goes on.
func TestChatClusterStalledNATSDoesNotBlockTheLoop(t *testing.T) {
	iomuxtest.CheckLeaks(t)
	ns := natstest.Start(t, server.Options{})
	proxy := natsStallStart(t, ns.Addr().String())
	a := startNode(t, "nats://"+proxy.ln.Addr().String(), "a", Config{})
	flooder := chattest.Join(t, a.addr)
	flooder.Nick(t, "flooder")
	var askers []*chattest.Member
	for range 3 {
		askers = append(askers, chattest.Join(t, a.addr))
	}
	askers[0].Who(t, "* 4 in the room, 1 nodes")
	close(proxy.stalled)
	line := strings.Repeat("f", 1000) + "\n"
	go func() {
		for range 8192 { // 8 MiB: more than nats.go and the sockets take
			if _, err := io.WriteString(flooder.Conn, line); err != nil {
				return
			}
		}
	}()
	time.Sleep(500 * time.Millisecond) // the flood is on, and stuck at NATS
	for _, m := range askers {
		asked := time.Now()
		m.Who(t, "* 4 in the room")
		if took := time.Since(asked); took > time.Second {
			t.Fatalf("/who took %v while NATS took nothing", took)
		}
	}
	if iomuxtest.UnderWine() {
		// nats.go takes its own time to give the stalled server up, which
		// under Wine's slow sockets comes close to the tests' 30 s wait (it
		// timed out there at cfa6fdc too): the loop not blocked is checked.
		t.Log("under Wine: the split notice is not waited for")
		return
	}
	askers[1].WaitLine(t, "* the room is split")
	askers[2].WaitLine(t, "* the room is split")
	askers[2].WaitLine(t, "[flooder] ") // the room goes on
}

// A node cut off from NATS while the others talk: when it is back, its
// members are told how many lines they missed (NATS core keeps nothing
// for a node away), and the room goes on.
func TestChatClusterCutNodeIsToldWhatItMissed(t *testing.T) {
	ns := natstest.Start(t, server.Options{})
	proxy := natsStallStart(t, ns.Addr().String())
	a := startNode(t, "nats://"+proxy.ln.Addr().String(), "a", Config{})
	b := startNode(t, ns.ClientURL(), "b", Config{})
	am, bm := chattest.Join(t, a.addr), chattest.Join(t, b.addr)
	bm.Nick(t, "bm")
	am.Who(t, "* 2 in the room, 2 nodes: a: ["+am.Name+"]; b: [bm]")
	proxy.cutOff()
	am.WaitLine(t, "* the room is split")
	for i := range 3 {
		bm.Say(t, fmt.Sprintf("unheard %d\n", i))
	}
	bm.Who(t, "* 2 in the room") // b has sent them
	proxy.mend()
	am.WaitLine(t, "* the room is whole again")
	bm.Say(t, "heard\n")
	am.WaitLine(t, "* 3 lines from node b were lost while the room was split")
	am.WaitLine(t, "[bm] heard")
	for _, line := range chatters(am.Lines) {
		if strings.Contains(line, "unheard") {
			t.Errorf("a line said while node a was cut off arrived: %q", line)
		}
	}
}

// A node cut off from NATS whose members say more than its split buffer
// (1 MiB) keeps: when the link is back, what fitted reaches the other
// nodes, first line first, and the rest is counted on both sides, the
// same count: every line said either arrives or is accounted for.
func TestChatClusterSplitBufferOverflowIsCounted(t *testing.T) {
	ns := natstest.Start(t, server.Options{})
	proxy := natsStallStart(t, ns.Addr().String())
	// A long node timeout: neither node gives the other up while it is cut.
	a := startNode(t, "nats://"+proxy.ln.Addr().String(), "a", Config{Cluster: ClusterConfig{NodeTimeout: 60 * time.Second}})
	b := startNode(t, ns.ClientURL(), "b", Config{Cluster: ClusterConfig{NodeTimeout: 60 * time.Second}})
	am, bm := chattest.Join(t, a.addr), chattest.Join(t, b.addr)
	am.Nick(t, "am")
	bm.Who(t, "* 2 in the room, 2 nodes: b: ["+bm.Name+"]; a: [am]")
	proxy.cutOff()
	am.WaitLine(t, "* the room is split")
	const lines = 1600 // of 1 KiB: half as much again as the split buffer
	pad := strings.Repeat("x", 1000)
	var flood strings.Builder
	for i := range lines {
		fmt.Fprintf(&flood, "%04d %s\n", i, pad)
	}
	am.Say(t, flood.String())
	am.Who(t, "* 1 in the room") // node a has taken every line (b is out of its sight)
	time.Sleep(time.Second)      // and its publisher has offered them all to nats.go
	proxy.mend()
	am.WaitLine(t, "* the room is whole again")
	var toldA int
	line := am.WaitLine(t, "lines said here while the room was split did not reach the other nodes")
	if _, err := fmt.Sscanf(line, "* %d lines", &toldA); err != nil {
		t.Fatalf("%q: %v", line, err)
	}
	arrived := 0
	var toldB int
	for {
		line := bm.Lines.Next(t)
		if strings.HasPrefix(line, "[am] ") {
			if want := fmt.Sprintf("[am] %04d %s", arrived, pad); line != want {
				t.Fatalf("line %d at node b: %.20q…, want %.20q…", arrived, line, want)
			}
			arrived++
			continue
		}
		if _, err := fmt.Sscanf(line, "* %d lines from node a were lost while the room was split", &toldB); err == nil {
			break
		}
	}
	t.Logf("%d lines said on node a while it was cut off: %d arrived at node b, %d counted lost (a said %d)", lines, arrived, toldB, toldA)
	if arrived == 0 || toldA == 0 {
		t.Fatalf("%d lines arrived and %d were lost: the split buffer was not overrun", arrived, toldA)
	}
	if toldA != toldB || arrived+toldB != lines {
		t.Errorf("of %d lines, %d arrived, node a counted %d lost and node b %d", lines, arrived, toldA, toldB)
	}
}
