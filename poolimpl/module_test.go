package poolimpl_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/AmanTrance/FastRpc/module"
	"github.com/AmanTrance/FastRpc/poolimpl"
)

func TestModules(t *testing.T) {
	l := module.NewLoader(context.Background())
	t.Cleanup(func() { require.NoError(t, l.Cleanup()) })
	for _, name := range []string{"mutex", "puddle"} {
		t.Run(name, func(t *testing.T) {
			raw := `{"module":"` + name + `","min_idle":1,"idle_timeout":"90s","max_lifetime":"30m","check_period":"250ms"}`
			m, err := module.LoadAs[poolimpl.Module](l, module.NamespacePool, json.RawMessage(raw))
			require.NoError(t, err)
			want := poolimpl.Options{
				MinIdle:     1,
				IdleTimeout: module.Duration(90 * time.Second),
				MaxLifetime: module.Duration(30 * time.Minute),
				CheckPeriod: module.Duration(250 * time.Millisecond),
			}
			// The module's fields are Options'.
			b, err := json.Marshal(m)
			require.NoError(t, err)
			var got poolimpl.Options
			require.NoError(t, module.DecodeStrict(b, &got), "%s", b)
			assert.Equal(t, want, got)

			d := newPipeDialer(t)
			p, err := m.NewPool(d.dial, 2)
			require.NoError(t, err)
			require.Eventually(t, func() bool { return p.Stats().Idle == 1 }, 3*time.Second, time.Millisecond, "min_idle applied")
			require.NoError(t, p.Close())

			p, err = m.NewPool(d.dial, 0)
			require.NoError(t, err, "size 0 means DefaultSize")
			require.NoError(t, p.Close())

			// Defaults: everything off.
			m2, err := module.LoadAs[poolimpl.Module](l, module.NamespacePool, json.RawMessage(`{"module":"`+name+`"}`))
			require.NoError(t, err)
			p2, err := m2.NewPool(d.dial, 1)
			require.NoError(t, err)
			require.NoError(t, p2.Close())

			_, err = module.LoadAs[poolimpl.Module](l, module.NamespacePool, json.RawMessage(`{"module":"`+name+`","min_idle":-1}`))
			assert.ErrorContains(t, err, "min_idle -1 is negative")
			_, err = module.LoadAs[poolimpl.Module](l, module.NamespacePool, json.RawMessage(`{"module":"`+name+`","idle":1}`))
			assert.ErrorContains(t, err, "unknown field")
		})
	}
	ids := []string{}
	for _, info := range module.Namespace(module.NamespacePool) {
		ids = append(ids, string(info.ID))
	}
	assert.Subset(t, ids, []string{"pool.mutex", "pool.puddle"})
	assert.Equal(t, "mutex", poolimpl.DefaultModule)
}
