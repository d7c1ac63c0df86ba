package pooltest_test

import (
	"testing"

	"github.com/AmanTrance/FastRpc/poolimpl"
	"github.com/AmanTrance/FastRpc/poolimpl/pooltest"
)

// newPool stands for a third-party pool's constructor, one that takes no
// Options (here, the builtin pool with none).
func newPool(dial poolimpl.DialFunc, size int) (poolimpl.Pool, error) {
	return poolimpl.Mutex(poolimpl.Options{})(dial, size)
}

// testContract is what the pool's package declares, as
// func TestContract(t *testing.T), in one of its _test.go files: the whole
// suite in one call. A pool without Options passes a New that ignores
// them and leaves Maintains false; a pool that takes poolimpl.Options
// passes its Factory constructor, as New: poolimpl.Mutex, and sets
// Maintains.
func testContract(t *testing.T) {
	pooltest.Run(t, pooltest.Config{
		New:       func(poolimpl.Options) poolimpl.Factory { return newPool },
		AllocFree: true, // its idle Acquire and Release allocate nothing
	})
}

// A third-party pool runs the contract suite from its own tests.
func Example() {
	// See testContract above: go test runs it as a Test function.
}
