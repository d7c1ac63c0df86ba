package slave_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/AmanTrance/FastRpc/module"
	"github.com/AmanTrance/FastRpc/poolimpl"
	"github.com/AmanTrance/FastRpc/slave"
)

// Pools picked by name or from JSON serve calls; unknown names and bad
// options are errors that say what is known or wrong.
func TestPoolSelection(t *testing.T) {
	m := poolMaster(t, "127.0.0.1:0")
	ctx := callCtx(t)
	call := func(t *testing.T, pool slave.PoolFactory) *slave.Slave {
		t.Helper()
		s, err := slave.New(slave.Config{Address: m.Addr().String(), PoolSize: 2, Pool: pool})
		require.NoError(t, err)
		t.Cleanup(func() { _ = s.Close() })
		got, err := s.Call(ctx, "echo", []byte("hi"))
		require.NoError(t, err)
		assert.Equal(t, "hi", string(got))
		return s
	}

	for _, name := range []string{"", "mutex", "puddle"} {
		t.Run("name="+name, func(t *testing.T) {
			pool, err := slave.PoolByName(ctx, name)
			require.NoError(t, err)
			call(t, pool)
		})
	}

	t.Run("Unknown", func(t *testing.T) {
		_, err := slave.PoolByName(ctx, "bogus")
		require.ErrorIs(t, err, module.ErrNotFound)
		assert.ErrorContains(t, err, "pool.mutex")
		assert.ErrorContains(t, err, "pool.puddle")
	})

	t.Run("FromConfig", func(t *testing.T) {
		for _, raw := range []string{
			``, `null`, `{}`,
			`{"min_idle": 1}`,
			`{"module": "puddle", "min_idle": 1, "idle_timeout": "90s", "max_lifetime": "30m", "check_period": "1s"}`,
			`{"module": "mutex", "idle_timeout": 1000000000}`,
		} {
			pool, err := slave.PoolFromConfig(ctx, json.RawMessage(raw))
			require.NoError(t, err, raw)
			s := call(t, pool)
			require.Eventually(t, func() bool { return s.PoolStats().Open >= 1 }, hangGuard, time.Millisecond)
		}
		for raw, want := range map[string]string{
			`{"module": "puddle", "min_idel": 1}`:     "min_idel",
			`{"module": "mutex", "idle_timeout": -1}`: "idle_timeout",
			`{"idle_timeout": "soon"}`:                "soon",
			`[1]`:                                     "pool config",
		} {
			_, err := slave.PoolFromConfig(ctx, json.RawMessage(raw))
			assert.ErrorContains(t, err, want, raw)
		}
		// Options are checked against the pool size when the slave is made.
		pool, err := slave.PoolFromConfig(ctx, json.RawMessage(`{"module":"puddle","min_idle":9}`))
		require.NoError(t, err)
		_, err = slave.New(slave.Config{Address: m.Addr().String(), PoolSize: 2, Pool: pool})
		assert.ErrorContains(t, err, "min_idle 9 exceeds the pool size 2")
	})

	// Swapping is one line of Config.
	t.Run("OneLine", func(t *testing.T) {
		s := call(t, poolimpl.PuddleFactory(poolimpl.Options{MinIdle: 1}))
		require.Eventually(t, func() bool { return s.PoolStats().Idle >= 1 }, hangGuard, time.Millisecond, "kept warm")
	})
}
