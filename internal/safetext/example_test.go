package safetext_test

import (
	"fmt"

	"github.com/iomux/iomux/internal/safetext"
)

// A line that tries to clear the screen and to pass for another member's
// reaches the log (or the others' terminals) as visible escapes.
func ExampleEscape() {
	fmt.Println(string(safetext.Escape([]byte("hi\x1b[2J\r[admin] trust me \u202eevil"))))
	fmt.Println(string(safetext.Escape([]byte("ünïcödé ✓ passes untouched"))))
	// Output:
	// hi\x1b[2J\r[admin] trust me \u202eevil
	// ünïcödé ✓ passes untouched
}
