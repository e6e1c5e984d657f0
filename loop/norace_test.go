//go:build !race

package loop

// raceEnabled: the race detector allocates, so allocation counts are
// skipped under it.
const raceEnabled = false
