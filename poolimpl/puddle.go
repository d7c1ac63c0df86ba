package poolimpl

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/puddle/v2"

	"github.com/AmanTrance/FastRpc/conn"
)

// PuddleConfig configures a [Puddle] pool.
type PuddleConfig struct {
	// Dial opens a new connection. Required.
	Dial conn.DialFunc
	// MaxSize bounds the connections open at once; 0 means DefaultMaxSize.
	MaxSize int
	// Options turn on warm, idle-timeout and lifetime management.
	Options Options
}

// Puddle is a [conn.Pool] on github.com/jackc/puddle/v2, the pool under
// pgx. Acquire, Release and Stats map onto puddle's own; each connection
// carries its *puddle.Resource (see [conn.Conn.SetPoolData]), so Release
// and Destroy need no lookup.
//
// Where puddle's behaviour does not fit conn.Pool, the wrapper adapts it:
//
//   - puddle's Close blocks until every acquired resource is returned, and
//     its waiters do not wake on Close. Puddle.Close does not call it: it
//     closes the idle connections, resets the puddle pool (so connections
//     released later are closed), and wakes waiters through a per-Acquire
//     context that exists only on the slow path, when every slot is taken
//     on arrival.
//   - Destroy closes the connection and hijacks the resource, which frees
//     its slot at once; puddle's own Destroy does it in a goroutine.
//   - A dial started by an Acquire goes on if that caller gives up, and the
//     new connection then goes idle (puddle's design, so slow dials still
//     finish). So a dial is bounded by Close and by the DialFunc's own
//     timeout (the slave's DialTimeout), not by the caller's context, whose
//     values it still sees.
//
// Costs: an idle Acquire and Release allocate nothing, but each Acquire
// that has to wait allocates (puddle's semaphore queue, plus the
// cancellable context), and so does each dial. Waiting is FIFO.
type Puddle struct {
	pool    *puddle.Pool[*conn.Conn]
	dial    conn.DialFunc
	maxSize int64
	minIdle int

	idleTimeout time.Duration
	maxLifetime time.Duration

	// held counts Acquire calls in progress, connections handed out, and
	// warm-up dials: while it is at most maxSize a semaphore slot is free,
	// so Acquire needs no Close-aware context.
	held    atomic.Int64
	waiting atomic.Int64
	closed  atomic.Bool

	// sweepMu is held while maintenance has the idle connections out of
	// puddle (AcquireAllIdle marks them acquired), so Stats waits and never
	// reports them in use.
	sweepMu sync.Mutex

	closeCtx  context.Context // done once Close starts
	closeNow  context.CancelFunc
	maintDone chan struct{} // nil without maintenance

	// Counters puddle does not keep, or keeps differently.
	waits      atomic.Uint64
	waitTime   atomic.Int64
	dials      atomic.Uint64
	dialErrors atomic.Uint64
	stale      atomic.Uint64
	expired    atomic.Uint64
	discarded  atomic.Uint64 // puddle acquires we did not hand out
}

// NewPuddle returns a pool. It dials nothing itself unless Options.MinIdle
// asks for warm connections.
func NewPuddle(cfg PuddleConfig) (*Puddle, error) {
	size, err := checkSize("Puddle", cfg.Dial, cfg.MaxSize)
	if err != nil {
		return nil, err
	}
	if err := cfg.Options.validateFor(size); err != nil {
		return nil, err
	}
	p := &Puddle{
		dial:        cfg.Dial,
		maxSize:     int64(size),
		minIdle:     cfg.Options.MinIdle,
		idleTimeout: time.Duration(cfg.Options.IdleTimeout),
		maxLifetime: time.Duration(cfg.Options.MaxLifetime),
	}
	p.closeCtx, p.closeNow = context.WithCancel(context.Background())
	p.pool, err = puddle.NewPool(&puddle.Config[*conn.Conn]{
		Constructor: p.construct,
		Destructor:  func(c *conn.Conn) { _ = c.Close() },
		MaxSize:     int32(min(size, 1<<31-1)),
	})
	if err != nil {
		p.closeNow()
		return nil, err
	}
	if cfg.Options.maintained() {
		p.maintDone = make(chan struct{})
		go p.maintain(cfg.Options.period())
	}
	return p, nil
}

// construct is puddle's Constructor. puddle passes a context carrying the
// caller's values but cancelled only by its own Close, which is never
// called; the dial is cancelled by ours instead.
func (p *Puddle) construct(ctx context.Context) (*conn.Conn, error) {
	if p.closed.Load() {
		return nil, conn.ErrPoolClosed
	}
	ctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	stop := context.AfterFunc(p.closeCtx, cancel)
	c, err := p.dial(ctx)
	stop()
	cancel()
	p.dials.Add(1)
	if err != nil {
		p.dialErrors.Add(1)
		if p.closed.Load() {
			return nil, conn.ErrPoolClosed
		}
		return nil, err
	}
	if p.closed.Load() {
		_ = c.Close()
		return nil, conn.ErrPoolClosed
	}
	return c, nil
}

// Acquire implements [conn.Pool].
func (p *Puddle) Acquire(ctx context.Context) (*conn.Conn, error) {
	if p.closed.Load() {
		return nil, conn.ErrPoolClosed
	}
	if p.held.Add(1) <= p.maxSize {
		// A slot is free: puddle will not make this call wait, except
		// briefly behind maintenance, so it needs no Close-aware context.
		res, err := p.pool.Acquire(ctx)
		if err != nil {
			p.held.Add(-1)
			return nil, p.acquireError(ctx, err)
		}
		if c := p.take(res); c != nil {
			return c, nil
		}
		if p.closed.Load() {
			p.held.Add(-1)
			return nil, conn.ErrPoolClosed
		}
		// The connection was stale and is gone; try again below.
	}
	return p.acquireSlow(ctx)
}

// acquireSlow waits for a slot in puddle's FIFO queue with a context that
// Close cancels. The caller is counted in held.
func (p *Puddle) acquireSlow(ctx context.Context) (*conn.Conn, error) {
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(p.closeCtx, cancel)
	defer stop()
	start := time.Now()
	p.waiting.Add(1)
	defer func() {
		p.waiting.Add(-1)
		p.waitTime.Add(int64(time.Since(start)))
	}()
	for {
		res, err := p.pool.Acquire(wctx)
		if err != nil {
			p.held.Add(-1)
			return nil, p.acquireError(ctx, err)
		}
		if c := p.take(res); c != nil {
			p.waits.Add(1)
			return c, nil
		}
		if p.closed.Load() {
			p.held.Add(-1)
			return nil, conn.ErrPoolClosed
		}
	}
}

// acquireError turns puddle's error into the contract's: ctx's error if
// ctx ended, ErrPoolClosed once closed, else the dial's error.
func (p *Puddle) acquireError(ctx context.Context, err error) error {
	if cerr := ctx.Err(); cerr != nil {
		return cerr
	}
	if p.closed.Load() {
		return conn.ErrPoolClosed
	}
	return err
}

// take checks a resource puddle handed out and returns its connection, or
// closes it and returns nil: the pool closed meanwhile, or it is stale.
func (p *Puddle) take(res *puddle.Resource[*conn.Conn]) *conn.Conn {
	c := res.Value()
	c.SetPoolData(res)
	switch {
	case p.closed.Load():
	case c.Stale():
		p.stale.Add(1)
	default:
		return c
	}
	p.discarded.Add(1)
	p.drop(c, res)
	return nil
}

// drop closes c and removes its resource from puddle, freeing the slot.
func (p *Puddle) drop(c *conn.Conn, res *puddle.Resource[*conn.Conn]) {
	_ = c.Close()
	res.Hijack()
}

func resourceOf(c *conn.Conn) *puddle.Resource[*conn.Conn] {
	res, ok := c.PoolData().(*puddle.Resource[*conn.Conn])
	if !ok {
		panic("poolimpl: connection was not acquired from a Puddle pool")
	}
	return res
}

// Release implements [conn.Pool]. A connection older than MaxLifetime is
// closed instead of kept.
func (p *Puddle) Release(c *conn.Conn) {
	res := resourceOf(c)
	switch {
	case p.closed.Load():
		p.drop(c, res)
	case p.maxLifetime > 0 && time.Since(c.Created()) >= p.maxLifetime:
		p.expired.Add(1)
		p.drop(c, res)
	default:
		res.Release()
	}
	p.held.Add(-1)
}

// Destroy implements [conn.Pool].
func (p *Puddle) Destroy(c *conn.Conn) {
	p.drop(c, resourceOf(c))
	p.held.Add(-1)
}

// Stats implements [conn.Pool]. Open counts connections being dialled;
// Waiting counts callers that found every slot taken, from a moment
// before they queue in puddle.
func (p *Puddle) Stats() conn.PoolStats {
	// discarded first: each discard follows its puddle acquire, so the
	// difference cannot go below zero.
	discarded := p.discarded.Load()
	p.sweepMu.Lock()
	st := p.pool.Stat()
	p.sweepMu.Unlock()
	open := int(st.TotalResources())
	idle := int(st.IdleResources())
	return conn.PoolStats{
		Open:       open,
		Idle:       idle,
		InUse:      open - idle,
		Waiting:    int(p.waiting.Load()),
		Acquires:   uint64(st.AcquireCount()) - discarded,
		Waits:      p.waits.Load(),
		WaitTime:   time.Duration(p.waitTime.Load()),
		Dials:      p.dials.Load(),
		DialErrors: p.dialErrors.Load(),
		Stale:      p.stale.Load(),
		Expired:    p.expired.Load(),
	}
}

// Close implements [conn.Pool] without blocking on connections in use:
// it wakes waiters, cancels dials, stops maintenance (waiting for it),
// closes idle connections, and resets puddle so connections released
// later are closed.
func (p *Puddle) Close() error {
	if !p.closed.CompareAndSwap(false, true) {
		return nil
	}
	p.closeNow()
	if p.maintDone != nil {
		<-p.maintDone
	}
	for _, res := range p.pool.AcquireAllIdle() {
		p.drop(res.Value(), res)
	}
	// Anything that slipped into idle since, or is released by a caller
	// that saw the pool open, belongs to the old generation and is closed.
	p.pool.Reset()
	return nil
}

// maintain runs the background work Options asked for until Close.
func (p *Puddle) maintain(period time.Duration) {
	defer close(p.maintDone)
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		p.sweep()
		p.fill()
		select {
		case <-p.closeCtx.Done():
			return
		case <-t.C:
		}
	}
}

// sweep closes the idle connections that are stale, past MaxLifetime, or
// (beyond MinIdle) idle longer than IdleTimeout.
func (p *Puddle) sweep() {
	p.sweepMu.Lock()
	defer p.sweepMu.Unlock()
	idle := p.pool.AcquireAllIdle()
	// Most recently used first, so the longest idle time out first.
	for i := 1; i < len(idle); i++ {
		for j := i; j > 0 && idle[j].LastUsedNanotime() > idle[j-1].LastUsedNanotime(); j-- {
			idle[j], idle[j-1] = idle[j-1], idle[j]
		}
	}
	kept := 0
	for _, res := range idle {
		c := res.Value()
		switch {
		case c.Stale():
			p.stale.Add(1)
		case p.maxLifetime > 0 && time.Since(c.Created()) >= p.maxLifetime:
			p.expired.Add(1)
		case p.idleTimeout > 0 && kept >= p.minIdle && res.IdleDuration() >= p.idleTimeout:
			p.expired.Add(1)
		default:
			kept++
			res.ReleaseUnused()
			continue
		}
		p.drop(c, res)
	}
}

// fill dials, one at a time, until MinIdle connections are idle or the
// pool is full. It stops at the first failure; the next round tries again.
func (p *Puddle) fill() {
	if p.minIdle == 0 {
		return
	}
	for p.closeCtx.Err() == nil {
		st := p.pool.Stat()
		if int(st.IdleResources()) >= p.minIdle || int64(st.TotalResources()) >= p.maxSize {
			return
		}
		if p.held.Add(1) > p.maxSize {
			p.held.Add(-1)
			return // callers want every slot
		}
		err := p.pool.CreateResource(p.closeCtx)
		p.held.Add(-1)
		if err != nil {
			return
		}
	}
}
