package main

// The fan-out of a room across nodes, measured: 300 members who each say
// a line a second, on three nodes (chat-server processes joined by
// Debian's nats-server) or on one; the delivery latency on the sender's
// node and on the others, and the CPU the nodes spend per line delivered.
//
//	go test -run '^$' -bench ChatClusterFanout -benchtime 10x ./cmd/iomux
//
// Each iteration is one second of the room's talk (300 lines, 89,700
// deliveries). The load generator (300 connections reading every line)
// runs in the benchmark's process, on the same machine as the nodes.

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

func BenchmarkChatClusterFanout(b *testing.B) {
	for _, nodes := range []int{1, 3} {
		b.Run(fmt.Sprintf("nodes=%d/members=300", nodes), func(b *testing.B) { benchChatFanout(b, nodes, 300) })
	}
}

// benchMember is one member of the measured room: its connection and the
// latencies of what it received, from its own node and from others.
type benchMember struct {
	conn        net.Conn
	node        int
	same, cross []time.Duration
	got         int
}

func benchChatFanout(b *testing.B, nodes, members int) {
	var args []string
	var nats *natsProc
	if nodes > 1 {
		nats = natsProcStart(b, -1)
		args = []string{"--nats", nats.url}
	}
	var procs []*procServer
	for n := range nodes {
		a := args
		if nodes > 1 {
			a = append(slices.Clone(args), "--node", fmt.Sprintf("n%d", n))
		}
		procs = append(procs, startProc(b, nil, nil, append([]string{"chat-server"}, a...)...))
	}
	room := make([]*benchMember, members)
	var wg sync.WaitGroup
	var mu sync.Mutex
	ready := make(chan struct{}, members)
	for i := range room {
		node := i % nodes
		c, err := net.Dial("tcp", procs[node].addr)
		if err != nil {
			b.Fatal(err)
		}
		m := &benchMember{conn: c, node: node}
		room[i] = m
		fmt.Fprintf(c, "/nick u%d\n", i)
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := bufio.NewReader(c)
			for {
				line, err := r.ReadString('\n')
				if err != nil {
					return
				}
				if strings.HasPrefix(line, "* you are now") {
					ready <- struct{}{}
				}
				// "[uK] NANOS\n": K's node is K % nodes.
				name, stamp, ok := strings.Cut(strings.TrimSuffix(line, "\n"), " ")
				if !ok || !strings.HasPrefix(name, "[u") {
					continue
				}
				k, err1 := strconv.Atoi(strings.Trim(name, "[u]"))
				ns, err2 := strconv.ParseInt(stamp, 10, 64)
				if err1 != nil || err2 != nil {
					continue
				}
				d := time.Since(time.Unix(0, ns))
				mu.Lock()
				if k%nodes == m.node {
					m.same = append(m.same, d)
				} else {
					m.cross = append(m.cross, d)
				}
				m.got++
				mu.Unlock()
			}
		}()
	}
	defer func() {
		for _, m := range room {
			m.conn.Close()
		}
		wg.Wait()
	}()
	for range members {
		<-ready
	}
	// Every node has every member before the clock starts: a probe from
	// one reaches all the others.
	for deadline := time.Now().Add(srvWait); ; {
		fmt.Fprintf(room[1].conn, "%d\n", time.Now().UnixNano())
		time.Sleep(300 * time.Millisecond)
		mu.Lock()
		heard := 0
		for _, m := range room {
			if m.got > 0 {
				heard++
			}
		}
		mu.Unlock()
		if heard == members-1 {
			break
		}
		if time.Now().After(deadline) {
			b.Fatal("the nodes did not learn each other's members")
		}
	}
	mu.Lock()
	for _, m := range room {
		m.same, m.cross, m.got = m.same[:0], m.cross[:0], 0
	}
	mu.Unlock()

	cpu0 := benchCPU(b, procs, nats)
	b.ResetTimer()
	start := time.Now()
	gap := time.Second / time.Duration(members)
	for it := range b.N {
		for i, m := range room {
			at := start.Add(time.Duration(it)*time.Second + time.Duration(i)*gap)
			time.Sleep(time.Until(at))
			fmt.Fprintf(m.conn, "%d\n", time.Now().UnixNano())
		}
	}
	want := b.N * members * (members - 1)
	deadline := time.Now().Add(srvWait)
	for {
		mu.Lock()
		got := 0
		for _, m := range room {
			got += m.got
		}
		mu.Unlock()
		if got >= want || time.Now().After(deadline) {
			if got < want {
				b.Fatalf("%d of %d lines delivered", got, want)
			}
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	b.StopTimer()
	cpu1 := benchCPU(b, procs, nats)

	var same, cross []time.Duration
	for _, m := range room {
		same = append(same, m.same...)
		cross = append(cross, m.cross...)
	}
	report := func(name string, ds []time.Duration) {
		if len(ds) == 0 {
			return
		}
		slices.Sort(ds)
		b.ReportMetric(float64(ds[len(ds)/2].Microseconds())/1000, name+"-p50-ms")
		b.ReportMetric(float64(ds[len(ds)*99/100].Microseconds())/1000, name+"-p99-ms")
	}
	report("same", same)
	report("cross", cross)
	b.ReportMetric(float64((cpu1.nodes-cpu0.nodes).Microseconds())/float64(want), "node-cpu-us/line")
	if nats != nil {
		b.ReportMetric(float64((cpu1.nats-cpu0.nats).Microseconds())/float64(want), "nats-cpu-us/line")
	}
}

// benchCPUTimes is the CPU time (user and system) the nodes and the NATS
// server have used so far.
type benchCPUTimes struct{ nodes, nats time.Duration }

func benchCPU(b *testing.B, procs []*procServer, nats *natsProc) benchCPUTimes {
	var t benchCPUTimes
	for _, p := range procs {
		t.nodes += procCPU(b, p.cmd.Process.Pid)
	}
	if nats != nil {
		t.nats = procCPU(b, nats.cmd.Process.Pid)
	}
	return t
}

// procCPU reads a process's user and system time from /proc (Linux; in
// clock ticks of 10 ms).
func procCPU(b *testing.B, pid int) time.Duration {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		b.Skipf("no /proc: %v", err)
	}
	fields := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+2:]))
	utime, _ := strconv.ParseInt(fields[11], 10, 64)
	stime, _ := strconv.ParseInt(fields[12], 10, 64)
	return time.Duration(utime+stime) * 10 * time.Millisecond
}
