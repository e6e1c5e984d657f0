package loophttp

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/iomux/iomux/internal/iomuxtest"
	"github.com/iomux/iomux/loop"
)

// upperEcho is a protocol after an upgrade: it echoes in upper case.
type upperEcho struct {
	loop.BaseHandler
	opened bool
}

func (u *upperEcho) OnOpen(*loop.Conn) { u.opened = true }
func (u *upperEcho) OnData(c *loop.Conn) {
	c.Write([]byte(strings.ToUpper(string(c.Next(-1)))))
}

func upgradeHandler(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Upgrade") != "upper" {
		http.Error(w, "no upgrade", http.StatusBadRequest)
		return
	}
	if err := Upgrade(w, &upperEcho{}); err != nil {
		http.Error(w, err.Error(), 500)
		return
	}
	w.Header().Set("Upgrade", "upper")
	w.Header().Set("Connection", "Upgrade")
	w.WriteHeader(http.StatusSwitchingProtocols)
}

func TestUpgrade(t *testing.T) {
	iomuxtest.CheckLeaks(t)
	var s Server
	addr := serve(t, &s, http.HandlerFunc(upgradeHandler))
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(10 * time.Second))
	// The first bytes of the new protocol come with the request.
	fmt.Fprint(nc, "GET / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: upper\r\n\r\nhello ")
	br := bufio.NewReader(nc)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != 101 {
		t.Fatalf("%v %v", resp, err)
	}
	fmt.Fprint(nc, "world")
	got := make([]byte, len("HELLO WORLD"))
	if _, err := io.ReadFull(br, got); err != nil || string(got) != "HELLO WORLD" {
		t.Fatalf("%q %v", got, err)
	}
	// The connection is no longer HTTP: a request is just bytes.
	fmt.Fprint(nc, "get / http/1.1\r\n")
	got = make([]byte, len("GET / HTTP/1.1\r\n"))
	if _, err := io.ReadFull(br, got); err != nil || string(got) != "GET / HTTP/1.1\r\n" {
		t.Fatalf("%q %v", got, err)
	}
}

// TestUpgradeRefused: a handler that answers something else than 101 keeps
// the connection HTTP, and the request that followed is served.
func TestUpgradeRefused(t *testing.T) {
	iomuxtest.CheckLeaks(t)
	var s Server
	addr := serve(t, &s, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/next" {
			io.WriteString(w, "next")
			return
		}
		upgradeHandler(w, r)
	}))
	got := rawExchange(t, addr, []byte("GET / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: other\r\n\r\nGET /next HTTP/1.1\r\nHost: x\r\n\r\n"))
	if !strings.Contains(got, "400 Bad Request") || !strings.HasSuffix(got, "\r\n\r\nnext") {
		t.Fatalf("%q", got)
	}
}

func TestHijack(t *testing.T) {
	iomuxtest.CheckLeaks(t)
	done := make(chan error, 1)
	var s Server
	addr := serve(t, &s, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/hijack" {
			io.WriteString(w, "plain")
			return
		}
		nc, brw, err := w.(http.Hijacker).Hijack()
		if err != nil {
			done <- err
			return
		}
		defer nc.Close()
		if _, err := w.Write([]byte("x")); err != http.ErrHijacked {
			done <- fmt.Errorf("Write after Hijack: %v", err)
			return
		}
		brw.WriteString("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n")
		brw.Flush()
		for {
			line, err := brw.ReadString('\n')
			if err != nil {
				done <- err
				return
			}
			if line == "bye\n" {
				done <- nil
				return
			}
			nc.Write([]byte("echo " + line))
		}
	}))
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(10 * time.Second))
	// A request served before, then the hijacking one with bytes after it.
	fmt.Fprint(nc, "GET / HTTP/1.1\r\nHost: x\r\n\r\nGET /hijack HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: raw\r\n\r\none\n")
	br := bufio.NewReader(nc)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	if string(b) != "plain" {
		t.Fatalf("%q", b)
	}
	resp, err = http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("%v %v", resp, err)
	}
	for _, line := range []string{"one", "two", "three"} {
		if line != "one" {
			fmt.Fprintf(nc, "%s\n", line)
		}
		got, err := br.ReadString('\n')
		if err != nil || got != "echo "+line+"\n" {
			t.Fatalf("%q %v", got, err)
		}
	}
	fmt.Fprint(nc, "bye\n")
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if rest, err := io.ReadAll(br); err != nil || len(rest) != 0 {
		t.Fatalf("after the hijacker closed: %q %v", rest, err)
	}
}
