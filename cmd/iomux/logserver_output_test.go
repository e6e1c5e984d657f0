package main

// log-server when its output fails or falls behind: write errors are
// said and counted and the log goes on when it can, a full disk loses no
// line halfway, a gone reader stops the server cleanly, a stuck one holds
// the clients instead of losing their lines.

import (
	"bufio"
	"fmt"
	"github.com/iomux/iomux/internal/iomuxtest"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// A write error is said on stderr (at once, then at most once a second)
// with the lines it lost, and the server keeps serving.
func TestLogServerReportsWriteErrors(t *testing.T) {
	skipOnWindows(t, "the messages checked are Linux's (ENOSPC); Windows words them its own way")
	if _, err := os.Stat("/dev/full"); err != nil {
		t.Skip("no /dev/full here")
	}
	s := srvStart(t, runLogServer, "--out", "/dev/full")
	c := srvDial(t, s.addr)
	io.WriteString(c, "one\ntwo\n")
	s.errs.WaitFor(t, "iomux log-server: writing the log (/dev/full): write /dev/full: no space left on device: ", 1)
	c.Close()
	if err := s.stop(); err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`iomux log-server: [1-9]\d* lines of the log \(/dev/full\) lost to write errors in all`).MatchString(s.errs.String()) {
		t.Errorf("stderr does not count the lines lost:\n%s", s.errs)
	}
}

// On a full disk (a tmpfs of 64 KiB), the lines that cannot be written are
// counted and said on stderr; once there is room again, the log goes on,
// with no torn line, and stderr says how many were lost.
func TestLogServerDiskFull(t *testing.T) {
	dir := filepath.Join(iomuxtest.TempDir(t), "small")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a small tmpfs (root only): %v %s", err, out)
	}
	t.Cleanup(func() { // after the server's stop, which is registered later
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount: %v %s", err, out)
		}
	})
	path := filepath.Join(dir, "clients.log")
	s := srvStart(t, runLogServer, "--out", path)
	c := srvDial(t, s.addr)
	logHas := func(want string) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second) // a retry is due every 250 ms
		for {
			data, _ := os.ReadFile(path)
			if strings.Contains(string(data), want) {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("the log lacks %q after 10 s; stderr:\n%s", want, s.errs)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	io.WriteString(c, "before the disk is full\n")
	logHas(": before the disk is full\n")

	filler, err := os.Create(filepath.Join(dir, "filler"))
	if err != nil {
		t.Fatal(err)
	}
	for { // until the disk is full
		if _, err := filler.Write(make([]byte, 4096)); err != nil {
			break
		}
	}
	filler.Close()
	for i := range 100 { // more than the page the log may still have room in
		fmt.Fprintf(c, "lost %03d %s\n", i, strings.Repeat("=", 100))
	}
	s.errs.WaitFor(t, "no space left on device: ", 1)
	os.Remove(filler.Name())
	io.WriteString(c, "after the disk has room\n")
	logHas(": after the disk has room\n")
	s.errs.WaitFor(t, "iomux log-server: the log ("+path+") is written again; ", 1)
	c.Close()
	if err := s.stop(); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	for _, line := range lines {
		if !srvLogLine.MatchString(line) {
			t.Errorf("malformed (torn?) log line %.120q", line)
		}
	}
	kept := strings.Count(string(data), ": lost ")
	m := regexp.MustCompile(`(\d+) lines of the log \(` + regexp.QuoteMeta(path) + `\) lost to write errors in all`).FindStringSubmatch(s.errs.String())
	if m == nil {
		t.Fatalf("stderr does not count the lines lost:\n%s", s.errs)
	}
	t.Logf("of 100 lines sent to a full disk, %d were written, %s lost; stderr:\n%s", kept, m[1], s.errs)
	if lost, _ := strconv.Atoi(m[1]); kept+lost != 100 {
		t.Errorf("%d lines written and %d counted lost, of 100", kept, lost)
	}
}

// When the reader of stdout goes away (a pipe's), the log cannot go on:
// the server stops and says why, instead of dying of SIGPIPE.
func TestLogServerStdoutReaderGone(t *testing.T) {
	skipOnWindows(t, "the messages checked are Linux's (EPIPE); Windows words them its own way")
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	p := startProc(t, w, nil, "log-server")
	r.Close() // the reader goes
	c, err := net.DialTimeout("tcp", p.addr, srvWait)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "hello\n")
	err = p.wait(t)
	if sig := exitSignal(err); sig != 0 {
		t.Fatalf("the server was killed by %v:\n%s", sig, p.errs)
	}
	want := "iomux log-server: the log (stdout): its reader went away (write /dev/stdout: broken pipe): stopped\n"
	if !strings.Contains(p.errs.String(), want) {
		t.Errorf("exit %v; stderr lacks %q:\n%s", err, want, p.errs)
	}
}

// gateWriter is a stdout that takes nothing until open is closed.
type gateWriter struct {
	open chan struct{}
	w    io.Writer
}

func (g *gateWriter) Write(p []byte) (int, error) {
	<-g.open
	return g.w.Write(p)
}

// While the log's output takes nothing (a reader that stopped), the
// server stops reading its clients once 2 MiB wait, instead of losing
// their lines; when the output takes bytes again, every line is there.
func TestLogServerHoldsClientsWhileTheLogWaits(t *testing.T) {
	gate := &gateWriter{open: make(chan struct{})}
	s := srvStartOut(t, func(w io.Writer) io.Writer { gate.w = w; return gate }, runLogServer)
	const lines = 20000 // logged with their prefix: 2.9 MB
	sent := make(chan error, 1)
	var addr string
	c := srvDial(t, s.addr)
	addr = c.LocalAddr().String()
	go func() {
		c.SetWriteDeadline(time.Now().Add(srvWait))
		w := bufio.NewWriter(c)
		for i := range lines {
			fmt.Fprintf(w, "line %05d %s\n", i, strings.Repeat("=", 90))
		}
		err := w.Flush()
		c.(*net.TCPConn).CloseWrite()
		sent <- err
	}()
	// Not synchronisation: time for the server to read more than it holds
	// (the kernel's buffers take the rest); the check holds either way.
	time.Sleep(300 * time.Millisecond)
	close(gate.open)
	if err := <-sent; err != nil {
		t.Fatal(err)
	}
	s.out.WaitFor(t, addr+" disconnected\n", 1)
	var got []string // what logged does, without its regexp: under -race it takes most of the test's time
	for _, l := range strings.Split(s.out.String(), "\n") {
		if _, text, ok := strings.Cut(l, " "+addr+": "); ok {
			got = append(got, text)
		}
	}
	if len(got) != lines {
		t.Fatalf("logged %d lines, sent %d; stderr:\n%s", len(got), lines, s.errs)
	}
	for i, l := range got {
		if want := fmt.Sprintf("line %05d %s", i, strings.Repeat("=", 90)); l != want {
			t.Fatalf("line %d logged as %.40q", i, l)
		}
	}
	if strings.Contains(s.errs.String(), "dropped") {
		t.Errorf("stderr:\n%s", s.errs)
	}
}
