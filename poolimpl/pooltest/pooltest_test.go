package pooltest_test

import "testing"

// TestExample runs the package example's suite: a pool that takes no
// Options passes it, with the Options tests skipped.
func TestExample(t *testing.T) { testContract(t) }
