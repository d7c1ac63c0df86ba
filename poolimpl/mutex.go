package poolimpl

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/AmanTrance/FastRpc/conn"
)

// DefaultMaxSize is the pool size used when MutexConfig.MaxSize is 0.
const DefaultMaxSize = 4

// MutexConfig configures a [Mutex] pool.
type MutexConfig struct {
	// Dial opens a new connection. Required.
	Dial conn.DialFunc
	// MaxSize bounds the connections open at once; 0 means DefaultMaxSize.
	MaxSize int
}

// Mutex is the builtin [conn.Pool].
type Mutex struct {
	dial    conn.DialFunc
	maxSize int

	mu      sync.Mutex
	idle    []*conn.Conn // stack: the most recently used is reused first
	open    int          // idle + in use + being dialled
	waiters waitQueue
	closed  bool
	stats   conn.PoolStats
}

// waiter is one blocked Acquire. It receives a connection, or nil meaning
// "a slot is free: dial one yourself".
type waiter struct {
	ch   chan *conn.Conn
	next *waiter
	prev *waiter
}

var waiterPool = sync.Pool{New: func() any { return &waiter{ch: make(chan *conn.Conn, 1)} }}

// NewMutex returns a pool. It opens no connection until asked.
func NewMutex(cfg MutexConfig) (*Mutex, error) {
	if cfg.Dial == nil {
		return nil, errors.New("poolimpl: MutexConfig.Dial is required")
	}
	if cfg.MaxSize < 0 {
		return nil, errors.New("poolimpl: MutexConfig.MaxSize must not be negative")
	}
	if cfg.MaxSize == 0 {
		cfg.MaxSize = DefaultMaxSize
	}
	return &Mutex{dial: cfg.Dial, maxSize: cfg.MaxSize, idle: make([]*conn.Conn, 0, cfg.MaxSize)}, nil
}

// Acquire implements [conn.Pool].
func (p *Mutex) Acquire(ctx context.Context) (*conn.Conn, error) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil, conn.ErrPoolClosed
	}
	if n := len(p.idle); n > 0 {
		c := p.idle[n-1]
		p.idle[n-1] = nil
		p.idle = p.idle[:n-1]
		p.stats.Acquires++
		p.mu.Unlock()
		return c, nil
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
			return nil, conn.ErrPoolClosed
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
			p.releaseLocked(c)
		} else {
			p.freeSlotLocked()
		}
		p.mu.Unlock()
		return nil, ctx.Err()
	}
}

// dialSlot dials into a slot already counted in p.open. waited says the
// caller waited for the slot: Waits counts only waits that ended with a
// connection.
func (p *Mutex) dialSlot(ctx context.Context, waited bool) (*conn.Conn, error) {
	c, err := p.dial(ctx)
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
		return nil, conn.ErrPoolClosed
	}
	p.stats.Acquires++
	if waited {
		p.stats.Waits++
	}
	return c, nil
}

// Release implements [conn.Pool].
func (p *Mutex) Release(c *conn.Conn) {
	p.mu.Lock()
	p.releaseLocked(c)
	p.mu.Unlock()
}

func (p *Mutex) releaseLocked(c *conn.Conn) {
	if p.closed {
		p.open--
		_ = c.Close()
		return
	}
	if w := p.waiters.pop(); w != nil {
		w.ch <- c
		return
	}
	p.idle = append(p.idle, c)
}

// Destroy implements [conn.Pool].
func (p *Mutex) Destroy(c *conn.Conn) {
	_ = c.Close()
	p.mu.Lock()
	p.freeSlotLocked()
	p.mu.Unlock()
}

// freeSlotLocked gives a free slot to the first waiter, who dials.
func (p *Mutex) freeSlotLocked() {
	if w := p.waiters.pop(); w != nil && !p.closed {
		w.ch <- nil
		return
	}
	p.open--
}

// Stats implements [conn.Pool].
func (p *Mutex) Stats() conn.PoolStats {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := p.stats
	s.Open = p.open
	s.Idle = len(p.idle)
	s.InUse = p.open - len(p.idle)
	s.Waiting = p.waiters.n
	return s
}

// Close implements [conn.Pool].
func (p *Mutex) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	idle := p.idle
	p.idle = nil
	p.open -= len(idle)
	for w := p.waiters.pop(); w != nil; w = p.waiters.pop() {
		p.open++ // the waiter decrements when it sees closed
		w.ch <- nil
	}
	p.mu.Unlock()
	var errs []error
	for _, c := range idle {
		errs = append(errs, c.Close())
	}
	return errors.Join(errs...)
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
