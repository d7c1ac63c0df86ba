package poolimpl_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/AmanTrance/FastRpc/conn"
	"github.com/AmanTrance/FastRpc/module"
	"github.com/AmanTrance/FastRpc/poolimpl"
)

// A dial that completes after Close is answered with ErrPoolClosed, and
// what it dialled is closed (the contract also allows handing it over).
func TestCloseDuringDial(t *testing.T) {
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			d := newPipeDialer(t)
			d.gate = make(chan struct{})
			p, err := k.factory(poolimpl.Options{})(d.dial, 1)
			require.NoError(t, err)
			done := make(chan error, 1)
			go func() {
				c, err := p.Acquire(ctxFor(t, 10*time.Second))
				assert.Nil(t, c)
				done <- err
			}()
			require.Eventually(t, func() bool { return d.dials.Load() == 1 }, 3*time.Second, time.Millisecond)
			require.NoError(t, p.Close())
			close(d.gate)
			select {
			case err := <-done:
				assert.ErrorIs(t, err, conn.ErrPoolClosed)
			case <-time.After(3 * time.Second):
				t.Fatal("Acquire stuck")
			}
			s := p.Stats()
			assert.Equal(t, 0, s.Open)
			assert.Equal(t, uint64(0), s.Acquires)
			assert.Equal(t, uint64(1), s.Dials)

			// Nothing dials after Close.
			_, err = p.Acquire(ctxFor(t, time.Second))
			assert.ErrorIs(t, err, conn.ErrPoolClosed)
			assert.Equal(t, int64(1), d.dials.Load(), "a closed pool refuses to dial")
		})
	}
}

func TestNewConfig(t *testing.T) {
	for _, tc := range []struct {
		name string
		new  func(dial conn.DialFunc, size int, o poolimpl.Options) (conn.Pool, error)
	}{
		{"mutex", func(dial conn.DialFunc, size int, o poolimpl.Options) (conn.Pool, error) {
			return poolimpl.NewMutex(poolimpl.MutexConfig{Dial: dial, MaxSize: size, Options: o})
		}},
		{"puddle", func(dial conn.DialFunc, size int, o poolimpl.Options) (conn.Pool, error) {
			return poolimpl.NewPuddle(poolimpl.PuddleConfig{Dial: dial, MaxSize: size, Options: o})
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := newPipeDialer(t)
			_, err := tc.new(nil, 1, poolimpl.Options{})
			assert.ErrorContains(t, err, "Dial is required")
			_, err = tc.new(d.dial, -1, poolimpl.Options{})
			assert.ErrorContains(t, err, "negative")
			_, err = tc.new(d.dial, 2, poolimpl.Options{MinIdle: 3})
			assert.ErrorContains(t, err, "min_idle 3 exceeds the pool size 2")
			_, err = tc.new(d.dial, 2, poolimpl.Options{MinIdle: -1})
			assert.ErrorContains(t, err, "min_idle")
			_, err = tc.new(d.dial, 2, poolimpl.Options{IdleTimeout: -1})
			assert.ErrorContains(t, err, "idle_timeout")
			_, err = tc.new(d.dial, 2, poolimpl.Options{MaxLifetime: -1})
			assert.ErrorContains(t, err, "max_lifetime")
			_, err = tc.new(d.dial, 2, poolimpl.Options{CheckPeriod: -1})
			assert.ErrorContains(t, err, "check_period")

			p, err := tc.new(d.dial, 0, poolimpl.Options{})
			require.NoError(t, err)
			defer p.Close()
			assert.Zero(t, d.dials.Load(), "a new pool dials nothing")
			held := make([]*conn.Conn, 0, poolimpl.DefaultMaxSize)
			for range poolimpl.DefaultMaxSize {
				c, err := p.Acquire(ctxFor(t, time.Second))
				require.NoError(t, err)
				held = append(held, c)
			}
			_, err = p.Acquire(ctxFor(t, 20*time.Millisecond))
			assert.ErrorIs(t, err, context.DeadlineExceeded, "MaxSize 0 means DefaultMaxSize")
			for _, c := range held {
				p.Release(c)
			}
		})
	}
}

// IdleTimeout closes idle connections beyond MinIdle only: the warm ones
// stay (the most recently used among them).
func TestIdleTimeoutKeepsMinIdle(t *testing.T) {
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			d := newPipeDialer(t)
			p, err := k.factory(poolimpl.Options{
				MinIdle:     1,
				IdleTimeout: module.Duration(20 * time.Millisecond),
				CheckPeriod: module.Duration(2 * time.Millisecond),
			})(d.dial, 3)
			require.NoError(t, err)
			defer p.Close()
			var held []*conn.Conn
			for range 3 {
				c, err := p.Acquire(ctxFor(t, time.Second))
				require.NoError(t, err)
				held = append(held, c)
			}
			for _, c := range held {
				p.Release(c)
			}
			require.Eventually(t, func() bool { return p.Stats().Open == 1 }, 3*time.Second, time.Millisecond)
			time.Sleep(50 * time.Millisecond) // well past IdleTimeout: still one warm
			s := p.Stats()
			assert.Equal(t, 1, s.Idle, "%+v", s)
			assert.Equal(t, uint64(2), s.Expired)
			assert.Equal(t, int64(3), d.dials.Load(), "the warm connection is kept, not redialled")
		})
	}
}

// Acquire and Release of an idle connection stay allocation-free with
// every option on (the contract checks the defaults).
func TestIdleAcquireReleaseAllocsWithOptions(t *testing.T) {
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			d := newPipeDialer(t)
			p, err := k.factory(poolimpl.Options{
				MinIdle:     1,
				IdleTimeout: module.Duration(time.Hour),
				MaxLifetime: module.Duration(time.Hour),
				CheckPeriod: module.Duration(time.Hour),
			})(d.dial, 2)
			require.NoError(t, err)
			defer p.Close()
			require.Eventually(t, func() bool { return p.Stats().Idle == 1 }, 3*time.Second, time.Millisecond)
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
}
