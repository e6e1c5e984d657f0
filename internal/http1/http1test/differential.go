package http1test

import (
	"sync"
	"testing"
	"time"
)

// Differential plays every case of Cases and EarlyCases, whole, byte by
// byte and in random cuts, against want (net/http.Server, the reference)
// and got (the server under test), both running Inspect, and fails t for
// each answer that differs: statuses, fields, bodies (what the handler
// saw), closes. Exchanges run 16 at a time; a mismatch is tried again with
// a longer settle, to rule out a server slower than the first. It returns
// how many exchanges differed.
func Differential(t testing.TB, want, got string) (differ int) {
	t.Helper()
	cases := append(Cases[:len(Cases):len(Cases)], EarlyCases...)
	results := make([][]error, len(cases))
	sem := make(chan struct{}, 16)
	var wg sync.WaitGroup
	for i, c := range cases {
		results[i] = make([]error, len(Splits))
		for j, split := range Splits {
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer func() { <-sem; wg.Done() }()
				for _, settle := range []time.Duration{50 * time.Millisecond, 300 * time.Millisecond} {
					if results[i][j] = exchangeBoth(want, got, c.Raw, split, settle); results[i][j] == nil {
						return
					}
				}
			}()
		}
	}
	wg.Wait()
	for i, c := range cases {
		for j, split := range Splits {
			if err := results[i][j]; err != nil {
				differ++
				t.Errorf("%s (%s), %s:\n%v", c.Name, c.Note, split, err)
			}
		}
	}
	t.Logf("%d cases x %d cuts, %d differ", len(cases), len(Splits), differ)
	return differ
}

// exchangeBoth plays one case against both servers at once and compares.
func exchangeBoth(want, got string, raw []byte, split Split, settle time.Duration) error {
	var w, g Result
	var errW, errG error
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); w, errW = Exchange(want, raw, split, settle) }()
	go func() { defer wg.Done(); g, errG = Exchange(got, raw, split, settle) }()
	wg.Wait()
	if errW != nil {
		return errW
	}
	if errG != nil {
		return errG
	}
	return Compare(w, g)
}
