// Package puddle is a connection pool for the slave on
// github.com/jackc/puddle/v2, the pool under pgx, for programs that
// already run puddle and want one pool implementation to reason about.
// It costs more per Acquire than the builtin pool (poolimpl.Mutex) and
// allocates while waiting; see [Factory] for how it is adapted to the
// [poolimpl.Pool] contract, which it passes (package poolimpl/pooltest).
//
// In code, pass its Factory to the slave:
//
//	s, err := slave.New(slave.Config{Address: addr, Pool: puddle.Factory(poolimpl.Options{})})
//
// Importing the package also registers it as the module "pool.puddle",
// so a slave's JSON config can name it, as a database/sql driver is
// picked by name once imported:
//
//	import _ "github.com/AmanTrance/FastRpc/poolimpl/puddle"
//
//	{"address": "127.0.0.1:10000", "pool": {"module": "puddle", "idle_timeout": "90s"}}
//
// Its JSON fields are those of [poolimpl.Options]. Only programs that
// import it link jackc/puddle and golang.org/x/sync.
package puddle

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	jpuddle "github.com/jackc/puddle/v2"

	"github.com/AmanTrance/FastRpc/module"
	"github.com/AmanTrance/FastRpc/poolimpl"
)

// Factory returns the Factory of pools on github.com/jackc/puddle/v2,
// the pool under pgx, with opts. The Factory rejects opts that fail
// [poolimpl.Options.Check].
//
// Acquire, Release and Stats map onto puddle's own; the pool maps each
// open connection to its *puddle.Resource, so Release and Destroy find it
// with one lookup, under a mutex of the pool's own. Where puddle's
// behaviour does not fit [poolimpl.Pool], the pool adapts it:
//
//   - puddle's Close blocks until every acquired resource is returned, and
//     its waiters do not wake on Close. The pool's Close does not call it:
//     it closes the idle connections, resets the puddle pool (so
//     connections released later are closed), and wakes waiters through a
//     per-Acquire context that exists only on the slow path, when every
//     slot is taken on arrival.
//   - Destroy closes the connection and hijacks the resource, which frees
//     its slot at once; puddle's own Destroy does it in a goroutine.
//   - A dial started by an Acquire goes on if that caller gives up, and the
//     new connection then goes idle (puddle's design, so slow dials still
//     finish). So a dial is bounded by Close and by the DialFunc's own
//     timeout (the slave's DialTimeout), not by the caller's context, whose
//     values it still sees.
//   - MaxLifetime counts from puddle's creation time of the resource.
//
// Costs: an idle Acquire and Release allocate nothing, but each Acquire
// that has to wait allocates (puddle's semaphore queue, plus the
// cancellable context), and so does each dial. Waiting is FIFO.
func Factory(opts poolimpl.Options) poolimpl.Factory {
	return func(dial poolimpl.DialFunc, size int) (poolimpl.Pool, error) {
		return newPool(dial, size, opts)
	}
}

// resource is puddle's handle of one connection.
type resource = jpuddle.Resource[*entry]

// entry is what puddle holds for one connection: the connection, and its
// resource once handed out (set by the holder only, so without a lock).
type entry struct {
	c   poolimpl.Conn
	res *resource
}

// pool is the pool [Factory] builds.
type pool struct {
	pool    *jpuddle.Pool[*entry]
	dial    poolimpl.DialFunc
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

	// entries maps every open connection (poolimpl.Conn) to its *entry,
	// so Release and Destroy find its resource with one lookup. An entry
	// is added when its connection is dialled and removed when it is
	// closed: written once and read on every Release, what sync.Map is
	// for (a mutex here was contended by every caller at once).
	entries sync.Map

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

// newPool returns a pool. It dials nothing itself unless opts.MinIdle
// asks for warm connections.
func newPool(dial poolimpl.DialFunc, size int, opts poolimpl.Options) (*pool, error) {
	size, err := opts.Check(dial, size)
	if err != nil {
		return nil, err
	}
	p := &pool{
		dial:        dial,
		maxSize:     int64(size),
		minIdle:     opts.MinIdle,
		idleTimeout: time.Duration(opts.IdleTimeout),
		maxLifetime: time.Duration(opts.MaxLifetime),
	}
	p.closeCtx, p.closeNow = context.WithCancel(context.Background())
	p.pool, err = jpuddle.NewPool(&jpuddle.Config[*entry]{
		Constructor: p.construct,
		Destructor:  p.destruct,
		MaxSize:     int32(min(size, 1<<31-1)),
	})
	if err != nil {
		p.closeNow()
		return nil, err
	}
	if period := opts.Period(); period > 0 {
		p.maintDone = make(chan struct{})
		go p.maintain(period)
	}
	return p, nil
}

// destruct is puddle's Destructor, for the resources puddle destroys
// itself (those released after Close's Reset).
func (p *pool) destruct(e *entry) {
	p.forget(e.c)
	_ = e.c.Close()
}

// construct is puddle's Constructor. puddle passes a context carrying the
// caller's values but cancelled only by its own Close, which is never
// called; the dial is cancelled by ours instead.
func (p *pool) construct(ctx context.Context) (*entry, error) {
	if p.closed.Load() {
		return nil, poolimpl.ErrClosed
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
			return nil, poolimpl.ErrClosed
		}
		return nil, err
	}
	if p.closed.Load() {
		_ = c.Close()
		return nil, poolimpl.ErrClosed
	}
	e := &entry{c: c}
	p.entries.Store(c, e)
	return e, nil
}

// Acquire implements [poolimpl.Pool].
func (p *pool) Acquire(ctx context.Context) (poolimpl.Conn, error) {
	if p.closed.Load() {
		return nil, poolimpl.ErrClosed
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
			return nil, poolimpl.ErrClosed
		}
		// The connection was stale and is gone; try again below.
	}
	return p.acquireSlow(ctx)
}

// acquireSlow waits for a slot in puddle's FIFO queue with a context that
// Close cancels. The caller is counted in held.
func (p *pool) acquireSlow(ctx context.Context) (poolimpl.Conn, error) {
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
			return nil, poolimpl.ErrClosed
		}
	}
}

// acquireError turns puddle's error into the contract's: ctx's error if
// ctx ended, ErrClosed once closed, else the dial's error.
func (p *pool) acquireError(ctx context.Context, err error) error {
	if cerr := ctx.Err(); cerr != nil {
		return cerr
	}
	if p.closed.Load() {
		return poolimpl.ErrClosed
	}
	return err
}

// take checks a resource puddle handed out and returns its connection, or
// closes it and returns nil: the pool closed meanwhile, or it is stale.
func (p *pool) take(res *resource) poolimpl.Conn {
	e := res.Value()
	e.res = res // the same for the connection's life
	c := e.c
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
// forget comes first: once the resource is gone, puddle may dial a new
// connection into the slot.
func (p *pool) drop(c poolimpl.Conn, res *resource) {
	p.forget(c)
	_ = c.Close()
	res.Hijack()
}

// forget drops c from the resources map: it is closed for good.
func (p *pool) forget(c poolimpl.Conn) {
	p.entries.Delete(c)
}

// resourceOf returns the resource of c, a connection this pool handed out.
func (p *pool) resourceOf(c poolimpl.Conn) *resource {
	v, _ := p.entries.Load(c)
	e, _ := v.(*entry)
	if e == nil || e.res == nil {
		panic("puddle: connection was not acquired from this pool")
	}
	return e.res
}

// Release implements [poolimpl.Pool]. A connection older than MaxLifetime is
// closed instead of kept.
func (p *pool) Release(c poolimpl.Conn) {
	res := p.resourceOf(c)
	switch {
	case p.closed.Load():
		p.drop(c, res)
	case p.maxLifetime > 0 && time.Since(res.CreationTime()) >= p.maxLifetime:
		p.expired.Add(1)
		p.drop(c, res)
	default:
		res.Release()
	}
	p.held.Add(-1)
}

// Destroy implements [poolimpl.Pool].
func (p *pool) Destroy(c poolimpl.Conn) {
	p.drop(c, p.resourceOf(c))
	p.held.Add(-1)
}

// Stats implements [poolimpl.Pool]. Open counts connections being dialled;
// Waiting counts callers that found every slot taken, from a moment
// before they queue in puddle.
func (p *pool) Stats() poolimpl.Stats {
	// discarded first: each discard follows its puddle acquire, so the
	// difference cannot go below zero.
	discarded := p.discarded.Load()
	p.sweepMu.Lock()
	st := p.pool.Stat()
	p.sweepMu.Unlock()
	open := int(st.TotalResources())
	idle := int(st.IdleResources())
	return poolimpl.Stats{
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

// Close implements [poolimpl.Pool] without blocking on connections in use:
// it wakes waiters, cancels dials, stops maintenance (waiting for it),
// closes idle connections, and resets puddle so connections released
// later are closed.
func (p *pool) Close() error {
	if !p.closed.CompareAndSwap(false, true) {
		return nil
	}
	p.closeNow()
	if p.maintDone != nil {
		<-p.maintDone
	}
	for _, res := range p.pool.AcquireAllIdle() {
		p.drop(res.Value().c, res)
	}
	// Anything that slipped into idle since, or is released by a caller
	// that saw the pool open, belongs to the old generation and is closed.
	p.pool.Reset()
	return nil
}

// maintain runs the background work Options asked for until Close.
func (p *pool) maintain(period time.Duration) {
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
func (p *pool) sweep() {
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
		c := res.Value().c
		switch {
		case c.Stale():
			p.stale.Add(1)
		case p.maxLifetime > 0 && time.Since(res.CreationTime()) >= p.maxLifetime:
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
func (p *pool) fill() {
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

func init() {
	module.Register(puddleModule{})
}

// puddleModule is the "pool.puddle" module: this package's pool configured
// from JSON, {"module": "puddle", "idle_timeout": "90s"}. Its fields are
// those of poolimpl.Options.
type puddleModule struct {
	poolimpl.Options
}

// FastRpcModule implements module.Module.
func (puddleModule) FastRpcModule() module.ModuleInfo {
	return module.ModuleInfo{ID: module.NamespacePool + ".puddle", New: func() module.Module { return new(puddleModule) }}
}

// Validate implements module.Validator.
func (m *puddleModule) Validate() error { return m.Options.Validate() }

// NewPool implements poolimpl.Module: a puddle pool of at most size
// connections.
func (m *puddleModule) NewPool(dial poolimpl.DialFunc, size int) (poolimpl.Pool, error) {
	return Factory(m.Options)(dial, size)
}
