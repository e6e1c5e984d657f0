package loophttp

import (
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"sync"
	"testing"

	"github.com/iomux/iomux/internal/http1/http1test"
	"github.com/iomux/iomux/internal/iomuxtest"
)

// TestDifferential plays every case of http1test (RFC 9110/9112 and the
// request-smuggling literature; EarlyCases: heads refused before their end), whole, byte by byte and in random cuts,
// against net/http.Server and against a loophttp Server, both running the
// Inspect handler, and requires the same answers: statuses, fields, what
// the handler saw of each request, and the same closes.
func TestDifferential(t *testing.T) {
	// Under Wine, net/http.Server itself answers some cases with nothing
	// when 16 exchanges run at once; the parser's own differential test
	// (internal/http1) runs there.
	iomuxtest.SkipUnderWine(t, "net/http.Server, the reference, misses answers")
	iomuxtest.CheckLeaks(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	// net/http lingers after some refusals (closeWriteAndWait): the test
	// waits for every connection to close, so that none is taken for a leak.
	var open sync.WaitGroup
	std := &http.Server{Handler: http1test.Inspect, MaxHeaderBytes: http1test.MaxHeaderBytes, ErrorLog: log.New(io.Discard, "", 0),
		ConnState: func(_ net.Conn, st http.ConnState) {
			switch st {
			case http.StateNew:
				open.Add(1)
			case http.StateClosed, http.StateHijacked:
				open.Done()
			}
		}}
	go std.Serve(ln)
	defer func() { std.Close(); open.Wait() }()
	for _, nonBlocking := range []bool{false, true} {
		t.Run(fmt.Sprintf("NonBlocking=%v", nonBlocking), func(t *testing.T) {
			ours := Server{MaxHeaderBytes: http1test.MaxHeaderBytes, ErrorLog: log.New(io.Discard, "", 0)}
			if nonBlocking {
				ours.NonBlocking = func(*http.Request) bool { return true }
			}
			http1test.Differential(t, ln.Addr().String(), serve(t, &ours, http1test.Inspect))
		})
	}
}
