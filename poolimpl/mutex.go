package poolimpl

import (
	"context"
	"errors"
	"sync"
	"time"
)

// Mutex returns the Factory of the builtin pool, the default: one
// sync.Mutex guards a stack of idle connections (the most recently used is
// reused first, so surplus ones age and can time out) and an intrusive
// FIFO queue of waiters. A connection released while callers wait goes
// straight to the first of them; a slot freed by Destroy or a failed dial
// goes to the first waiter, who dials. Acquire checks a connection taken
// from idle with [Conn.Stale] (one non-blocking system call for a
// *conn.Conn) outside the lock. With MaxLifetime set, the pool records
// when it dialled each connection. Acquire and Release of an idle
// connection allocate nothing, with or without opts; waiting allocates
// nothing in steady state either. The Factory rejects opts that fail
// [Options.Check].
func Mutex(opts Options) Factory {
	return func(dial DialFunc, size int) (Pool, error) {
		return newMutex(dial, size, opts)
	}
}

// mutexPool is the pool [Mutex] builds.
type mutexPool struct {
	dial        DialFunc
	maxSize     int
	minIdle     int
	idleTimeout time.Duration
	maxLifetime time.Duration

	mu      sync.Mutex
	idle    []idleConn // stack: the most recently released is on top
	open    int        // idle + in use + being dialled
	waiters waitQueue
	closed  bool
	stats   Stats
	// born records when each open connection was dialled, only when
	// maxLifetime is set.
	born map[Conn]time.Time

	stopMaint context.CancelFunc // nil without maintenance
	maintDone chan struct{}
}

// idleConn is an idle connection and when it was released, in monoNow
// time (only recorded when IdleTimeout is set).
type idleConn struct {
	c     Conn
	since time.Duration
}

var epoch = time.Now()

// monoNow reads the monotonic clock only: cheaper than time.Now.
func monoNow() time.Duration { return time.Since(epoch) }

// waiter is one blocked Acquire. It receives a connection, or nil meaning
// "a slot is free: dial one yourself".
type waiter struct {
	ch   chan Conn
	next *waiter
	prev *waiter
}

var waiterPool = sync.Pool{New: func() any { return &waiter{ch: make(chan Conn, 1)} }}

// newMutex returns a pool. It dials nothing itself unless opts.MinIdle
// asks for warm connections.
func newMutex(dial DialFunc, size int, opts Options) (*mutexPool, error) {
	size, err := opts.Check(dial, size)
	if err != nil {
		return nil, err
	}
	p := &mutexPool{
		dial:        dial,
		maxSize:     size,
		minIdle:     opts.MinIdle,
		idleTimeout: time.Duration(opts.IdleTimeout),
		maxLifetime: time.Duration(opts.MaxLifetime),
		idle:        make([]idleConn, 0, size),
	}
	if p.maxLifetime > 0 {
		p.born = make(map[Conn]time.Time, size)
	}
	if period := opts.Period(); period > 0 {
		ctx, cancel := context.WithCancel(context.Background())
		p.stopMaint = cancel
		p.maintDone = make(chan struct{})
		go p.maintain(ctx, period)
	}
	return p, nil
}

// Acquire implements [Pool]. A connection taken from idle is checked
// with [Conn.Stale] outside the lock; a stale one is closed and the
// next idle one tried, or a new one dialled into its slot.
func (p *mutexPool) Acquire(ctx context.Context) (Conn, error) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil, ErrClosed
	}
	if len(p.idle) > 0 {
		c := p.popIdleLocked()
		p.stats.Acquires++
		p.mu.Unlock()
		if !c.Stale() {
			return c, nil
		}
		return p.replaceStale(ctx, c)
	}
	if p.open < p.maxSize {
		p.open++
		p.mu.Unlock()
		return p.dialSlot(ctx, false)
	}
	if err := ctx.Err(); err != nil {
		p.mu.Unlock()
		return nil, err
	}
	w := waiterPool.Get().(*waiter)
	p.waiters.push(w)
	p.mu.Unlock()

	start := time.Now()
	select {
	case c := <-w.ch:
		waiterPool.Put(w)
		p.mu.Lock()
		p.stats.WaitTime += time.Since(start)
		if p.closed {
			p.open--
			p.mu.Unlock()
			if c != nil {
				_ = c.Close()
			}
			return nil, ErrClosed
		}
		if c != nil {
			p.stats.Acquires++
			p.stats.Waits++
			p.mu.Unlock()
			return c, nil
		}
		p.mu.Unlock()
		return p.dialSlot(ctx, true)
	case <-ctx.Done():
		p.mu.Lock()
		p.stats.WaitTime += time.Since(start)
		if p.waiters.remove(w) {
			p.mu.Unlock()
			waiterPool.Put(w)
			return nil, ctx.Err()
		}
		// Handed something just as ctx ended: pass it on, take nothing.
		c := <-w.ch
		waiterPool.Put(w)
		if c != nil {
			p.releaseLocked(c, p.releaseTime())
		} else {
			p.freeSlotLocked()
		}
		p.mu.Unlock()
		return nil, ctx.Err()
	}
}

// popIdleLocked takes the most recently released idle connection.
func (p *mutexPool) popIdleLocked() Conn {
	n := len(p.idle) - 1
	c := p.idle[n].c
	p.idle[n] = idleConn{}
	p.idle = p.idle[:n]
	return c
}

// replaceStale closes c, a stale connection just taken from idle whose
// slot the caller holds, and gets the caller another: the next idle one,
// or a new one dialled into the slot.
func (p *mutexPool) replaceStale(ctx context.Context, c Conn) (Conn, error) {
	for {
		_ = c.Close()
		p.mu.Lock()
		p.forgetLocked(c)
		p.stats.Acquires--
		p.stats.Stale++
		if p.closed {
			p.open--
			p.mu.Unlock()
			return nil, ErrClosed
		}
		if len(p.idle) == 0 {
			p.mu.Unlock()
			return p.dialSlot(ctx, false)
		}
		// Take the next idle connection with its own slot and give ours
		// back. Nobody waits while connections are idle, so the slot
		// simply goes.
		p.open--
		c = p.popIdleLocked()
		p.stats.Acquires++
		p.mu.Unlock()
		if !c.Stale() {
			return c, nil
		}
	}
}

// dialSlot dials into a slot already counted in p.open. waited says the
// caller waited for the slot: Waits counts only waits that ended with a
// connection.
func (p *mutexPool) dialSlot(ctx context.Context, waited bool) (Conn, error) {
	c, err := p.dial(ctx)
	now := p.lifetimeNow()
	p.mu.Lock()
	defer p.mu.Unlock()
	p.stats.Dials++
	if err != nil {
		p.stats.DialErrors++
		p.freeSlotLocked()
		return nil, err
	}
	if p.closed {
		p.open--
		_ = c.Close()
		return nil, ErrClosed
	}
	p.bornLocked(c, now)
	p.stats.Acquires++
	if waited {
		p.stats.Waits++
	}
	return c, nil
}

// lifetimeNow is the time to compare with connections' births, read only
// when MaxLifetime is set.
func (p *mutexPool) lifetimeNow() time.Time {
	if p.maxLifetime > 0 {
		return time.Now()
	}
	return time.Time{}
}

// bornLocked records that c was dialled at now, when MaxLifetime is set
// and the pool is open.
func (p *mutexPool) bornLocked(c Conn, now time.Time) {
	if p.born != nil {
		p.born[c] = now
	}
}

// forgetLocked drops c's birth record, if any: c is closed for good.
func (p *mutexPool) forgetLocked(c Conn) {
	if p.born != nil {
		delete(p.born, c)
	}
}

// expiredLocked reports whether c is older than MaxLifetime at now.
func (p *mutexPool) expiredLocked(c Conn, now time.Time) bool {
	if p.born == nil {
		return false
	}
	born, ok := p.born[c]
	return ok && now.Sub(born) >= p.maxLifetime
}

// Release implements [Pool]. A connection older than MaxLifetime is
// closed instead of kept.
func (p *mutexPool) Release(c Conn) {
	now := p.lifetimeNow()
	since := p.releaseTime()
	p.mu.Lock()
	if !p.closed && p.expiredLocked(c, now) {
		p.forgetLocked(c)
		p.mu.Unlock()
		// Closed before its slot is freed, like Destroy's.
		_ = c.Close()
		p.mu.Lock()
		p.stats.Expired++
		p.freeSlotLocked()
		p.mu.Unlock()
		return
	}
	p.releaseLocked(c, since)
	p.mu.Unlock()
}

// releaseTime is the idle-since stamp for a connection released now.
func (p *mutexPool) releaseTime() time.Duration {
	if p.idleTimeout > 0 {
		return monoNow()
	}
	return 0
}

func (p *mutexPool) releaseLocked(c Conn, since time.Duration) {
	if p.closed {
		p.open--
		_ = c.Close()
		return
	}
	if w := p.waiters.pop(); w != nil {
		w.ch <- c
		return
	}
	p.idle = append(p.idle, idleConn{c: c, since: since})
}

// Destroy implements [Pool].
func (p *mutexPool) Destroy(c Conn) {
	_ = c.Close()
	p.mu.Lock()
	p.forgetLocked(c)
	p.freeSlotLocked()
	p.mu.Unlock()
}

// freeSlotLocked gives a free slot to the first waiter, who dials.
func (p *mutexPool) freeSlotLocked() {
	if !p.closed {
		if w := p.waiters.pop(); w != nil {
			w.ch <- nil
			return
		}
	}
	p.open--
}

// Stats implements [Pool].
func (p *mutexPool) Stats() Stats {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := p.stats
	s.Open = p.open
	s.Idle = len(p.idle)
	s.InUse = p.open - len(p.idle)
	s.Waiting = p.waiters.n
	return s
}

// Close implements [Pool]. It stops the maintenance goroutine and
// waits for it, which cancels a dial it has in flight.
func (p *mutexPool) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	p.born = nil // every connection is closed from now on, none expires
	idle := p.idle
	p.idle = nil
	p.open -= len(idle)
	for w := p.waiters.pop(); w != nil; w = p.waiters.pop() {
		p.open++ // the waiter decrements when it sees closed
		w.ch <- nil
	}
	p.mu.Unlock()
	if p.stopMaint != nil {
		p.stopMaint()
		<-p.maintDone
	}
	var errs []error
	for _, ic := range idle {
		errs = append(errs, ic.c.Close())
	}
	return errors.Join(errs...)
}

// maintain runs the background work Options asked for until ctx ends.
func (p *mutexPool) maintain(ctx context.Context, period time.Duration) {
	defer close(p.maintDone)
	t := time.NewTicker(period)
	defer t.Stop()
	var drop []Conn
	for {
		p.mu.Lock()
		drop = p.sweepLocked(drop[:0])
		p.mu.Unlock()
		for i, c := range drop {
			_ = c.Close()
			drop[i] = nil
		}
		p.fill(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// sweepLocked removes the idle connections that are stale, past
// MaxLifetime, or (beyond MinIdle) idle longer than IdleTimeout, frees
// their slots, and appends them to drop for closing outside the lock.
// The stack's bottom holds the longest idle, so those time out first.
func (p *mutexPool) sweepLocked(drop []Conn) []Conn {
	if p.closed {
		return drop
	}
	now, wall := monoNow(), p.lifetimeNow()
	removable := len(p.idle) - p.minIdle // how many may go for idleness
	kept := p.idle[:0]
	for _, ic := range p.idle {
		c := ic.c
		switch {
		case c.Stale():
			p.stats.Stale++
		case p.expiredLocked(c, wall):
			p.stats.Expired++
		case p.idleTimeout > 0 && removable > 0 && now-ic.since >= p.idleTimeout:
			p.stats.Expired++
		default:
			kept = append(kept, ic)
			continue
		}
		removable--
		p.forgetLocked(c)
		drop = append(drop, c)
		p.freeSlotLocked() // nobody waits while connections are idle
	}
	clear(p.idle[len(kept):])
	p.idle = kept
	return drop
}

// fill dials, one at a time, until MinIdle connections are idle or the
// pool is full. A dialled connection goes to a waiter if there is one. It
// stops at the first failure; the next round tries again.
func (p *mutexPool) fill(ctx context.Context) {
	for ctx.Err() == nil {
		p.mu.Lock()
		if p.closed || len(p.idle) >= p.minIdle || p.open >= p.maxSize {
			p.mu.Unlock()
			return
		}
		p.open++
		p.mu.Unlock()
		c, err := p.dial(ctx)
		now := p.lifetimeNow()
		p.mu.Lock()
		p.stats.Dials++
		if err != nil {
			p.stats.DialErrors++
			p.freeSlotLocked()
			p.mu.Unlock()
			return
		}
		p.bornLocked(c, now)
		p.releaseLocked(c, p.releaseTime()) // closes c if the pool closed meanwhile
		p.mu.Unlock()
	}
}

// waitQueue is an intrusive FIFO list; waiters come from a sync.Pool so
// waiting allocates nothing in steady state.
type waitQueue struct {
	head, tail *waiter
	n          int
}

func (q *waitQueue) push(w *waiter) {
	w.next, w.prev = nil, q.tail
	if q.tail != nil {
		q.tail.next = w
	} else {
		q.head = w
	}
	q.tail = w
	q.n++
}

func (q *waitQueue) pop() *waiter {
	w := q.head
	if w != nil {
		q.unlink(w)
	}
	return w
}

// remove unlinks w if it is still queued and reports whether it was.
func (q *waitQueue) remove(w *waiter) bool {
	if w.prev == nil && q.head != w {
		return false
	}
	q.unlink(w)
	return true
}

func (q *waitQueue) unlink(w *waiter) {
	if w.prev != nil {
		w.prev.next = w.next
	} else {
		q.head = w.next
	}
	if w.next != nil {
		w.next.prev = w.prev
	} else {
		q.tail = w.prev
	}
	w.next, w.prev = nil, nil
	q.n--
}
