package sock

import (
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
	for _, err := range []error{windows.WSAENOBUFS, windows.WSAEMFILE} {
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
