package pooltest

import (
	"context"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/AmanTrance/FastRpc/poolimpl"
)

// coreTests are the rules every pool keeps, in the order they run.
var coreTests = []contractTest{
	{"FactoryChecksArguments", testFactoryChecksArguments},
	{"NeverHandsOneConnToTwoCallers", testNeverHandsOneConnToTwoCallers},
	{"AcquireDialsUpToMaxSize", testAcquireDialsUpToMaxSize},
	{"WaitersServedInArrivalOrder", testWaitersServedInArrivalOrder},
	{"WaiterWhoseContextEndsTakesNothing", testWaiterWhoseContextEndsTakesNothing},
	{"WaiterLeavingMidQueueKeepsOrder", testWaiterLeavingMidQueueKeepsOrder},
	{"ContextEndsRacingHandoffsLeakNothing", testContextEndsRacingHandoffsLeakNothing},
	{"DestroyClosesAndFreesSlot", testDestroyClosesAndFreesSlot},
	{"DestroyedSlotGoesToWaiter", testDestroyedSlotGoesToWaiter},
	{"FailedDialFreesSlot", testFailedDialFreesSlot},
	{"FailedDialSlotGoesToWaiter", testFailedDialSlotGoesToWaiter},
	{"CloseClosesIdleConns", testCloseClosesIdleConns},
	{"CloseWakesWaitersAndClosesReleased", testCloseWakesWaitersAndClosesReleased},
	{"DialCompletingAfterCloseIsClosed", testDialCompletingAfterCloseIsClosed},
	{"StatsCountAcquiresWaitsAndDials", testStatsCountAcquiresWaitsAndDials},
	{"ManyCallersAllServed", testManyCallersAllServed},
	{"IdleAcquireReleaseAllocateNothing", testIdleAcquireReleaseAllocateNothing},
	{"TCPTrafficSurvivesThePool", testTCPTrafficSurvivesThePool},
	{"CloseRacingEverythingLeavesNothingOpen", testCloseRacingEverythingLeavesNothingOpen},
	{"CloseWakesEveryWaiter", testCloseWakesEveryWaiter},
}

// A Factory refuses a nil DialFunc and a negative size, takes size 0 as
// poolimpl.DefaultSize, and dials nothing when it builds a pool.
func testFactoryChecksArguments(t *testing.T, s *suite) {
	d := newFakeDialer(t, poolimpl.DefaultSize)
	if p, err := s.build(nil, 1, poolimpl.Options{}); err == nil {
		_ = p.Close()
		t.Error("a pool was built with a nil DialFunc")
	}
	if p, err := s.build(d.dial, -1, poolimpl.Options{}); err == nil {
		_ = p.Close()
		t.Error("a pool was built with a negative size")
	}
	p := s.newPool(t, d.dial, 0)
	dials, _ := d.counts()
	expectEqual(t, dials, 0, "a new pool dials nothing")
	held := make([]poolimpl.Conn, 0, poolimpl.DefaultSize)
	for range poolimpl.DefaultSize {
		held = append(held, acquire(t, p))
	}
	_, err := p.Acquire(ctxFor(t, 20*time.Millisecond))
	expectErrorIs(t, err, context.DeadlineExceeded, "size 0 means DefaultSize (%d)", poolimpl.DefaultSize)
	for _, c := range held {
		p.Release(c)
	}
}

// Many callers acquiring, releasing and destroying at once never share a
// connection, and never have more than the pool's size open.
func testNeverHandsOneConnToTwoCallers(t *testing.T, s *suite) {
	const maxSize, workers, rounds = 4, 32, 100
	d := newFakeDialer(t, maxSize)
	p := s.newPool(t, d.dial, maxSize)
	var ex exclusive
	var wg sync.WaitGroup
	for g := range workers {
		spawn(&wg, func() {
			for i := range rounds {
				c, err := p.Acquire(ctxFor(t, 10*time.Second))
				if !expectNoError(t, err, "Acquire") {
					return
				}
				ex.take(t, c)
				if st := p.Stats(); st.Open > maxSize {
					t.Errorf("too many open: %+v", st)
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
	expect(t, maxLive <= maxSize, "%d connections alive at once, more than %d", maxLive, maxSize)
	expectEqual(t, p.Stats().Acquires, uint64(workers*rounds), "Acquires")
	checkSlots(t, p, maxSize)
}

// Acquire dials a new connection while fewer than the size are open, and
// hands out only what the DialFunc returned; beyond the size it waits
// rather than dials, and released connections are reused.
func testAcquireDialsUpToMaxSize(t *testing.T, s *suite) {
	const maxSize = 3
	d := newFakeDialer(t, maxSize)
	p := s.newPool(t, d.dial, maxSize)
	var held []poolimpl.Conn
	for range maxSize {
		c := acquire(t, p)
		d.track(c)
		expect(t, !slices.Contains(held, c), "connection %p handed out twice", c)
		held = append(held, c)
	}
	st := p.Stats()
	expectEqual(t, st.Open, maxSize, "Open")
	expectEqual(t, st.InUse, maxSize, "InUse")
	expectEqual(t, st.Idle, 0, "Idle")

	_, err := p.Acquire(ctxFor(t, 50*time.Millisecond))
	requireErrorIs(t, err, context.DeadlineExceeded, "Acquire on a full pool")
	dials, _ := d.counts()
	expectEqual(t, dials, maxSize, "no dial beyond the size")

	for _, c := range held {
		p.Release(c)
	}
	st = p.Stats()
	expectEqual(t, st.Idle, maxSize, "Idle")
	expectEqual(t, st.Open, maxSize, "Open")
	expectEqual(t, st.InUse, 0, "InUse")
	checkSlots(t, p, maxSize)
	dials, _ = d.counts()
	expectEqual(t, dials, maxSize, "idle connections are reused")
}

// Callers waiting for a full pool get the released connection in the
// order they arrived.
func testWaitersServedInArrivalOrder(t *testing.T, s *suite) {
	const waiters = 6
	d := newFakeDialer(t, 1)
	p := s.newPool(t, d.dial, 1)
	c0 := acquire(t, p)

	order := make(chan int, waiters)
	var wg sync.WaitGroup
	for i := range waiters {
		spawn(&wg, func() {
			c, err := p.Acquire(ctxFor(t, 10*time.Second))
			if !expectNoError(t, err, "waiter %d", i) {
				order <- -1
				return
			}
			expect(t, c == c0, "the released connection is handed over")
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
	expect(t, slices.Equal(got, []int{0, 1, 2, 3, 4, 5}), "waiters served in arrival order: got %v", got)
	dials, _ := d.counts()
	expectEqual(t, dials, 1, "dials")
	checkSettled(t, p, 1)
}

// A waiter whose context ends (deadline or cancel) returns promptly with
// the context's error and takes nothing from the pool.
func testWaiterWhoseContextEndsTakesNothing(t *testing.T, s *suite) {
	for _, end := range []string{"Deadline", "Cancel"} {
		t.Run(end, func(t *testing.T) {
			d := newFakeDialer(t, 1)
			p := s.newPool(t, d.dial, 1)
			c0 := acquire(t, p)

			var ctx context.Context
			var want error
			if end == "Deadline" {
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
					if !eventually(func() bool { return p.Stats().Waiting == 1 }, 100*time.Microsecond) {
						t.Errorf("the caller never waited: %+v", p.Stats())
					}
					cancel()
				}()
			}
			start := time.Now()
			c, err := p.Acquire(ctx)
			expect(t, time.Since(start) < prompt, "Acquire took %v to see its context end", time.Since(start))
			requireErrorIs(t, err, want, "Acquire")
			expect(t, c == nil, "Acquire returned a connection with an error")

			st := p.Stats()
			expectEqual(t, st.Waiting, 0, "Waiting")
			expectEqual(t, st.Open, 1, "Open")
			expectEqual(t, st.InUse, 1, "InUse")
			expectEqual(t, st.Idle, 0, "Idle")

			p.Release(c0)
			st = p.Stats()
			expectEqual(t, st.Idle, 1, "Idle: the waiter that gave up took nothing")
			expectEqual(t, st.InUse, 0, "InUse")
			c = acquire(t, p)
			expect(t, c == c0, "the connection is reused")
			p.Release(c)
			dials, _ := d.counts()
			expectEqual(t, dials, 1, "dials")
		})
	}
}

// A waiter leaving from the middle of the queue keeps the others' order,
// and the one after it is not served ahead of the one before.
func testWaiterLeavingMidQueueKeepsOrder(t *testing.T, s *suite) {
	d := newFakeDialer(t, 1)
	p := s.newPool(t, d.dial, 1)
	c0 := acquire(t, p)
	first := acquireAsync(ctxFor(t, 10*time.Second), p)
	waitQueued(t, p, "first queued", 1)
	midCtx, cancelMid := context.WithCancel(context.Background())
	defer cancelMid()
	mid := acquireAsync(midCtx, p)
	waitQueued(t, p, "middle queued", 2)
	last := acquireAsync(ctxFor(t, 10*time.Second), p)
	waitQueued(t, p, "last queued", 3)

	cancelMid()
	r := await(t, mid)
	requireErrorIs(t, r.err, context.Canceled, "the middle waiter")
	waitQueued(t, p, "middle left", 2)

	p.Release(c0)
	r = await(t, first)
	requireNoError(t, r.err, "the first waiter")
	expect(t, r.c == c0, "the first waiter gets the released connection")
	select {
	case <-last:
		t.Fatal("last waiter served while the first holds the only connection")
	default:
	}
	p.Release(r.c)
	r = await(t, last)
	requireNoError(t, r.err, "the last waiter")
	expect(t, r.c == c0, "the last waiter gets the released connection")
	p.Release(r.c)
	checkSettled(t, p, 1)
}

// Many acquires with tiny timeouts race handoffs against context ends:
// no connection is shared or leaked, and the stats stay consistent.
func testContextEndsRacingHandoffsLeakNothing(t *testing.T, s *suite) {
	const maxSize, workers, rounds = 2, 48, 200
	d := newFakeDialer(t, maxSize)
	p := s.newPool(t, d.dial, maxSize)
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
					expectErrorIs(t, err, context.DeadlineExceeded, "Acquire")
					continue
				}
				ok.Add(1)
				ex.take(t, c)
				if st := p.Stats(); st.Open > maxSize || st.Open != st.Idle+st.InUse {
					t.Errorf("inconsistent stats: %+v", st)
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
	st := p.Stats()
	expectEqual(t, st.Acquires, uint64(ok.Load()), "Acquires")
	expect(t, st.Waits <= st.Acquires, "more Waits than Acquires: %+v", st)
	_, maxLive := d.counts()
	expect(t, maxLive <= maxSize, "%d connections alive at once, more than %d", maxLive, maxSize)
	checkSlots(t, p, maxSize)
}

// Destroy closes the connection and frees its slot, which the next
// Acquire dials anew.
func testDestroyClosesAndFreesSlot(t *testing.T, s *suite) {
	d := newFakeDialer(t, 1)
	p := s.newPool(t, d.dial, 1)
	c0 := acquire(t, p)
	d.destroy(p, c0)
	expect(t, d.peerSeesEOF(t, c0), "Destroy closes the connection")
	st := p.Stats()
	expectEqual(t, st.Open, 0, "Open")
	expectEqual(t, st.InUse, 0, "InUse")

	c1 := acquire(t, p)
	expect(t, c1 != c0, "a destroyed connection was handed out again")
	dials, _ := d.counts()
	expectEqual(t, dials, 2, "the freed slot is dialled anew")
	p.Release(c1)
	checkSettled(t, p, 1)
}

// The slot Destroy frees goes to a waiter, who gets a fresh connection.
func testDestroyedSlotGoesToWaiter(t *testing.T, s *suite) {
	d := newFakeDialer(t, 1)
	p := s.newPool(t, d.dial, 1)
	c0 := acquire(t, p)
	w := acquireAsync(ctxFor(t, 10*time.Second), p)
	waitQueued(t, p, "waiter queued", 1)
	d.destroy(p, c0)
	r := await(t, w)
	requireNoError(t, r.err, "the waiter")
	expect(t, r.c != c0, "the waiter gets a freshly dialled connection")
	dials, _ := d.counts()
	expectEqual(t, dials, 2, "dials")
	expect(t, d.peerSeesEOF(t, c0), "Destroy closes the connection")
	p.Release(r.c)
	checkSettled(t, p, 1)
	expectEqual(t, p.Stats().Open, 1, "Open")
}

// A failed dial returns its error, counts in Dials and DialErrors, and
// frees its slot.
func testFailedDialFreesSlot(t *testing.T, s *suite) {
	d := newFakeDialer(t, 2)
	d.hook = func(_ context.Context, n int) error {
		if n == 1 {
			return errDial
		}
		return nil
	}
	p := s.newPool(t, d.dial, 2)
	c, err := p.Acquire(ctxFor(t, prompt))
	requireErrorIs(t, err, errDial, "Acquire with a failing dial")
	expect(t, c == nil, "Acquire returned a connection with an error")
	st := p.Stats()
	expectEqual(t, st.Open, 0, "Open: a failed dial frees its slot")
	expectEqual(t, st.Dials, uint64(1), "Dials")
	expectEqual(t, st.DialErrors, uint64(1), "DialErrors")
	expectEqual(t, st.Acquires, uint64(0), "Acquires")

	c = acquire(t, p)
	expectEqual(t, p.Stats().Open, 1, "Open")
	p.Release(c)
	checkSlots(t, p, 2)
}

// The slot of a dial that fails goes to a caller waiting behind it, who
// dials.
func testFailedDialSlotGoesToWaiter(t *testing.T, s *suite) {
	d := newFakeDialer(t, 1)
	gate := make(chan struct{})
	d.hook = func(_ context.Context, n int) error {
		if n == 1 {
			<-gate
			return errDial
		}
		return nil
	}
	p := s.newPool(t, d.dial, 1)
	failing := acquireAsync(ctxFor(t, 10*time.Second), p)
	d.waitDial(t, 1)
	w := acquireAsync(ctxFor(t, 10*time.Second), p)
	waitQueued(t, p, "waiter queued behind the dial", 1)
	close(gate)
	r := await(t, failing)
	requireErrorIs(t, r.err, errDial, "the caller whose dial failed")
	r = await(t, w)
	requireNoError(t, r.err, "the failed dial's slot goes to the waiter")
	st := p.Stats()
	expectEqual(t, st.Dials, uint64(2), "Dials")
	expectEqual(t, st.DialErrors, uint64(1), "DialErrors")
	expectEqual(t, st.Open, 1, "Open")
	p.Release(r.c)
	checkSettled(t, p, 1)
}

// Close closes the idle connections; Acquire then returns ErrClosed, and
// a second Close is harmless.
func testCloseClosesIdleConns(t *testing.T, s *suite) {
	d := newFakeDialer(t, 2)
	p := s.newPool(t, d.dial, 2)
	a, b := acquire2(t, p)
	p.Release(a)
	p.Release(b)
	requireNoError(t, p.Close(), "Close")
	expect(t, d.peerSeesEOF(t, a), "idle connections are closed")
	expect(t, d.peerSeesEOF(t, b), "idle connections are closed")
	st := p.Stats()
	expectEqual(t, st.Open, 0, "Open")
	expectEqual(t, st.Idle, 0, "Idle")
	_, err := p.Acquire(ctxFor(t, prompt))
	expectErrorIs(t, err, poolimpl.ErrClosed, "Acquire after Close")
	expectNoError(t, p.Close(), "Close twice")
}

// Close wakes waiters with ErrClosed without waiting for connections in
// use, which are closed when released or destroyed.
func testCloseWakesWaitersAndClosesReleased(t *testing.T, s *suite) {
	d := newFakeDialer(t, 2)
	p := s.newPool(t, d.dial, 2)
	a, b := acquire2(t, p)
	w1 := acquireAsync(ctxFor(t, 10*time.Second), p)
	waitQueued(t, p, "first waiter", 1)
	w2 := acquireAsync(context.Background(), p) // only Close can end this wait
	waitQueued(t, p, "second waiter", 2)

	requireNoError(t, p.Close(), "Close")
	for _, w := range []<-chan acquired{w1, w2} {
		r := await(t, w)
		expectErrorIs(t, r.err, poolimpl.ErrClosed, "a waiter woken by Close")
		expect(t, r.c == nil, "a waiter woken by Close got a connection")
	}
	p.Release(a)
	expect(t, d.peerSeesEOF(t, a), "connections released after Close are closed")
	d.destroy(p, b)
	expect(t, d.peerSeesEOF(t, b), "connections destroyed after Close are closed")

	st := p.Stats()
	expectEqual(t, st.Open, 0, "Open")
	expectEqual(t, st.Idle, 0, "Idle")
	expectEqual(t, st.InUse, 0, "InUse")
	expectEqual(t, st.Waiting, 0, "Waiting")
	expectEqual(t, st.Acquires, uint64(2), "Acquires")
	expectEqual(t, st.Waits, uint64(0), "Waits counts acquires that waited and got a connection")
	_, err := p.Acquire(ctxFor(t, prompt))
	expectErrorIs(t, err, poolimpl.ErrClosed, "Acquire after Close")
	expectNoError(t, p.Close(), "Close twice")
}

// A dial that completes after Close (ignoring the cancellation) is closed:
// the caller gets ErrClosed, or the connection, which releasing closes.
// A closed pool dials nothing more.
func testDialCompletingAfterCloseIsClosed(t *testing.T, s *suite) {
	d := newFakeDialer(t, 1)
	gate := make(chan struct{})
	d.hook = func(context.Context, int) error { <-gate; return nil }
	d.ignoreCtx = true // the dial completes although Close cancelled it
	p := s.newPool(t, d.dial, 1)
	w := acquireAsync(ctxFor(t, 10*time.Second), p)
	d.waitDial(t, 1)
	requireNoError(t, p.Close(), "Close")
	close(gate)
	r := await(t, w)
	var dialled poolimpl.Conn
	d.mu.Lock()
	for c := range d.tracked {
		dialled = c
	}
	d.mu.Unlock()
	require(t, dialled != nil, "the dial never returned a connection")
	if r.err == nil {
		// A pool may hand it over; releasing it then closes it.
		expect(t, r.c == dialled, "Acquire returned what the dial returned")
		p.Release(r.c)
	} else {
		expectErrorIs(t, r.err, poolimpl.ErrClosed, "Acquire")
	}
	expect(t, d.peerSeesEOF(t, dialled), "a connection dialled into a closed pool is closed")
	expectEqual(t, p.Stats().Open, 0, "Open")
	_, err := p.Acquire(ctxFor(t, prompt))
	expectErrorIs(t, err, poolimpl.ErrClosed, "Acquire after Close")
	dials, _ := d.counts()
	expectEqual(t, dials, 1, "dials: a closed pool refuses to dial")
}

// Stats counts acquires, waits, wait time and dials, and its gauges
// follow each step.
func testStatsCountAcquiresWaitsAndDials(t *testing.T, s *suite) {
	d := newFakeDialer(t, 1)
	d.hook = func(_ context.Context, n int) error {
		if n == 1 {
			return errDial
		}
		return nil
	}
	p := s.newPool(t, d.dial, 1)
	expectEqual(t, p.Stats(), poolimpl.Stats{}, "a new pool's stats")

	_, err := p.Acquire(ctxFor(t, prompt))
	requireErrorIs(t, err, errDial, "Acquire with a failing dial")
	st := p.Stats()
	expectEqual(t, st.Dials, uint64(1), "Dials")
	expectEqual(t, st.DialErrors, uint64(1), "DialErrors")
	expectEqual(t, st.Acquires, uint64(0), "Acquires")

	c := acquire(t, p)
	st = p.Stats()
	expectEqual(t, st.Dials, uint64(2), "Dials")
	expectEqual(t, st.DialErrors, uint64(1), "DialErrors")
	expectEqual(t, st.Acquires, uint64(1), "Acquires")
	expectEqual(t, st.Waits, uint64(0), "Waits")
	expectEqual(t, st.Open, 1, "Open")
	expectEqual(t, st.InUse, 1, "InUse")
	expectEqual(t, st.Idle, 0, "Idle")

	w := acquireAsync(ctxFor(t, 10*time.Second), p)
	waitQueued(t, p, "waiter queued", 1)
	time.Sleep(20 * time.Millisecond) // a wait of a known minimum length
	p.Release(c)
	r := await(t, w)
	requireNoError(t, r.err, "the waiter")
	st = p.Stats()
	expectEqual(t, st.Acquires, uint64(2), "Acquires")
	expectEqual(t, st.Waits, uint64(1), "Waits")
	expect(t, st.WaitTime >= 10*time.Millisecond, "WaitTime %v, want at least 10ms", st.WaitTime)
	expectEqual(t, st.Waiting, 0, "Waiting")
	expectEqual(t, st.InUse, 1, "InUse")
	expectEqual(t, st.Dials, uint64(2), "Dials: handed over, not dialled")

	p.Release(r.c)
	st = p.Stats()
	expectEqual(t, st.Idle, 1, "Idle")
	expectEqual(t, st.InUse, 0, "InUse")
	expectEqual(t, st.Open, 1, "Open")

	c = acquire(t, p)
	st = p.Stats()
	expectEqual(t, st.Acquires, uint64(3), "Acquires")
	expectEqual(t, st.Waits, uint64(1), "Waits: an idle connection is no wait")
	p.Release(c)
}

// Hundreds of callers through a small pool are all served, with no more
// dials than the size.
func testManyCallersAllServed(t *testing.T, s *suite) {
	const maxSize, callers = 4, 500
	d := newFakeDialer(t, maxSize)
	p := s.newPool(t, d.dial, maxSize)
	var ex exclusive
	var wg sync.WaitGroup
	for range callers {
		spawn(&wg, func() {
			c, err := p.Acquire(ctxFor(t, 10*time.Second))
			if !expectNoError(t, err, "Acquire") {
				return
			}
			ex.take(t, c)
			runtime.Gosched()
			ex.give(c)
			p.Release(c)
		})
	}
	waitAll(t, &wg, p, 10*time.Second)
	st := p.Stats()
	expectEqual(t, st.Acquires, uint64(callers), "Acquires")
	expect(t, st.Dials <= uint64(maxSize), "%d dials for a pool of %d", st.Dials, maxSize)
	checkSettled(t, p, maxSize)
	_, maxLive := d.counts()
	expect(t, maxLive <= maxSize, "%d connections alive at once, more than %d", maxLive, maxSize)
}

// Acquire and Release of an idle connection allocate nothing (with
// Config.AllocFree).
func testIdleAcquireReleaseAllocateNothing(t *testing.T, s *suite) {
	if !s.cfg.AllocFree {
		t.Skip("pooltest.Config.AllocFree is false")
	}
	d := newFakeDialer(t, 1)
	p := s.newPool(t, d.dial, 1)
	p.Release(acquire(t, p))
	expectIdleAllocFree(t, p)
}

// expectIdleAllocFree checks that Acquire and Release of p's idle
// connection allocate nothing.
func expectIdleAllocFree(t *testing.T, p poolimpl.Pool) {
	t.Helper()
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
	requireNoError(t, fail, "Acquire")
	expectEqual(t, allocs, 0, "allocations per idle Acquire and Release")
}
