package slave_test

import (
	"errors"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/AmanTrance/FastRpc/slave"
)

// The master is killed and restarted on the same port: the same slave's
// calls succeed again with either pool, without the caller doing
// anything.
func TestPoolMasterRestart(t *testing.T) {
	for _, k := range poolKinds {
		t.Run(k.name, func(t *testing.T) {
			m1, addr := poolMaster(t, "127.0.0.1:0")
			s, err := slave.New(slave.Config{Address: addr, PoolSize: 3, Pool: k.pool})
			require.NoError(t, err)
			defer s.Close()
			ctx := callCtx(t)
			callAll := func(n int) error {
				var wg sync.WaitGroup
				errs := make([]error, n)
				for i := range n {
					wg.Add(1)
					go func() {
						defer wg.Done()
						msg := fmt.Sprintf("call %d", i)
						got, err := s.Call(ctx, "echo", []byte(msg))
						if err == nil && string(got) != msg {
							err = fmt.Errorf("got %q for %q", got, msg)
						}
						errs[i] = err
					}()
				}
				wg.Wait()
				return errors.Join(errs...)
			}
			require.NoError(t, callAll(12))
			require.Equal(t, 3, s.PoolStats().Idle, "three idle connections to the first master")

			// Killed and back before the next call: the idle connections
			// are stale, caught by the pool, and replaced. No call fails.
			require.NoError(t, m1.Close())
			m2, addr := poolMaster(t, addr)
			require.NoError(t, callAll(12), "calls after a restart")
			st := s.PoolStats()
			assert.GreaterOrEqual(t, st.Stale, uint64(1), "%+v", st)
			assert.Equal(t, uint64(0), st.DialErrors, "%+v", st)

			// Killed, called while down, then back: calls fail (fast, see
			// TestPoolDialBackoff) and then succeed again by themselves.
			require.NoError(t, m2.Close())
			err = callAll(8)
			require.Error(t, err, "the master is down")
			var ne *net.OpError
			assert.True(t, errors.Is(err, slave.ErrDialBackoff) || errors.As(err, &ne), "%v", err)
			poolMaster(t, addr)
			require.Eventually(t, func() bool { return callAll(8) == nil }, hangGuard, 20*time.Millisecond,
				"calls succeed again once the master is back")
			st = s.PoolStats()
			assert.LessOrEqual(t, st.Open, 3)
			t.Logf("%s: %+v", k.name, st)
		})
	}
}
