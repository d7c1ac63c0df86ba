package slave_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/AmanTrance/FastRpc/module"
	"github.com/AmanTrance/FastRpc/poolimpl"
	"github.com/AmanTrance/FastRpc/poolimpl/puddle"
	"github.com/AmanTrance/FastRpc/slave"
)

// Pools set in code, or named in a slave's JSON config, serve calls;
// unknown names and bad options are errors that say what is known or
// wrong.
func TestPoolSelection(t *testing.T) {
	_, addr := poolMaster(t, "127.0.0.1:0")
	ctx := callCtx(t)
	check := func(t *testing.T, s *slave.Slave) {
		t.Helper()
		t.Cleanup(func() { _ = s.Close() })
		got, err := s.Call(ctx, "echo", []byte("hi"))
		require.NoError(t, err)
		assert.Equal(t, "hi", string(got))
	}
	// fromJSON builds a slave whose config has pool, if not empty.
	fromJSON := func(pool string) (*slave.Slave, error) {
		cfg := fmt.Sprintf(`{"address": %q, "pool_size": 2`, addr)
		if pool != "" {
			cfg += `, "pool": ` + pool
		}
		return slave.FromJSON(ctx, []byte(cfg+"}"))
	}

	t.Run("InCode", func(t *testing.T) {
		for _, pool := range []poolimpl.Factory{nil, poolimpl.Mutex(poolimpl.Options{}), puddle.Factory(poolimpl.Options{})} {
			s, err := slave.New(slave.Config{Address: addr, PoolSize: 2, Pool: pool})
			require.NoError(t, err)
			check(t, s)
		}
	})

	t.Run("FromJSON", func(t *testing.T) {
		for _, raw := range []string{
			``, `null`, `{}`,
			`{"module": "mutex"}`, `{"module": "puddle"}`,
			`{"min_idle": 1}`,
			`{"module": "puddle", "min_idle": 1, "idle_timeout": "90s", "max_lifetime": "30m", "check_period": "1s"}`,
			`{"module": "mutex", "idle_timeout": 1000000000}`,
		} {
			s, err := fromJSON(raw)
			require.NoError(t, err, raw)
			check(t, s)
			require.Eventually(t, func() bool { return s.PoolStats().Open >= 1 }, hangGuard, time.Millisecond)
		}
		for raw, want := range map[string]string{
			`{"module": "puddle", "min_idel": 1}`:     "min_idel",
			`{"module": "mutex", "idle_timeout": -1}`: "idle_timeout",
			`{"idle_timeout": "soon"}`:                "soon",
			`[1]`:                                     "pool",
			// Options are checked against the pool size when the slave is made.
			`{"module": "puddle", "min_idle": 9}`: "min_idle 9 exceeds the pool size 2",
		} {
			_, err := fromJSON(raw)
			assert.ErrorContains(t, err, want, raw)
		}
	})

	t.Run("Unknown", func(t *testing.T) {
		_, err := fromJSON(`{"module": "bogus"}`)
		require.ErrorIs(t, err, module.ErrNotFound)
		assert.ErrorContains(t, err, "pool.mutex")
		assert.ErrorContains(t, err, "pool.puddle")
	})

	// Swapping is one line of Config.
	t.Run("OneLine", func(t *testing.T) {
		s, err := slave.New(slave.Config{Address: addr, PoolSize: 2, Pool: puddle.Factory(poolimpl.Options{MinIdle: 1})})
		require.NoError(t, err)
		check(t, s)
		require.Eventually(t, func() bool { return s.PoolStats().Idle >= 1 }, hangGuard, time.Millisecond, "kept warm")
	})
}
