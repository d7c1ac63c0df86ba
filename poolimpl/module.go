package poolimpl

import (
	"github.com/AmanTrance/FastRpc/module"
)

func init() {
	module.Register(mutexModule{})
}

// mutexModule is the "pool.mutex" module, the builtin [Mutex] pool
// configured from JSON: {"module": "mutex", "min_idle": 1}. Its fields are
// those of [Options].
type mutexModule struct {
	Options
}

// FastRpcModule implements module.Module.
func (mutexModule) FastRpcModule() module.ModuleInfo {
	return module.ModuleInfo{ID: module.NamespacePool + ".mutex", New: func() module.Module { return new(mutexModule) }}
}

// Validate implements module.Validator.
func (m *mutexModule) Validate() error { return m.Options.Validate() }

// NewPool implements [Module]: a Mutex pool of at most size connections.
func (m *mutexModule) NewPool(dial DialFunc, size int) (Pool, error) {
	return Mutex(m.Options)(dial, size)
}
