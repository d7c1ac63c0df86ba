package slave_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/AmanTrance/FastRpc/slave"
)

// Issue 13, item 2, the graceful variant: the master shuts down while a
// slave keeps calling, and a new one starts on the same port. Every call
// that fails says the request was not sent (ErrUnavailable: no raw
// "connection refused"), and once the new master listens, calls succeed
// without the callers doing anything.
func TestDialGracefulRestartWhileCalling(t *testing.T) {
	for _, k := range poolKinds {
		t.Run(k.name, func(t *testing.T) {
			m1, addr := poolMaster(t, "127.0.0.1:0")
			s, err := slave.New(slave.Config{Address: addr, PoolSize: 4, Pool: k.pool})
			require.NoError(t, err)
			defer s.Close()

			var ok, failed atomic.Int64
			var mu sync.Mutex
			var bad []error
			var up atomic.Bool // the second master listens
			var afterUp atomic.Int64
			stop := make(chan struct{})
			var wg sync.WaitGroup
			for range 8 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for {
						select {
						case <-stop:
							return
						default:
						}
						wasUp := up.Load()
						ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
						_, err := s.Call(ctx, "echo", []byte("x"))
						cancel()
						switch {
						case err == nil:
							ok.Add(1)
						case wasUp:
							afterUp.Add(1)
							fallthrough
						default:
							failed.Add(1)
							if !errors.Is(err, slave.ErrUnavailable) {
								mu.Lock()
								bad = append(bad, err)
								mu.Unlock()
							}
						}
						time.Sleep(time.Millisecond)
					}
				}()
			}
			require.Eventually(t, func() bool { return ok.Load() >= 50 }, hangGuard, time.Millisecond)
			ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
			require.NoError(t, m1.Shutdown(ctx))
			cancel()
			time.Sleep(300 * time.Millisecond) // calls fail while nothing listens
			poolMaster(t, addr)
			up.Store(true)
			okAtRestart := ok.Load()
			require.Eventually(t, func() bool { return ok.Load() >= okAtRestart+200 }, hangGuard, time.Millisecond,
				"calls succeed again on the same slave")
			close(stop)
			wg.Wait()
			t.Logf("%s: %d calls succeeded, %d failed (%d of them made after the new master listened)", k.name, ok.Load(), failed.Load(), afterUp.Load())
			assert.Empty(t, bad, "failures that do not match ErrUnavailable")
			assert.Zero(t, afterUp.Load(), "calls made once the new master listens wait for the next dial")
		})
	}
}
