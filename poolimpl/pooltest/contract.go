package pooltest

import (
	"context"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/AmanTrance/FastRpc/conn"
)

// runCore checks exclusivity, sizing, waiting, destroy, dial errors,
// stats and allocations.
func runCore(t *testing.T, newPool Factory, allocFree bool) {
	t.Run("Exclusive", func(t *testing.T) {
		const maxSize, workers, rounds = 4, 32, 100
		d := newFakeDialer(t, maxSize)
		p := newPool(t, d.dial, maxSize)
		var ex exclusive
		var wg sync.WaitGroup
		for g := range workers {
			spawn(&wg, func() {
				for i := range rounds {
					c, err := p.Acquire(ctxFor(t, 10*time.Second))
					if !assert.NoError(t, err) {
						return
					}
					ex.take(t, c)
					if s := p.Stats(); s.Open > maxSize {
						assert.Failf(t, "too many open", "%+v", s)
					}
					runtime.Gosched()
					ex.give(c)
					if (g+i)%23 == 0 {
						d.destroy(p, c)
					} else {
						p.Release(c)
					}
				}
			})
		}
		wg.Wait()
		checkSettled(t, p, maxSize)
		_, maxLive := d.counts()
		assert.LessOrEqual(t, maxLive, maxSize, "connections alive at once")
		assert.Equal(t, uint64(workers*rounds), p.Stats().Acquires)
		checkSlots(t, p, maxSize)
	})

	t.Run("MaxSize", func(t *testing.T) {
		const maxSize = 3
		d := newFakeDialer(t, maxSize)
		p := newPool(t, d.dial, maxSize)
		var held []*conn.Conn
		for range maxSize {
			c, err := p.Acquire(ctxFor(t, prompt))
			require.NoError(t, err)
			assert.NotContains(t, held, c)
			held = append(held, c)
		}
		s := p.Stats()
		assert.Equal(t, maxSize, s.Open)
		assert.Equal(t, maxSize, s.InUse)
		assert.Equal(t, 0, s.Idle)

		_, err := p.Acquire(ctxFor(t, 50*time.Millisecond))
		require.ErrorIs(t, err, context.DeadlineExceeded)
		dials, _ := d.counts()
		assert.Equal(t, maxSize, dials, "no dial beyond MaxSize")

		for _, c := range held {
			p.Release(c)
		}
		s = p.Stats()
		assert.Equal(t, maxSize, s.Idle)
		assert.Equal(t, maxSize, s.Open)
		assert.Equal(t, 0, s.InUse)
		checkSlots(t, p, maxSize)
		dials, _ = d.counts()
		assert.Equal(t, maxSize, dials, "idle connections are reused")
	})

	t.Run("FIFO", func(t *testing.T) {
		const waiters = 6
		d := newFakeDialer(t, 1)
		p := newPool(t, d.dial, 1)
		c0, err := p.Acquire(ctxFor(t, prompt))
		require.NoError(t, err)

		order := make(chan int, waiters)
		var wg sync.WaitGroup
		for i := range waiters {
			spawn(&wg, func() {
				c, err := p.Acquire(ctxFor(t, 10*time.Second))
				if !assert.NoError(t, err) {
					order <- -1
					return
				}
				assert.Same(t, c0, c, "the released connection is handed over")
				order <- i // while holding c: sends happen in acquisition order
				p.Release(c)
			})
			waitQueued(t, p, "waiter queued", i+1)
		}
		p.Release(c0)
		wg.Wait()
		close(order)
		var got []int
		for i := range order {
			got = append(got, i)
		}
		assert.Equal(t, []int{0, 1, 2, 3, 4, 5}, got, "waiters served in arrival order")
		dials, _ := d.counts()
		assert.Equal(t, 1, dials)
		checkSettled(t, p, 1)
	})

	t.Run("WaiterContextEnds", func(t *testing.T) {
		for _, end := range []string{"deadline", "cancel"} {
			t.Run(end, func(t *testing.T) {
				d := newFakeDialer(t, 1)
				p := newPool(t, d.dial, 1)
				c0, err := p.Acquire(ctxFor(t, prompt))
				require.NoError(t, err)

				var ctx context.Context
				var want error
				if end == "deadline" {
					ctx, want = ctxFor(t, 100*time.Millisecond), context.DeadlineExceeded
				} else {
					var cancel context.CancelFunc
					ctx, cancel = context.WithCancel(context.Background())
					defer cancel()
					want = context.Canceled
					canceller := make(chan struct{})
					defer func() { <-canceller }()
					go func() {
						defer close(canceller)
						assert.Eventually(t, func() bool { return p.Stats().Waiting == 1 }, prompt, 100*time.Microsecond)
						cancel()
					}()
				}
				start := time.Now()
				c, err := p.Acquire(ctx)
				assert.Less(t, time.Since(start), prompt)
				require.ErrorIs(t, err, want)
				assert.Nil(t, c)

				s := p.Stats()
				assert.Equal(t, 0, s.Waiting)
				assert.Equal(t, 1, s.Open)
				assert.Equal(t, 1, s.InUse)
				assert.Equal(t, 0, s.Idle)

				p.Release(c0)
				s = p.Stats()
				assert.Equal(t, 1, s.Idle, "the waiter that gave up took nothing")
				assert.Equal(t, 0, s.InUse)
				c, err = p.Acquire(ctxFor(t, prompt))
				require.NoError(t, err)
				assert.Same(t, c0, c)
				p.Release(c)
				dials, _ := d.counts()
				assert.Equal(t, 1, dials)
			})
		}
	})

	t.Run("WaiterLeavesMiddleOfQueue", func(t *testing.T) {
		d := newFakeDialer(t, 1)
		p := newPool(t, d.dial, 1)
		c0, err := p.Acquire(ctxFor(t, prompt))
		require.NoError(t, err)
		first := acquireAsync(ctxFor(t, 10*time.Second), p)
		waitQueued(t, p, "first queued", 1)
		midCtx, cancelMid := context.WithCancel(context.Background())
		mid := acquireAsync(midCtx, p)
		waitQueued(t, p, "middle queued", 2)
		last := acquireAsync(ctxFor(t, 10*time.Second), p)
		waitQueued(t, p, "last queued", 3)

		cancelMid()
		r := await(t, mid)
		require.ErrorIs(t, r.err, context.Canceled)
		waitQueued(t, p, "middle left", 2)

		p.Release(c0)
		r = await(t, first)
		require.NoError(t, r.err)
		assert.Same(t, c0, r.c)
		select {
		case <-last:
			t.Fatal("last waiter served while the first holds the only connection")
		default:
		}
		p.Release(r.c)
		r = await(t, last)
		require.NoError(t, r.err)
		assert.Same(t, c0, r.c)
		p.Release(r.c)
		checkSettled(t, p, 1)
	})

	// Many acquires with tiny timeouts race handoffs against context ends.
	t.Run("ContextRace", func(t *testing.T) {
		const maxSize, workers, rounds = 2, 48, 200
		d := newFakeDialer(t, maxSize)
		p := newPool(t, d.dial, maxSize)
		var ex exclusive
		var ok, failed atomic.Int64
		var wg sync.WaitGroup
		for g := range workers {
			spawn(&wg, func() {
				rng := rand.New(rand.NewPCG(uint64(g), 1))
				for range rounds {
					ctx, cancel := context.WithTimeout(context.Background(), time.Duration(rng.IntN(200))*time.Microsecond)
					c, err := p.Acquire(ctx)
					cancel()
					if err != nil {
						failed.Add(1)
						assert.ErrorIs(t, err, context.DeadlineExceeded)
						continue
					}
					ok.Add(1)
					ex.take(t, c)
					if s := p.Stats(); s.Open > maxSize || s.Open != s.Idle+s.InUse {
						assert.Failf(t, "inconsistent stats", "%+v", s)
					}
					for range rng.IntN(3) {
						runtime.Gosched()
					}
					ex.give(c)
					if rng.IntN(20) == 0 {
						d.destroy(p, c)
					} else {
						p.Release(c)
					}
				}
			})
		}
		wg.Wait()
		t.Logf("acquired %d, timed out %d", ok.Load(), failed.Load())
		checkSettled(t, p, maxSize)
		s := p.Stats()
		assert.Equal(t, uint64(ok.Load()), s.Acquires)
		assert.LessOrEqual(t, s.Waits, s.Acquires)
		_, maxLive := d.counts()
		assert.LessOrEqual(t, maxLive, maxSize)
		checkSlots(t, p, maxSize)
	})

	t.Run("Destroy", func(t *testing.T) {
		d := newFakeDialer(t, 1)
		p := newPool(t, d.dial, 1)
		c0, err := p.Acquire(ctxFor(t, prompt))
		require.NoError(t, err)
		d.destroy(p, c0)
		assert.True(t, d.peerSeesEOF(t, c0), "Destroy closes the connection")
		s := p.Stats()
		assert.Equal(t, 0, s.Open)
		assert.Equal(t, 0, s.InUse)

		c1, err := p.Acquire(ctxFor(t, prompt))
		require.NoError(t, err)
		assert.NotSame(t, c0, c1)
		dials, _ := d.counts()
		assert.Equal(t, 2, dials, "the freed slot is dialled anew")
		p.Release(c1)
		checkSettled(t, p, 1)
	})

	t.Run("DestroyWakesWaiter", func(t *testing.T) {
		d := newFakeDialer(t, 1)
		p := newPool(t, d.dial, 1)
		c0, err := p.Acquire(ctxFor(t, prompt))
		require.NoError(t, err)
		w := acquireAsync(ctxFor(t, 10*time.Second), p)
		waitQueued(t, p, "waiter queued", 1)
		d.destroy(p, c0)
		r := await(t, w)
		require.NoError(t, r.err)
		assert.NotSame(t, c0, r.c, "the waiter gets a freshly dialled connection")
		dials, _ := d.counts()
		assert.Equal(t, 2, dials)
		assert.True(t, d.peerSeesEOF(t, c0))
		p.Release(r.c)
		checkSettled(t, p, 1)
		assert.Equal(t, 1, p.Stats().Open)
	})

	t.Run("DialError", func(t *testing.T) {
		d := newFakeDialer(t, 2)
		d.hook = func(_ context.Context, n int) error {
			if n == 1 {
				return errDial
			}
			return nil
		}
		p := newPool(t, d.dial, 2)
		c, err := p.Acquire(ctxFor(t, prompt))
		require.ErrorIs(t, err, errDial)
		assert.Nil(t, c)
		s := p.Stats()
		assert.Equal(t, 0, s.Open, "a failed dial frees its slot")
		assert.Equal(t, uint64(1), s.Dials)
		assert.Equal(t, uint64(1), s.DialErrors)
		assert.Equal(t, uint64(0), s.Acquires)

		c, err = p.Acquire(ctxFor(t, prompt))
		require.NoError(t, err)
		assert.Equal(t, 1, p.Stats().Open)
		p.Release(c)
		checkSlots(t, p, 2)
	})

	t.Run("DialErrorWakesWaiter", func(t *testing.T) {
		d := newFakeDialer(t, 1)
		gate := make(chan struct{})
		d.hook = func(_ context.Context, n int) error {
			if n == 1 {
				<-gate
				return errDial
			}
			return nil
		}
		p := newPool(t, d.dial, 1)
		failing := acquireAsync(ctxFor(t, 10*time.Second), p)
		d.waitDial(t, 1)
		w := acquireAsync(ctxFor(t, 10*time.Second), p)
		waitQueued(t, p, "waiter queued behind the dial", 1)
		close(gate)
		r := await(t, failing)
		require.ErrorIs(t, r.err, errDial)
		r = await(t, w)
		require.NoError(t, r.err, "the failed dial's slot goes to the waiter")
		s := p.Stats()
		assert.Equal(t, uint64(2), s.Dials)
		assert.Equal(t, uint64(1), s.DialErrors)
		assert.Equal(t, 1, s.Open)
		p.Release(r.c)
		checkSettled(t, p, 1)
	})

	t.Run("CloseIdle", func(t *testing.T) {
		d := newFakeDialer(t, 2)
		p := newPool(t, d.dial, 2)
		a, err := p.Acquire(ctxFor(t, prompt))
		require.NoError(t, err)
		b, err := p.Acquire(ctxFor(t, prompt))
		require.NoError(t, err)
		p.Release(a)
		p.Release(b)
		require.NoError(t, p.Close())
		assert.True(t, d.peerSeesEOF(t, a), "idle connections are closed")
		assert.True(t, d.peerSeesEOF(t, b))
		s := p.Stats()
		assert.Equal(t, 0, s.Open)
		assert.Equal(t, 0, s.Idle)
		_, err = p.Acquire(ctxFor(t, prompt))
		assert.ErrorIs(t, err, conn.ErrPoolClosed)
		assert.NoError(t, p.Close(), "Close twice")
	})

	t.Run("CloseInUseAndWaiters", func(t *testing.T) {
		d := newFakeDialer(t, 2)
		p := newPool(t, d.dial, 2)
		a, err := p.Acquire(ctxFor(t, prompt))
		require.NoError(t, err)
		b, err := p.Acquire(ctxFor(t, prompt))
		require.NoError(t, err)
		w1 := acquireAsync(ctxFor(t, 10*time.Second), p)
		waitQueued(t, p, "first waiter", 1)
		w2 := acquireAsync(context.Background(), p) // only Close can end this wait
		waitQueued(t, p, "second waiter", 2)

		require.NoError(t, p.Close())
		for _, w := range []<-chan acquired{w1, w2} {
			r := await(t, w)
			assert.ErrorIs(t, r.err, conn.ErrPoolClosed)
			assert.Nil(t, r.c)
		}
		p.Release(a)
		assert.True(t, d.peerSeesEOF(t, a), "connections released after Close are closed")
		d.destroy(p, b)
		assert.True(t, d.peerSeesEOF(t, b))

		s := p.Stats()
		assert.Equal(t, 0, s.Open)
		assert.Equal(t, 0, s.Idle)
		assert.Equal(t, 0, s.InUse)
		assert.Equal(t, 0, s.Waiting)
		assert.Equal(t, uint64(2), s.Acquires)
		assert.Equal(t, uint64(0), s.Waits, "Waits counts acquires that waited and got a connection")
		_, err = p.Acquire(ctxFor(t, prompt))
		assert.ErrorIs(t, err, conn.ErrPoolClosed)
		assert.NoError(t, p.Close())
	})

	t.Run("CloseDuringDial", func(t *testing.T) {
		d := newFakeDialer(t, 1)
		gate := make(chan struct{})
		d.hook = func(context.Context, int) error { <-gate; return nil }
		d.ignoreCtx = true // the dial completes although Close cancelled it
		p := newPool(t, d.dial, 1)
		w := acquireAsync(ctxFor(t, 10*time.Second), p)
		d.waitDial(t, 1)
		require.NoError(t, p.Close())
		close(gate)
		r := await(t, w)
		var dialled *conn.Conn
		d.mu.Lock()
		for c := range d.tracked {
			dialled = c
		}
		d.mu.Unlock()
		require.NotNil(t, dialled)
		if r.err == nil {
			// A pool may hand it over; releasing it then closes it.
			assert.Same(t, dialled, r.c)
			p.Release(r.c)
		} else {
			assert.ErrorIs(t, r.err, conn.ErrPoolClosed)
		}
		assert.True(t, d.peerSeesEOF(t, dialled), "a connection dialled into a closed pool is closed")
		assert.Equal(t, 0, p.Stats().Open)
	})

	t.Run("Stats", func(t *testing.T) {
		d := newFakeDialer(t, 1)
		d.hook = func(_ context.Context, n int) error {
			if n == 1 {
				return errDial
			}
			return nil
		}
		p := newPool(t, d.dial, 1)
		assert.Equal(t, conn.PoolStats{}, p.Stats(), "a new pool")

		_, err := p.Acquire(ctxFor(t, prompt))
		require.ErrorIs(t, err, errDial)
		s := p.Stats()
		assert.Equal(t, uint64(1), s.Dials)
		assert.Equal(t, uint64(1), s.DialErrors)
		assert.Equal(t, uint64(0), s.Acquires)

		c, err := p.Acquire(ctxFor(t, prompt))
		require.NoError(t, err)
		s = p.Stats()
		assert.Equal(t, uint64(2), s.Dials)
		assert.Equal(t, uint64(1), s.DialErrors)
		assert.Equal(t, uint64(1), s.Acquires)
		assert.Equal(t, uint64(0), s.Waits)
		assert.Equal(t, 1, s.Open)
		assert.Equal(t, 1, s.InUse)
		assert.Equal(t, 0, s.Idle)

		w := acquireAsync(ctxFor(t, 10*time.Second), p)
		waitQueued(t, p, "waiter queued", 1)
		time.Sleep(20 * time.Millisecond) // a wait of a known minimum length
		p.Release(c)
		r := await(t, w)
		require.NoError(t, r.err)
		s = p.Stats()
		assert.Equal(t, uint64(2), s.Acquires)
		assert.Equal(t, uint64(1), s.Waits)
		assert.GreaterOrEqual(t, s.WaitTime, 10*time.Millisecond)
		assert.Equal(t, 0, s.Waiting)
		assert.Equal(t, 1, s.InUse)
		assert.Equal(t, uint64(2), s.Dials, "handed over, not dialled")

		p.Release(r.c)
		s = p.Stats()
		assert.Equal(t, 1, s.Idle)
		assert.Equal(t, 0, s.InUse)
		assert.Equal(t, 1, s.Open)

		c, err = p.Acquire(ctxFor(t, prompt))
		require.NoError(t, err)
		s = p.Stats()
		assert.Equal(t, uint64(3), s.Acquires)
		assert.Equal(t, uint64(1), s.Waits, "an idle connection is no wait")
		p.Release(c)
	})

	t.Run("ManyCallers", func(t *testing.T) {
		const maxSize, callers = 4, 500
		d := newFakeDialer(t, maxSize)
		p := newPool(t, d.dial, maxSize)
		var ex exclusive
		var wg sync.WaitGroup
		for range callers {
			spawn(&wg, func() {
				c, err := p.Acquire(ctxFor(t, 10*time.Second))
				if !assert.NoError(t, err) {
					return
				}
				ex.take(t, c)
				runtime.Gosched()
				ex.give(c)
				p.Release(c)
			})
		}
		finished := make(chan struct{})
		go func() { wg.Wait(); close(finished) }()
		select {
		case <-finished:
		case <-time.After(10 * time.Second):
			t.Fatalf("callers stuck: %+v", p.Stats())
		}
		s := p.Stats()
		assert.Equal(t, uint64(callers), s.Acquires)
		assert.LessOrEqual(t, s.Dials, uint64(maxSize))
		checkSettled(t, p, maxSize)
		_, maxLive := d.counts()
		assert.LessOrEqual(t, maxLive, maxSize)
	})

	t.Run("IdleAcquireReleaseAllocs", func(t *testing.T) {
		if !allocFree {
			t.Skip("pooltest.Config.AllocFree is false")
		}
		d := newFakeDialer(t, 1)
		p := newPool(t, d.dial, 1)
		c, err := p.Acquire(ctxFor(t, prompt))
		require.NoError(t, err)
		p.Release(c)
		ctx := context.Background()
		var fail error
		allocs := testing.AllocsPerRun(1000, func() {
			c, err := p.Acquire(ctx)
			if err != nil {
				fail = err
				return
			}
			p.Release(c)
		})
		require.NoError(t, fail)
		assert.Zero(t, allocs)
	})
}
