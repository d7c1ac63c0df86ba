//go:build race

package slave_test

const raceEnabled = true
