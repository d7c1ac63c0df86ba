package slave_test

import (
	"errors"
	"net"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/AmanTrance/FastRpc/slave"
)

// freeAddr returns a loopback address nothing listens on.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	return addr
}

// With the master down and FailFast set, many concurrent calls all fail
// without a dial each (the default, waiting for the next dial, is
// TestDialOutage's); once it is up, calls succeed again by themselves.
func TestPoolDialBackoff(t *testing.T) {
	const callers, poolSize = 100, 4
	for _, k := range poolKinds {
		t.Run(k.name, func(t *testing.T) {
			addr := freeAddr(t)
			d := &countingDialer{Dialer: net.Dialer{Timeout: time.Second}}
			s, err := slave.New(slave.Config{Address: addr, Dialer: d, PoolSize: poolSize, Pool: k.pool, FailFast: true})
			require.NoError(t, err)
			defer s.Close()
			ctx := callCtx(t)

			wave := func() (backedOff int) {
				var wg sync.WaitGroup
				var mu sync.Mutex
				for range callers {
					wg.Add(1)
					go func() {
						defer wg.Done()
						_, err := s.Call(ctx, "echo", []byte("x"))
						if !assert.Error(t, err) {
							return
						}
						// Either a real dial's error, or the backoff's,
						// which shows the last real one as text only.
						assert.ErrorIs(t, err, slave.ErrUnavailable)
						if !errors.Is(err, slave.ErrDialBackoff) {
							assert.ErrorIs(t, err, syscall.ECONNREFUSED)
						} else {
							assert.ErrorContains(t, err, "connection refused")
							mu.Lock()
							backedOff++
							mu.Unlock()
						}
					}()
				}
				wg.Wait()
				return backedOff
			}
			b1 := wave()
			b2 := wave()
			dials := d.n.Load()
			t.Logf("%s: %d calls made %d dials; %d and %d were refused by the backoff", k.name, 2*callers, dials, b1, b2)
			// At most the pool's first wave of dials, then one probe per
			// backoff window (which starts at 50ms and doubles).
			assert.LessOrEqual(t, dials, int64(poolSize+6), "a dial per caller")
			assert.GreaterOrEqual(t, b1+b2, 2*callers-int(dials))
			st := s.PoolStats()
			assert.Equal(t, 0, st.Open)
			assert.Equal(t, 0, st.Waiting)

			// The master comes up: calls succeed again within the longest
			// backoff window.
			poolMaster(t, addr)
			require.Eventually(t, func() bool {
				got, err := s.Call(ctx, "echo", []byte("back"))
				return err == nil && string(got) == "back"
			}, hangGuard, 10*time.Millisecond)
			got, err := s.Call(ctx, "echo", []byte("again"))
			require.NoError(t, err, "the failing state is over")
			assert.Equal(t, "again", string(got))
		})
	}
}
