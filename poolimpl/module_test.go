package poolimpl_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/AmanTrance/FastRpc/conn"
	"github.com/AmanTrance/FastRpc/module"
	"github.com/AmanTrance/FastRpc/poolimpl"
)

// poolModule is what the slave asks of a pool module.
type poolModule interface {
	NewPool(dial conn.DialFunc, size int) (conn.Pool, error)
}

func TestModules(t *testing.T) {
	ctx := context.Background()
	for _, name := range []string{"mutex", "puddle"} {
		t.Run(name, func(t *testing.T) {
			raw := `{"module":"` + name + `","min_idle":1,"idle_timeout":"90s","max_lifetime":"30m","check_period":"250ms"}`
			m, err := module.LoadAs[poolModule](ctx, "pool", json.RawMessage(raw))
			require.NoError(t, err)
			want := poolimpl.Options{
				MinIdle:     1,
				IdleTimeout: module.Duration(90 * time.Second),
				MaxLifetime: module.Duration(30 * time.Minute),
				CheckPeriod: module.Duration(250 * time.Millisecond),
			}
			switch m := m.(type) {
			case *poolimpl.MutexModule:
				assert.Equal(t, want, m.Options)
			case *poolimpl.PuddleModule:
				assert.Equal(t, want, m.Options)
			default:
				t.Fatalf("unexpected module type %T", m)
			}

			d := newPipeDialer(t)
			p, err := m.NewPool(d.dial, 2)
			require.NoError(t, err)
			require.Eventually(t, func() bool { return p.Stats().Idle == 1 }, 3*time.Second, time.Millisecond, "min_idle applied")
			require.NoError(t, p.Close())

			p, err = m.NewPool(d.dial, 0)
			require.NoError(t, err, "size 0 means DefaultMaxSize")
			require.NoError(t, p.Close())

			// Defaults: everything off.
			m2, err := module.New(ctx, "pool", name)
			require.NoError(t, err)
			p2, err := m2.(poolModule).NewPool(d.dial, 1)
			require.NoError(t, err)
			require.NoError(t, p2.Close())

			_, err = module.Load(ctx, "pool", json.RawMessage(`{"module":"`+name+`","min_idle":-1}`))
			assert.ErrorContains(t, err, "min_idle -1 is negative")
			_, err = module.Load(ctx, "pool", json.RawMessage(`{"module":"`+name+`","idle":1}`))
			assert.ErrorContains(t, err, "unknown field")
		})
	}
	ids := []string{}
	for _, info := range module.Namespace("pool") {
		ids = append(ids, string(info.ID))
	}
	assert.Subset(t, ids, []string{"pool.mutex", "pool.puddle"})
	assert.Equal(t, "mutex", poolimpl.DefaultModule)
}
