package loophttp

import (
	"fmt"
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
			differential(t, ln.Addr().String(), serve(t, &ours, http1test.Inspect))
		})
	}
}

// differential plays every case against both servers and reports what
// differs.
func differential(t *testing.T, std, addr string) {

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
				// out a server slower than the first one.
				for _, settle := range []time.Duration{50 * time.Millisecond, 300 * time.Millisecond} {
					results[i][j] = exchangeBoth(std, addr, c.Raw, split, settle)
					if results[i][j] == nil {
						return
					}
				}
			}()
		}
	}
	wg.Wait()
	failed := 0
	for i, c := range cases {
		for j, split := range http1test.Splits {
			if err := results[i][j]; err != nil {
				failed++
				t.Errorf("%s (%s), %s:\n%v", c.Name, c.Note, split, err)
			}
		}
	}
	t.Logf("%d cases x %d cuts, %d differ", len(cases), len(http1test.Splits), failed)
}

func exchangeBoth(std, ours string, raw []byte, split http1test.Split, settle time.Duration) error {
	var want, got http1test.Result
	var errWant, errGot error
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); want, errWant = http1test.Exchange(std, raw, split, settle) }()
	go func() { defer wg.Done(); got, errGot = http1test.Exchange(ours, raw, split, settle) }()
	wg.Wait()
	if errWant != nil {
		return errWant
	}
	if errGot != nil {
		return errGot
	}
	return http1test.Compare(want, got)
}
