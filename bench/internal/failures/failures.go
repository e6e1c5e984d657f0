// Package failures counts what went wrong in a load generator's run:
// errors and content mismatches, the first few said in words.
package failures

import "fmt"

// maxNotes is how many failures are said in words; the rest are counted.
const maxNotes = 10

// Failures is embedded in a load generator's JSON result.
type Failures struct {
	Errors     int64    `json:"errors"`
	Mismatches int64    `json:"mismatches"`
	Notes      []string `json:"notes,omitempty"` // what went wrong, the first maxNotes
}

// Note records a failure, as a mismatch or an error.
func (f *Failures) Note(mismatch bool, format string, args ...any) {
	if mismatch {
		f.Mismatches++
	} else {
		f.Errors++
	}
	if len(f.Notes) < maxNotes {
		f.Notes = append(f.Notes, fmt.Sprintf(format, args...))
	}
}

// Err is nil for a run without failures, else says how many and the notes.
func (f *Failures) Err() error {
	if f.Errors == 0 && f.Mismatches == 0 {
		return nil
	}
	return fmt.Errorf("%d errors, %d mismatches: %v", f.Errors, f.Mismatches, f.Notes)
}
