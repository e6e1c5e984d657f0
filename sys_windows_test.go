package iomux

import (
	"strings"
	"testing"

	"golang.org/x/sys/windows"
)

// threadID names the calling OS thread (lock it first).
func threadID() int { return int(windows.GetCurrentThreadId()) }

// inSyscall cannot be observed here; callers fall back to racing.
func inSyscall(int) bool { return true }

// testEINTR: Windows has no signals that interrupt a wait in the kernel,
// so there is no EINTR to retry.
func testEINTR(t *testing.T, _ opener) {
	t.Skip("Windows has no signals that interrupt a Winsock or completion-port wait: no EINTR")
}

// underWine reports whether this process runs under Wine, which is not
// Windows: ntdll exports wine_get_version there.
var underWine = modntdll.NewProc("wine_get_version").Find() == nil

// wineGaps are the conformance cases that cannot pass under Wine 8, by
// backend and case, with why. They are skipped under Wine only, and run on
// Windows.
var wineGaps = map[string]string{
	"poll/closed-fd": "Wine's WSAPoll reports nothing for a closed socket, where Windows reports POLLNVAL " +
		"(https://learn.microsoft.com/windows/win32/api/winsock2/ns-winsock2-wsapollfd)",
	"afd/read-hangup": "Wine 8 reports no AFD_POLL_DISCONNECT for a socket watched for ReadHangup alone " +
		"while data sent before the peer's shutdown is unread (seen here)",
}

// skipKnownGap skips the conformance case name of the running backend if it
// is one of wineGaps and this is Wine.
func skipKnownGap(t *testing.T, name string) {
	t.Helper()
	backend := t.Name()[strings.Index(t.Name(), "/")+1:]
	backend = backend[:strings.Index(backend, "/")]
	if reason, ok := wineGaps[backend+"/"+name]; ok && underWine {
		t.Skip("under Wine: " + reason)
	}
}
