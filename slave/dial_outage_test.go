package slave_test

import (
	"context"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/AmanTrance/FastRpc/slave"
)

// While nothing listens on the master's port, callers keep calling for
// 600ms. The master's address sees about one dial per backoff window
// (plus the pool's first wave); each call fails with an error matching
// ErrUnavailable, having waited at most about a window for the probe (by
// default) or not at all (FailFast). Then the master comes up and the
// same slave serves calls.
func TestDialOutage(t *testing.T) {
	const (
		callers  = 32
		poolSize = 4
		runFor   = 600 * time.Millisecond
	)
	for _, k := range poolKinds {
		for _, failFast := range []bool{false, true} {
			name := k.name + "/wait"
			if failFast {
				name = k.name + "/failfast"
			}
			t.Run(name, func(t *testing.T) {
				leaks := goleak.IgnoreCurrent()
				t.Cleanup(func() { goleak.VerifyNone(t, leaks) })
				addr := freeAddr(t)
				d := &countingDialer{Dialer: net.Dialer{Timeout: time.Second}}
				s, err := slave.New(slave.Config{Address: addr, Dialer: d, PoolSize: poolSize, Pool: k.pool, FailFast: failFast})
				require.NoError(t, err)
				defer s.Close()

				var calls, backoff atomic.Int64
				var mu sync.Mutex
				var longest time.Duration
				var bad []error
				stop := time.Now().Add(runFor)
				var wg sync.WaitGroup
				for range callers {
					wg.Add(1)
					go func() {
						defer wg.Done()
						for time.Now().Before(stop) {
							start := time.Now()
							_, err := s.Call(callCtx(t), "echo", []byte("x"))
							took := time.Since(start)
							calls.Add(1)
							mu.Lock()
							longest = max(longest, took)
							switch {
							case err == nil:
								bad = append(bad, errors.New("a call succeeded with nothing listening"))
							case !errors.Is(err, slave.ErrUnavailable),
								errors.Is(err, context.DeadlineExceeded),
								errors.Is(err, slave.ErrConnection):
								bad = append(bad, err)
							case errors.Is(err, slave.ErrDialBackoff):
								backoff.Add(1)
							case !errors.Is(err, syscall.ECONNREFUSED):
								bad = append(bad, err)
							}
							mu.Unlock()
							time.Sleep(time.Millisecond)
						}
					}()
				}
				wg.Wait()
				dials := d.n.Load()
				t.Logf("%s: %d calls, %d real dials, %d ErrDialBackoff, longest call %v", name, calls.Load(), dials, backoff.Load(), longest)
				require.Empty(t, bad, "errors that do not say the request was not sent, or say it wrongly")
				// Windows of 25-50ms, 50-100ms, 100-200ms... (each half
				// jitter): at most five probes fit in 600ms.
				assert.LessOrEqual(t, dials, int64(poolSize+6), "more than one dial per backoff window")
				// Every call is answered by the next probe, at most a
				// window and a probe away (a generous bound, not a speed
				// test).
				assert.Less(t, longest, 2*time.Second)
				if failFast {
					assert.Greater(t, backoff.Load(), 10*dials, "FailFast calls fail at once, without dialling")
				} else {
					assert.Zero(t, backoff.Load(), "waiting calls get the probe's own error")
				}

				// The master comes up: calls succeed again within the
				// longest window.
				poolMaster(t, addr)
				require.Eventually(t, func() bool {
					got, err := s.Call(callCtx(t), "echo", []byte("back"))
					return err == nil && string(got) == "back"
				}, hangGuard, 10*time.Millisecond)
				require.NoError(t, s.Close())
			})
		}
	}
}
