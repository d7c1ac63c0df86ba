// Package poolimpl is the slave's connection pool contract and its builtin
// pool.
//
// The contract is [Pool], which hands out [Conn] values dialled by a
// [DialFunc], and [Factory], which builds one: slave.Config.Pool is a
// Factory. A pool knows nothing of FastRpc's connections beyond Conn's
// two methods (Close, and Stale to catch idle connections the master
// closed before handing them out); the slave's *conn.Conn implements Conn,
// and the slave gets back from Acquire what its DialFunc returned.
//
// [Mutex] builds the builtin pool and the default: a sync.Mutex, a stack
// of idle connections and a FIFO queue of waiters, with no dependency
// beyond the standard library. Acquire and Release of an idle connection
// allocate nothing. Package poolimpl/puddle is a pool on
// github.com/jackc/puddle/v2 for programs that already run puddle; it
// lives apart so that only programs importing it link puddle. Both take
// [Options] (warm connections, idle timeout, maximum lifetime), and both
// pass the contract suite, package poolimpl/pooltest, which a third-party
// pool runs too.
//
// Swapping the pool is one line of slave.Config:
//
//	s, err := slave.New(slave.Config{Address: addr, Pool: poolimpl.Mutex(poolimpl.Options{MinIdle: 1})})
//
// In JSON, a pool is a [Module] of namespace "pool" named by its "module"
// field: this package registers "pool.mutex" ([DefaultModule]), and
// poolimpl/puddle registers "pool.puddle" when imported.
//
// What it is not: the package does not dial or speak the protocol itself.
// A pool is given a DialFunc and only decides when to call it and who gets
// what it returns; backing off while the master is down is the dialler's
// job (the slave's dial does it for every pool), not the pool's. Nor is it
// a general-purpose resource pool: it pools connections to one master, for
// one caller at a time.
//
// One caller at a time is today's mode: a connection carries one call, so
// Acquire hands it to one caller and Release or Destroy ends that. The
// contract is shaped so that a multiplexed connection, carrying many calls
// at once, could later be shared without changing Pool: such a pool would
// hand the same Conn to several callers between their Acquire and Release
// calls, counting them, which only the exclusivity rule of today's pools
// forbids.
package poolimpl
