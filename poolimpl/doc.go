// Package poolimpl holds connection pools for the slave, implementations
// of [conn.Pool].
//
// [Mutex] is the builtin pool: a sync.Mutex, a stack of idle connections and
// a FIFO queue of waiters, with no dependency beyond the standard library.
// It is what a slave uses unless told otherwise.
//
// The package does not dial or speak the protocol itself: a pool is given a
// [conn.DialFunc] and only decides when to call it and who gets what it
// returns.
package poolimpl
