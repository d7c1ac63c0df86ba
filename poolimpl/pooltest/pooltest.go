package pooltest

import (
	"testing"

	"github.com/AmanTrance/FastRpc/poolimpl"
)

// Config describes the pool under test.
type Config struct {
	// New returns the Factory of the pool under test, configured with
	// opts; poolimpl.Mutex is one. Each test builds its own pools with it
	// and closes them when it ends (a second Close must be harmless).
	// Required. Without Maintains, opts is always the zero Options, and a
	// pool that takes no Options can ignore it:
	//
	//	New: func(poolimpl.Options) poolimpl.Factory { return mypool.New },
	New func(opts poolimpl.Options) poolimpl.Factory
	// Maintains says that the pools honour poolimpl.Options: the suite then
	// also checks MinIdle, IdleTimeout and MaxLifetime, and that invalid
	// Options are refused. False skips those tests.
	Maintains bool
	// AllocFree also checks that Acquire and Release of an idle
	// connection allocate nothing (with Maintains, with every option on
	// too).
	AllocFree bool
}

// Run runs the contract suite, each rule a subtest of t named after it.
func Run(t *testing.T, cfg Config) {
	t.Helper()
	if cfg.New == nil {
		t.Fatal("pooltest.Config.New is required")
	}
	s := &suite{cfg: cfg}
	for _, c := range coreTests {
		t.Run(c.name, func(t *testing.T) { c.run(t, s) })
	}
	t.Run("Stale", func(t *testing.T) {
		if !staleProbed() {
			t.Skip("conn.Conn.Stale cannot see sockets on this system")
		}
		for _, c := range staleTests {
			t.Run(c.name, func(t *testing.T) { c.run(t, s) })
		}
	})
	t.Run("Options", func(t *testing.T) {
		if !cfg.Maintains {
			t.Skip("pooltest.Config.Maintains is false")
		}
		for _, c := range optionsTests {
			t.Run(c.name, func(t *testing.T) { c.run(t, s) })
		}
	})
}

// contractTest is one rule of the contract, checked by run.
type contractTest struct {
	name string
	run  func(t *testing.T, s *suite)
}

// suite builds the pools under test.
type suite struct {
	cfg Config
}

// newPool builds a pool of at most size connections with default
// settings, closed when the test ends.
func (s *suite) newPool(t *testing.T, dial poolimpl.DialFunc, size int) poolimpl.Pool {
	t.Helper()
	return s.newPoolWith(t, dial, size, poolimpl.Options{})
}

// newPoolWith builds a pool with opts, closed when the test ends.
func (s *suite) newPoolWith(t *testing.T, dial poolimpl.DialFunc, size int, opts poolimpl.Options) poolimpl.Pool {
	t.Helper()
	p, err := s.build(dial, size, opts)
	if err != nil {
		t.Fatalf("building a pool of %d: %v", size, err)
	}
	if p == nil {
		t.Fatal("the Factory returned a nil Pool and no error")
	}
	t.Cleanup(func() { _ = p.Close() })
	return p
}

// build calls the Factory for opts.
func (s *suite) build(dial poolimpl.DialFunc, size int, opts poolimpl.Options) (poolimpl.Pool, error) {
	f := s.cfg.New(opts)
	if f == nil {
		return nil, errNilFactory
	}
	return f(dial, size)
}
