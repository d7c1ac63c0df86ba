package pooltest

import (
	"context"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/AmanTrance/FastRpc/conn"
)

// runClose checks Close racing with everything else.
func runClose(t *testing.T, newPool Factory) {
	// Close races with waiters, releases, destroys and dials; afterwards
	// every caller has returned, every connection is closed and the open
	// count is back to zero.
	t.Run("CloseRace", func(t *testing.T) {
		for round := range 20 {
			const maxSize = 3
			d := newFakeDialer(t, maxSize)
			d.hook = func(_ context.Context, n int) error {
				if n%5 == 0 {
					return errDial
				}
				return nil
			}
			p := newPool(t, d.dial, maxSize)
			var wg sync.WaitGroup
			var ex exclusive
			start := make(chan struct{})
			for g := range 16 {
				spawn(&wg, func() {
					rng := rand.New(rand.NewPCG(uint64(round), uint64(g)))
					<-start
					for {
						ctx, cancel := context.WithTimeout(context.Background(), time.Duration(rng.IntN(300))*time.Microsecond)
						c, err := p.Acquire(ctx)
						cancel()
						switch {
						case err == nil:
						case err == conn.ErrPoolClosed:
							return
						default:
							continue // timeouts and dial errors
						}
						ex.take(t, c)
						ex.give(c)
						if rng.IntN(4) == 0 {
							d.destroy(p, c)
						} else {
							p.Release(c)
						}
					}
				})
			}
			close(start)
			time.Sleep(time.Duration(rand.IntN(2000)) * time.Microsecond)
			require.NoError(t, p.Close())
			waitAll(t, &wg, p, prompt)

			// A dial a caller gave up on may finish (and be closed) a
			// moment after Close.
			require.Eventually(t, func() bool { return p.Stats().Open == 0 }, prompt, time.Millisecond,
				"round %d: %+v", round, p.Stats())
			s := p.Stats()
			require.Equal(t, 0, s.Idle)
			require.Equal(t, 0, s.Waiting)
			require.LessOrEqual(t, s.Waits, s.Acquires)
			require.Eventually(t, func() bool {
				d.mu.Lock()
				defer d.mu.Unlock()
				for _, tc := range d.tracked {
					if !tc.gone.Load() {
						return false
					}
				}
				return true
			}, prompt, time.Millisecond, "round %d: a connection was left open", round)
			_, maxLive := d.counts()
			assert.LessOrEqual(t, maxLive, maxSize)
		}
	})

	// Close wakes every waiter at once, whatever their contexts.
	t.Run("CloseWakesManyWaiters", func(t *testing.T) {
		const maxSize, waiters = 2, 20
		d := newFakeDialer(t, maxSize)
		p := newPool(t, d.dial, maxSize)
		held := make([]*conn.Conn, 0, maxSize)
		for range maxSize {
			c, err := p.Acquire(ctxFor(t, prompt))
			require.NoError(t, err)
			held = append(held, c)
		}
		ws := make([]<-chan acquired, 0, waiters)
		for i := range waiters {
			ws = append(ws, acquireAsync(context.Background(), p))
			waitQueued(t, p, "waiter queued", i+1)
		}
		require.NoError(t, p.Close())
		for _, w := range ws {
			r := await(t, w)
			assert.ErrorIs(t, r.err, conn.ErrPoolClosed)
			assert.Nil(t, r.c)
		}
		assert.Equal(t, 0, p.Stats().Waiting)
		for _, c := range held {
			p.Release(c)
			assert.True(t, d.peerSeesEOF(t, c), "released after Close: closed")
		}
		assert.Equal(t, 0, p.Stats().Open)
	})
}
