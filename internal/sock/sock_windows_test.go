package sock

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/windows"
)

// errRefused is how a connect to a port nobody listens on fails.
const errRefused = windows.WSAECONNREFUSED

// keepIdle is never called on Windows: KeepIdleOption is 0 there, since
// SIO_KEEPALIVE_VALS cannot be read back.
func keepIdle(fd int) (int, error) { return 0, windows.WSAENOPROTOOPT }

// TestOutOfFilesWindows: Winsock's ways of saying it has no socket left
// are what the loop backs off on (see loop's listener.backOff), and a
// reset connection is one accept's failure alone.
func TestOutOfFilesWindows(t *testing.T) {
	for _, err := range []error{windows.WSAENOBUFS, windows.WSAEMFILE, windows.WSAEINVAL} {
		if !OutOfFiles(err) || WouldBlock(err) || Aborted(err) {
			t.Errorf("%v: OutOfFiles %v, WouldBlock %v, Aborted %v; want out of files only", err, OutOfFiles(err), WouldBlock(err), Aborted(err))
		}
	}
	if !Aborted(windows.WSAECONNRESET) || OutOfFiles(windows.WSAECONNRESET) {
		t.Error("WSAECONNRESET on accept is not one connection's failure")
	}
	if !WouldBlock(windows.WSAEWOULDBLOCK) {
		t.Error("WSAEWOULDBLOCK is not would-block")
	}
}

// TestUnixWithoutAFUnix: where Winsock has no AF_UNIX (before Windows 10
// 1803, and under Wine 8), opening a Unix-domain socket fails saying so.
func TestUnixWithoutAFUnix(t *testing.T) {
	e, err := Resolve("unix", filepath.Join(os.TempDir(), "iomux-no-af-unix.sock"))
	if err != nil {
		t.Fatal(err)
	}
	fd, err := Open(e)
	if err == nil {
		Close(fd)
		t.Skip("this Windows has AF_UNIX: the loop's Unix-domain tests run here")
	}
	if !errors.Is(err, errNoUnix) || !strings.Contains(err.Error(), "Windows 10 1803") {
		t.Fatalf("Open unix: %v, want the error naming Windows 10 1803", err)
	}
}
