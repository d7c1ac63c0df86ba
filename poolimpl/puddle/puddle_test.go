package puddle_test

import (
	"context"
	"encoding/json"
	"testing"

	"go.uber.org/goleak"

	"github.com/AmanTrance/FastRpc/module"
	"github.com/AmanTrance/FastRpc/poolimpl"
	"github.com/AmanTrance/FastRpc/poolimpl/pooltest"
	"github.com/AmanTrance/FastRpc/poolimpl/puddle"
)

// TestMain fails the package if any test leaves a goroutine behind: the
// pool must stop its maintenance and dials on Close.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// The puddle pool passes the contract suite, options and allocations
// included.
func TestContract(t *testing.T) {
	pooltest.Run(t, pooltest.Config{New: puddle.Factory, Maintains: true, AllocFree: true})
}

// Importing the package registers "pool.puddle", which loads from JSON
// with Options' fields and builds puddle pools.
func TestModule(t *testing.T) {
	l := module.NewLoader(context.Background())
	t.Cleanup(func() {
		if err := l.Cleanup(); err != nil {
			t.Error(err)
		}
	})
	m, err := module.LoadAs[poolimpl.Module](l, module.NamespacePool, json.RawMessage(`{"module": "puddle", "min_idle": 1, "idle_timeout": "90s"}`))
	if err != nil {
		t.Fatal(err)
	}
	if id := m.FastRpcModule().ID; id != "pool.puddle" {
		t.Errorf("module ID %q, want pool.puddle", id)
	}
	if _, err := m.NewPool(nil, 1); err == nil {
		t.Error("NewPool accepted a nil DialFunc")
	}
	_, err = module.LoadAs[poolimpl.Module](l, module.NamespacePool, json.RawMessage(`{"module": "puddle", "min_idle": -1}`))
	if err == nil {
		t.Error("a negative min_idle was accepted")
	}
}
