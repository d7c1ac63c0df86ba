package poolimpl

import (
	"github.com/AmanTrance/FastRpc/conn"
	"github.com/AmanTrance/FastRpc/module"
)

// Factory builds a pool of at most size connections that dials with dial.
// It has the underlying type of slave.PoolFactory, so the factories below
// go straight into slave.Config.Pool:
//
//	slave.Config{Address: addr, Pool: poolimpl.PuddleFactory(poolimpl.Options{})}
type Factory = func(dial conn.DialFunc, size int) (conn.Pool, error)

// MutexFactory returns a Factory of [Mutex] pools with opts.
func MutexFactory(opts Options) Factory {
	return func(dial conn.DialFunc, size int) (conn.Pool, error) {
		return NewMutex(MutexConfig{Dial: dial, MaxSize: size, Options: opts})
	}
}

// PuddleFactory returns a Factory of [Puddle] pools with opts.
func PuddleFactory(opts Options) Factory {
	return func(dial conn.DialFunc, size int) (conn.Pool, error) {
		return NewPuddle(PuddleConfig{Dial: dial, MaxSize: size, Options: opts})
	}
}

// DefaultModule names the pool module used when a config names none: the
// builtin [Mutex].
const DefaultModule = "mutex"

func init() {
	module.Register(MutexModule{})
	module.Register(PuddleModule{})
}

// MutexModule is the "pool.mutex" module, the builtin [Mutex] pool
// configured from JSON: {"module": "mutex", "min_idle": 1}. Its fields are
// those of [Options].
type MutexModule struct {
	Options
}

// FastRpcModule implements module.Module.
func (MutexModule) FastRpcModule() module.Info {
	return module.Info{ID: "pool.mutex", New: func() module.Module { return new(MutexModule) }}
}

// Validate implements module.Validator.
func (m *MutexModule) Validate() error { return m.Options.Validate() }

// NewPool builds a Mutex pool of at most size connections.
func (m *MutexModule) NewPool(dial conn.DialFunc, size int) (conn.Pool, error) {
	return MutexFactory(m.Options)(dial, size)
}

// PuddleModule is the "pool.puddle" module, the [Puddle] pool configured
// from JSON: {"module": "puddle", "idle_timeout": "90s"}. Its fields are
// those of [Options].
type PuddleModule struct {
	Options
}

// FastRpcModule implements module.Module.
func (PuddleModule) FastRpcModule() module.Info {
	return module.Info{ID: "pool.puddle", New: func() module.Module { return new(PuddleModule) }}
}

// Validate implements module.Validator.
func (m *PuddleModule) Validate() error { return m.Options.Validate() }

// NewPool builds a Puddle pool of at most size connections.
func (m *PuddleModule) NewPool(dial conn.DialFunc, size int) (conn.Pool, error) {
	return PuddleFactory(m.Options)(dial, size)
}
