//go:build race

package codec_test

// raceEnabled: the race detector allocates on its own account, so exact
// allocation comparisons are skipped.
const raceEnabled = true
