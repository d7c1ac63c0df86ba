// Package poolimpl holds connection pools for the slave: two
// implementations of [conn.Pool] that a slave.Config swaps in one line.
//
//   - [Mutex] is the builtin pool and the default: a sync.Mutex, a stack of
//     idle connections and a FIFO queue of waiters, with no dependency
//     beyond the standard library. Acquire and Release of an idle
//     connection allocate nothing, and neither does waiting in steady
//     state. Use it unless you have a reason not to.
//   - [Puddle] wraps github.com/jackc/puddle/v2, the pool under pgx, for
//     programs that already run puddle and want one pool implementation to
//     reason about. It costs more per Acquire and allocates while waiting;
//     see its doc for how it is adapted to the contract.
//
// Both take the same [Options] (warm connections, idle timeout, maximum
// lifetime), both catch idle connections the master closed before handing
// them out, and both pass the contract suite in package
// poolimpl/pooltest. They are registered as modules "pool.mutex" and
// "pool.puddle" ([MutexModule], [PuddleModule]), so a JSON config can pick
// one by name: see slave.PoolByName and slave.PoolFromConfig.
//
//	s, err := slave.New(slave.Config{Address: addr, Pool: poolimpl.PuddleFactory(poolimpl.Options{})})
//
// The package does not dial or speak the protocol itself: a pool is given
// a [conn.DialFunc] and only decides when to call it and who gets what it
// returns. Backing off while the master is down is the dialler's job (the
// slave's dial does it for every pool), not the pool's. It is not a
// general-purpose resource pool either: it pools *conn.Conn only.
package poolimpl
