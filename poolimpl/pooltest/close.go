package pooltest

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/AmanTrance/FastRpc/poolimpl"
)

// Close races with waiters, releases, destroys and dials; afterwards
// every caller has returned, every connection is closed and the open
// count is back to zero.
func testCloseRacingEverythingLeavesNothingOpen(t *testing.T, s *suite) {
	for round := range 20 {
		const maxSize = 3
		d := newFakeDialer(t, maxSize)
		d.hook = func(_ context.Context, n int) error {
			if n%5 == 0 {
				return errDial
			}
			return nil
		}
		p := s.newPool(t, d.dial, maxSize)
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
					case errors.Is(err, poolimpl.ErrClosed):
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
		requireNoError(t, p.Close(), "Close")
		waitAll(t, &wg, p, prompt)

		// A dial a caller gave up on may finish (and be closed) a
		// moment after Close.
		if !eventually(func() bool { return p.Stats().Open == 0 }, time.Millisecond) {
			t.Fatalf("round %d: connections still open after Close: %+v", round, p.Stats())
		}
		st := p.Stats()
		requireEqual(t, st.Idle, 0, "round %d: Idle", round)
		requireEqual(t, st.Waiting, 0, "round %d: Waiting", round)
		require(t, st.Waits <= st.Acquires, "round %d: more Waits than Acquires: %+v", round, st)
		require(t, eventually(d.allGone, time.Millisecond), "round %d: a connection was left open", round)
		_, maxLive := d.counts()
		expect(t, maxLive <= maxSize, "round %d: %d connections alive at once, more than %d", round, maxLive, maxSize)
	}
}

// Close wakes every waiter at once, whatever their contexts.
func testCloseWakesEveryWaiter(t *testing.T, s *suite) {
	const maxSize, waiters = 2, 20
	d := newFakeDialer(t, maxSize)
	p := s.newPool(t, d.dial, maxSize)
	held := make([]poolimpl.Conn, 0, maxSize)
	for range maxSize {
		held = append(held, acquire(t, p))
	}
	ws := make([]<-chan acquired, 0, waiters)
	for i := range waiters {
		ws = append(ws, acquireAsync(context.Background(), p))
		waitQueued(t, p, "waiter queued", i+1)
	}
	requireNoError(t, p.Close(), "Close")
	for _, w := range ws {
		r := await(t, w)
		expectErrorIs(t, r.err, poolimpl.ErrClosed, "a waiter woken by Close")
		expect(t, r.c == nil, "a waiter woken by Close got a connection")
	}
	expectEqual(t, p.Stats().Waiting, 0, "Waiting")
	for _, c := range held {
		p.Release(c)
		expect(t, d.peerSeesEOF(t, c), "released after Close: closed")
	}
	expectEqual(t, p.Stats().Open, 0, "Open")
}
