package pooltest

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/AmanTrance/FastRpc/conn"
)

// Factory builds a fresh pool of at most maxSize connections that dials
// with dial. The suite closes it when the test ends (a second Close must
// be harmless); failing to build it should fail t.
type Factory func(t *testing.T, dial conn.DialFunc, maxSize int) conn.Pool

// Maintenance is the optional background behaviour the suite can check.
// Zero fields are off.
type Maintenance struct {
	// MinIdle idle connections are kept ready, dialled in the background.
	MinIdle int
	// IdleTimeout closes connections idle this long.
	IdleTimeout time.Duration
	// MaxLifetime closes connections this old, idle ones in the
	// background and in-use ones when released.
	MaxLifetime time.Duration
	// CheckPeriod is how often the background work runs.
	CheckPeriod time.Duration
}

// MaintainedFactory builds a pool like Factory, with m's settings.
type MaintainedFactory func(t *testing.T, dial conn.DialFunc, maxSize int, m Maintenance) conn.Pool

// Config describes the pool under test.
type Config struct {
	// New builds a pool with default settings. Required.
	New Factory
	// NewMaintained builds a pool with Maintenance settings; nil skips the
	// MinIdle, IdleTimeout and MaxLifetime tests.
	NewMaintained MaintainedFactory
	// AllocFree also checks that Acquire and Release of an idle
	// connection allocate nothing.
	AllocFree bool
}

// Run runs the contract suite, each check a subtest of t.
func Run(t *testing.T, cfg Config) {
	require.NotNil(t, cfg.New, "pooltest.Config.New is required")
	newPool := func(t *testing.T, dial conn.DialFunc, maxSize int) conn.Pool {
		t.Helper()
		p := cfg.New(t, dial, maxSize)
		require.NotNil(t, p)
		t.Cleanup(func() { _ = p.Close() })
		return p
	}
	runCore(t, newPool, cfg.AllocFree)
	runStale(t, newPool)
	runClose(t, newPool)
	t.Run("Maintenance", func(t *testing.T) {
		if cfg.NewMaintained == nil {
			t.Skip("pooltest.Config.NewMaintained is nil")
		}
		newMaintained := func(t *testing.T, dial conn.DialFunc, maxSize int, m Maintenance) conn.Pool {
			t.Helper()
			p := cfg.NewMaintained(t, dial, maxSize, m)
			require.NotNil(t, p)
			t.Cleanup(func() { _ = p.Close() })
			return p
		}
		runMaintenance(t, newMaintained)
	})
}
