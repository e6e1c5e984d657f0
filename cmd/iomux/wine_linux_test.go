package main

import (
	"bufio"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/iomux/iomux/internal/linetest"
)

// The programs as Windows binaries, under Wine, against the Python select
// tutorials' clients run from Linux: iomux.exe echo-server and chat-server
// serve them over loopback. Skipped without wine and the prefix
// .ci/wine/setup makes (CI runs it), or without python3.

func TestWindowsServersUnderWinePythonEchoClients(t *testing.T) {
	exe := buildWindowsIomux(t)
	p := startUnderWine(t, exe, "echo-server", "--loops", "2")
	pythonEchoClients(t, p.addr)
}

func TestWindowsServersUnderWinePythonChatClient(t *testing.T) {
	exe := buildWindowsIomux(t)
	p := startUnderWine(t, exe, "chat-server")
	pythonChatClient(t, p.addr, p.stop)
}

// wineProc is an iomux.exe running under Wine.
type wineProc struct {
	addr string
	stop func() error // Ctrl-C (Wine turns SIGINT into it), then kill; nil if it exited cleanly
}

// buildWindowsIomux builds iomux.exe for windows/amd64, or skips the test
// where it could not run.
func buildWindowsIomux(t *testing.T) string {
	t.Helper()
	if _, err := exec.LookPath("wine"); err != nil {
		t.Skip("wine not installed (CI's .ci/wine/setup installs it)")
	}
	prefix := winePrefix()
	if _, err := os.Stat(filepath.Join(prefix, "drive_c/windows/system32/bcryptprimitives.dll")); err != nil {
		t.Skipf("no Wine prefix with the ProcessPrng DLL at %s: run .ci/wine/setup", prefix)
	}
	gotool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command on PATH to build iomux.exe with")
	}
	exe := filepath.Join(t.TempDir(), "iomux.exe")
	build := exec.Command(gotool, "build", "-o", exe, ".")
	build.Env = append(os.Environ(), "GOOS=windows", "GOARCH=amd64", "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build for windows: %v\n%s", err, out)
	}
	// Start the prefix's wineserver and its services now, with no stdio of
	// ours: the first program of a wineserver's life starts Wine's services,
	// which inherit its stdout and stderr and keep them open after it exits.
	warm := exec.Command("wine", "cmd", "/c", "exit")
	warm.Env = append(os.Environ(), "WINEPREFIX="+prefix, "WINEDEBUG=-all")
	warm.Run()
	return exe
}

func winePrefix() string {
	if p := os.Getenv("WINEPREFIX"); p != "" {
		return p
	}
	return "/tmp/iomux-wine" // .ci/wine/setup's
}

// startUnderWine runs "wine exe args... --addr 127.0.0.1:0" and waits until
// the server listens.
func startUnderWine(t *testing.T, exe string, args ...string) *wineProc {
	t.Helper()
	cmd := exec.Command("wine", append([]string{exe}, append(args, "--addr", "127.0.0.1:0")...)...)
	cmd.Env = append(os.Environ(), "WINEPREFIX="+winePrefix(), "WINEDEBUG=-all")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	errs := new(linetest.Output)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	addrs, done := make(chan string, 1), make(chan error, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			errs.Write(append(sc.Bytes(), '\n'))
			if m := procStartLine.FindStringSubmatch(sc.Text()); m != nil {
				select {
				case addrs <- m[1] + ":" + m[2]:
				default:
				}
			}
		}
		io.Copy(io.Discard, stderr)
		done <- cmd.Wait()
	}()
	var exited error
	stopped := false
	p := &wineProc{}
	p.stop = func() error {
		if stopped {
			return exited
		}
		stopped = true
		cmd.Process.Signal(syscall.SIGINT)
		select {
		case exited = <-done:
		case <-time.After(srvWait):
			cmd.Process.Kill()
			exited = <-done
		}
		t.Logf("iomux.exe %s under Wine stopped: %v\n%s", args[0], exited, errs)
		return exited
	}
	t.Cleanup(func() { p.stop() })
	select {
	case p.addr = <-addrs:
	case err := <-done:
		stopped, exited = true, err
		t.Fatalf("iomux.exe %v exited (%v) before listening:\n%s", args, err, errs)
	case <-time.After(2 * srvWait): // Wine's start is slow, the more so on a busy machine
		t.Fatalf("iomux.exe %v did not start under Wine:\n%s", args, errs)
	}
	return p
}
