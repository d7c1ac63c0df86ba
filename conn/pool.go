package conn

import (
	"context"
	"errors"
	"time"
)

// ErrPoolClosed is returned by a closed Pool's Acquire.
var ErrPoolClosed = errors.New("fastrpc: connection pool is closed")

// Pool hands out connections to one master. The slave calls Acquire before
// each call and exactly one of Release (the connection is healthy and idle
// again) or Destroy (it failed or its state is unknown) after it.
// Implementations must be safe for concurrent use and must never hand the
// same Conn to two callers at once.
type Pool interface {
	// Acquire returns an idle connection, dials a new one while fewer than
	// the pool's maximum are open, or waits (in order of arrival) until one
	// is released or ctx ends; then it returns ctx's error and takes nothing.
	Acquire(ctx context.Context) (*Conn, error)
	// Release returns a healthy connection for reuse.
	Release(c *Conn)
	// Destroy closes a connection and frees its slot.
	Destroy(c *Conn)
	// Stats reports the pool's current state and counters.
	Stats() PoolStats
	// Close closes every connection, idle now or released later, and makes
	// waiting and future Acquire calls return ErrPoolClosed.
	Close() error
}

// DialFunc opens one ready connection (handshake done); pools call it to
// grow.
type DialFunc func(ctx context.Context) (*Conn, error)

// PoolStats is a snapshot of a Pool.
type PoolStats struct {
	Open    int // connections open: idle plus in use
	Idle    int // connections waiting in the pool
	InUse   int // connections handed out
	Waiting int // Acquire calls waiting now

	Acquires   uint64        // Acquire calls that returned a connection
	Waits      uint64        // of those, how many had to wait
	WaitTime   time.Duration // total time spent waiting
	Dials      uint64        // dial attempts
	DialErrors uint64        // dial attempts that failed
}
