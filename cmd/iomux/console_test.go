package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/iomux/iomux/internal/iomuxtest"
	"github.com/iomux/iomux/internal/linetest"
)

// A console never waits for its reader: on a pipe nobody reads, Write
// returns at once, what does not fit is dropped and counted, with one
// warning a second; once the reader reads, what was kept comes out whole,
// in order.
func TestConsoleDropsWhatAStuckReaderCannotTake(t *testing.T) {
	iomuxtest.CheckLeaks(t)
	r, w := fullPipe(t)
	warnings := new(linetest.Output)
	c := newConsole(w, consoleSpec{prog: "iomux test", name: "stdout", limit: 1 << 10, warn: warnings})
	const notes = 1000
	start := time.Now()
	for i := range notes {
		fmt.Fprintf(c, "note %03d\n", i) // 9 bytes: the buffer takes 113 of them
	}
	took := time.Since(start)
	t.Logf("%d writes to a console on a full pipe took %v", notes, took)
	if took > 2*time.Second { // they never wait for the pipe: this is only the machine's noise
		t.Errorf("%d writes to a stuck console took %v", notes, took)
	}
	warnings.WaitFor(t, "iomux test: stdout is not keeping up: ", 1)
	if n, most := strings.Count(warnings.String(), "\n"), 1+int(took/time.Second); n > most {
		t.Errorf("%d warnings in %v, want at most %d (one a second):\n%s", n, took, most, warnings)
	}

	// The reader comes back: the pipe's old contents, then the notes that
	// were kept, whole and in order (with gaps where the buffer was full);
	// the others are counted.
	lines := make(chan []string, 1)
	go func() {
		var got []string
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			if i := strings.Index(sc.Text(), "note "); i >= 0 { // the first is after the pipe's old bytes
				got = append(got, sc.Text()[i:])
			}
		}
		lines <- got
	}()
	c.close() // writes out what was kept
	w.Close()
	got := <-lines
	last := -1
	for _, l := range got {
		var i int
		if _, err := fmt.Sscanf(l, "note %d", &i); err != nil || i <= last || l != fmt.Sprintf("note %03d", i) {
			t.Fatalf("note %q after note %d", l, last)
		}
		last = i
	}
	// 113 fit in the buffer; as many may have been taken into the write
	// that blocks, before the buffer filled again.
	if len(got) < 113 || len(got) > 2*113 {
		t.Errorf("%d notes kept, want one or two 1 KiB buffers' worth", len(got))
	}
	if want := fmt.Sprintf("iomux test: %d lines of stdout dropped in all: not read in time\n", notes-len(got)); !strings.Contains(warnings.String(), want) {
		t.Errorf("warnings lack %q:\n%s", want, warnings)
	}
}

// The servers that print notes (chat-server, time-server) serve their
// clients while nobody reads their stdout: the loop never waits in
// write(2) (as the process, with stdout a pipe whose buffer is full).
func TestServersDoNotWaitForStdout(t *testing.T) {
	_, stdout := fullPipe(t)
	chat := startProc(t, stdout, nil, "chat-server")
	ticks := startProc(t, stdout, nil, "time-server", "--interval", "1h")

	c, err := net.DialTimeout("tcp", chat.addr, srvWait)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second)) // the old loop sat in write(2) for good
	in := bufio.NewReader(c)
	welcome, err := in.ReadString('\n')
	if err != nil || !strings.HasPrefix(welcome, "* welcome, ") {
		t.Fatalf("chat-server with a stuck stdout: first line %q, %v; want the welcome", welcome, err)
	}
	io.WriteString(c, "/who\n")
	if who, err := in.ReadString('\n'); err != nil || !strings.HasPrefix(who, "* 1 in the room: ") {
		t.Fatalf("chat-server with a stuck stdout: /who answered %q, %v", who, err)
	}

	tc, err := net.DialTimeout("tcp", ticks.addr, srvWait)
	if err != nil {
		t.Fatal(err)
	}
	defer tc.Close()
	tc.SetDeadline(time.Now().Add(5 * time.Second))
	if tick, err := bufio.NewReader(tc).ReadString('\n'); err != nil {
		t.Fatalf("time-server with a stuck stdout: no tick (%v)", err)
	} else if _, err := time.Parse(time.ANSIC+"\n", tick); err != nil {
		t.Fatalf("time-server sent %q: %v", tick, err)
	}

	// They stop as usual, each after a second of trying to write its notes.
	chat.terminate()
	ticks.terminate()
	for _, p := range []*procServer{chat, ticks} {
		if err := p.wait(t); err != nil {
			t.Errorf("exit: %v\n%s", err, p.errs)
		}
		if want := "stdout took nothing for 1s"; !strings.Contains(p.errs.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, p.errs)
		}
	}
}
