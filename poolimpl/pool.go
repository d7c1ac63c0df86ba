package poolimpl

import (
	"context"
	"errors"
	"time"

	"github.com/AmanTrance/FastRpc/module"
)

// Conn is what a pool holds. The slave's connections, *conn.Conn,
// implement it; a pool needs nothing else of them. A pool may key maps by
// Conn, so implementations must be comparable (pointers are).
type Conn interface {
	// Close closes the connection.
	Close() error
	// Stale reports whether an idle connection must not be handed out: the
	// peer closed it or reset it, or sent bytes nobody asked for (a FastRpc
	// master never does, except the notice it sends before closing a
	// connection). It does not block and sends nothing. A pool calls it
	// on every connection it takes from idle, before handing it out (see
	// Pool.Acquire).
	Stale() bool
}

// DialFunc opens one ready connection (handshake done); pools call it to
// grow. It must return when ctx ends.
type DialFunc func(ctx context.Context) (Conn, error)

// Pool hands out connections to one master. The slave calls Acquire before
// each call and exactly one of Release (the connection is healthy and idle
// again) or Destroy (it failed or its state is unknown) after it.
// Implementations must be safe for concurrent use and must never hand the
// same Conn to two callers at once.
//
// Package poolimpl/pooltest is the contract as a test suite.
type Pool interface {
	// Acquire returns an idle connection, dials a new one while fewer than
	// the pool's maximum are open, or waits (in order of arrival) until one
	// is released or ctx ends; then it returns ctx's error and takes nothing.
	//
	// A connection taken from idle must be checked with [Conn.Stale] first:
	// a stale one is closed, its slot freed, and Acquire goes on with the
	// next idle connection or a dial. The slave relies on this to survive a
	// master restart without failing calls.
	Acquire(ctx context.Context) (Conn, error)
	// Release returns a healthy connection for reuse. After Close it closes
	// the connection instead.
	Release(c Conn)
	// Destroy closes a connection and frees its slot.
	Destroy(c Conn)
	// Stats reports the pool's current state and counters.
	Stats() Stats
	// Close closes every idle connection, and later every connection
	// released, and makes waiting and future Acquire calls return
	// ErrClosed. It does not wait for connections in use. Closing twice
	// is not an error.
	Close() error
}

// Stats is a snapshot of a Pool. The gauges (Open to Waiting) are read
// together; counters only grow.
type Stats struct {
	Open    int // connections open: idle plus in use (including being dialled)
	Idle    int // connections waiting in the pool
	InUse   int // connections handed out or being dialled: Open - Idle
	Waiting int // Acquire calls waiting now for a connection or a slot

	Acquires   uint64        // Acquire calls that returned a connection
	Waits      uint64        // of those, how many had to wait because the pool was full
	WaitTime   time.Duration // total time spent waiting, including waits that failed
	Dials      uint64        // calls to the DialFunc
	DialErrors uint64        // of those, how many failed
	Stale      uint64        // idle connections found stale (see Conn.Stale) and closed
	Expired    uint64        // connections closed for idle timeout or lifetime
}

// Factory builds a pool of at most size connections that dials with dial:
// slave.Config.Pool is one. size 0 means DefaultSize; a negative size or a
// nil dial is an error. Building a pool dials nothing unless its options
// ask for warm connections.
type Factory func(dial DialFunc, size int) (Pool, error)

// Module is a pool module, registered in namespace "pool"
// (module.NamespacePool) and picked by name in a slave's JSON config:
// {"module": "puddle", "min_idle": 1}. Its NewPool is the Factory the
// slave uses. This package registers "pool.mutex", the default
// (DefaultModule); package poolimpl/puddle registers "pool.puddle" when
// imported.
type Module interface {
	module.Module
	// NewPool builds a pool of at most size connections that dials with
	// dial, as a Factory does.
	NewPool(dial DialFunc, size int) (Pool, error)
}

// DefaultModule names the pool module a JSON config gets when it names
// none: "mutex", the builtin pool [Mutex] builds.
const DefaultModule = "mutex"

// ErrClosed is returned by a closed Pool's Acquire, and by Acquire calls
// that were waiting when the pool was closed.
var ErrClosed = errors.New("fastrpc: connection pool is closed")

// DefaultSize is the pool size used when a Factory is given size 0, and
// the slave's default Config.PoolSize.
const DefaultSize = 4
