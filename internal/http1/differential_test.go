package http1

import (
	"io"
	"log"
	"net"
	"net/http"
	"testing"

	"github.com/iomux/iomux/internal/http1/http1test"
	"github.com/iomux/iomux/internal/iomuxtest"
)

// startStd starts a net/http.Server with the Inspect handler until the
// test ends.
func startStd(t testing.TB) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{
		Handler:        http1test.Inspect,
		MaxHeaderBytes: http1test.MaxHeaderBytes,
		ErrorLog:       log.New(io.Discard, "", 0),
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

// TestDifferential plays every case of Cases and EarlyCases, whole, byte
// by byte and in random cuts, against net/http.Server and against
// refServer, built on this package, and requires the same answers: statuses, fields, bodies (the
// Inspect report of what the handler saw), and the same closes.
func TestDifferential(t *testing.T) {
	// Under Wine, on a loaded machine, the reference server's goroutines
	// sometimes answer a cut case too late for Exchange; the parser is
	// pure Go, and the differential runs on Linux.
	iomuxtest.SkipUnderWine(t, "exchanges time out on a loaded machine")
	iomuxtest.CheckLeaks(t)
	std := startStd(t)
	ref := startRef(t, Limits{MaxHeaderBytes: http1test.MaxHeaderBytes}, http1test.Inspect)

	http1test.Differential(t, std, ref)
}
