package pooltest

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/AmanTrance/FastRpc/conn"
)

// tick is the CheckPeriod of the maintenance tests: short, so that they
// finish soon; nothing asserts on how soon.
const tick = 5 * time.Millisecond

// runMaintenance checks MinIdle, IdleTimeout and MaxLifetime.
func runMaintenance(t *testing.T, newPool MaintainedFactory) {
	t.Run("MinIdle", func(t *testing.T) {
		const maxSize = 3
		d := newFakeDialer(t, maxSize)
		p := newPool(t, d.dial, maxSize, Maintenance{MinIdle: 2, CheckPeriod: tick})
		waitFor(t, p, "two warm connections, with no Acquire", func(s conn.PoolStats) bool {
			return s.Idle == 2 && s.Open == 2
		})
		a, b := acquire2(t, p)
		waitFor(t, p, "refilled, up to MaxSize only", func(s conn.PoolStats) bool {
			return s.Idle == 1 && s.Open == maxSize
		})
		c, err := p.Acquire(ctxFor(t, prompt))
		require.NoError(t, err)
		s := p.Stats()
		assert.Equal(t, maxSize, s.InUse)
		assert.Equal(t, uint64(3), s.Acquires)
		assert.Equal(t, uint64(0), s.Waits, "warm connections need no wait")
		for _, c := range []*conn.Conn{a, b, c} {
			p.Release(c)
		}
		dials, maxLive := d.counts()
		assert.Equal(t, maxSize, dials, "nothing dialled beyond MaxSize")
		assert.LessOrEqual(t, maxLive, maxSize)
		checkSettled(t, p, maxSize)
	})

	t.Run("MinIdleAfterDialErrors", func(t *testing.T) {
		d := newFakeDialer(t, 2)
		d.hook = func(_ context.Context, n int) error {
			if n <= 2 {
				return errDial
			}
			return nil
		}
		p := newPool(t, d.dial, 2, Maintenance{MinIdle: 2, CheckPeriod: tick})
		waitFor(t, p, "warm despite the failed dials", func(s conn.PoolStats) bool {
			return s.Idle == 2
		})
		s := p.Stats()
		assert.Equal(t, uint64(2), s.DialErrors)
		assert.Equal(t, uint64(4), s.Dials)
		assert.Equal(t, 2, s.Open)
	})

	t.Run("IdleTimeout", func(t *testing.T) {
		d := newFakeDialer(t, 2)
		p := newPool(t, d.dial, 2, Maintenance{IdleTimeout: 30 * time.Millisecond, CheckPeriod: tick})
		a, b := acquire2(t, p)
		p.Release(b)
		waitFor(t, p, "the idle connection timed out", func(s conn.PoolStats) bool { return s.Open == 1 })
		assert.True(t, d.peerSeesEOF(t, b), "timed out: closed")
		assert.False(t, d.track(a).gone.Load(), "a connection in use is never closed under its caller")
		assert.Equal(t, uint64(1), p.Stats().Expired)

		p.Release(a)
		waitFor(t, p, "the other one too, once idle", func(s conn.PoolStats) bool { return s.Open == 0 })
		assert.True(t, d.peerSeesEOF(t, a))
		s := p.Stats()
		assert.Equal(t, uint64(2), s.Expired)
		assert.Equal(t, 0, s.Idle)

		c, err := p.Acquire(ctxFor(t, prompt))
		require.NoError(t, err, "the pool dials again on demand")
		p.Release(c)
		dials, _ := d.counts()
		assert.Equal(t, 3, dials)
	})

	t.Run("MaxLifetime", func(t *testing.T) {
		const lifetime = 60 * time.Millisecond
		d := newFakeDialer(t, 2)
		p := newPool(t, d.dial, 2, Maintenance{MaxLifetime: lifetime, CheckPeriod: tick})
		a, b := acquire2(t, p)
		p.Release(a)
		waitFor(t, p, "the idle connection outlived MaxLifetime", func(s conn.PoolStats) bool { return s.Open == 1 })
		assert.True(t, d.peerSeesEOF(t, a), "expired: closed")
		time.Sleep(time.Until(b.Created().Add(lifetime + 2*tick))) // b too is past its lifetime now
		assert.False(t, d.track(b).gone.Load(), "a connection in use is never closed under its caller")

		p.Release(b)
		waitFor(t, p, "released past its lifetime: closed", func(s conn.PoolStats) bool { return s.Open == 0 })
		assert.True(t, d.peerSeesEOF(t, b))
		assert.Equal(t, uint64(2), p.Stats().Expired)
	})

	t.Run("CloseStopsMaintenance", func(t *testing.T) {
		d := newFakeDialer(t, 2)
		p := newPool(t, d.dial, 2, Maintenance{MinIdle: 1, IdleTimeout: time.Hour, CheckPeriod: time.Millisecond})
		waitFor(t, p, "warm", func(s conn.PoolStats) bool { return s.Idle == 1 })
		require.NoError(t, p.Close())
		dials, _ := d.counts()
		d.mu.Lock()
		for c, tc := range d.tracked {
			assert.True(t, tc.gone.Load(), "Close closes the warm connection %p", c)
		}
		d.mu.Unlock()
		time.Sleep(20 * time.Millisecond) // twenty check periods
		after, _ := d.counts()
		assert.Equal(t, dials, after, "no dial after Close")
		assert.Equal(t, 0, p.Stats().Open)
	})
}
