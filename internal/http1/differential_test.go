package http1

import (
	"io"
	"log"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

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

	cases := append(http1test.Cases[:len(http1test.Cases):len(http1test.Cases)], http1test.EarlyCases...)
	results := make([][]error, len(cases))
	sem := make(chan struct{}, 16)
	var wg sync.WaitGroup
	for i, c := range cases {
		results[i] = make([]error, len(http1test.Splits))
		for j, split := range http1test.Splits {
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer func() { <-sem; wg.Done() }()
				// A mismatch is tried again with a longer settle, to rule
				// out a server slower than the first settle.
				for _, settle := range []time.Duration{50 * time.Millisecond, 300 * time.Millisecond} {
					results[i][j] = exchangeBoth(std, ref, c.Raw, split, settle)
					if results[i][j] == nil {
						return
					}
				}
			}()
		}
	}
	wg.Wait()
	for i, c := range cases {
		for j, split := range http1test.Splits {
			if err := results[i][j]; err != nil {
				t.Errorf("%s (%s), %s:\n%v", c.Name, c.Note, split, err)
			}
		}
	}
}

func exchangeBoth(std, ref string, raw []byte, split http1test.Split, settle time.Duration) error {
	var want, got http1test.Result
	var errWant, errGot error
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); want, errWant = http1test.Exchange(std, raw, split, settle) }()
	go func() { defer wg.Done(); got, errGot = http1test.Exchange(ref, raw, split, settle) }()
	wg.Wait()
	if errWant != nil {
		return errWant
	}
	if errGot != nil {
		return errGot
	}
	return http1test.Compare(want, got)
}
