package conn

import (
	"context"
	"errors"
	"time"
)

// ErrPoolClosed is returned by a closed Pool's Acquire, and by Acquire
// calls that were waiting when the pool was closed.
var ErrPoolClosed = errors.New("fastrpc: connection pool is closed")

// Pool hands out connections to one master. The slave calls Acquire before
// each call and exactly one of Release (the connection is healthy and idle
// again) or Destroy (it failed or its state is unknown) after it.
// Implementations must be safe for concurrent use and must never hand the
// same Conn to two callers at once.
//
// Package poolimpl ships two implementations, and package
// poolimpl/pooltest is the contract as a test suite for anyone writing
// another.
type Pool interface {
	// Acquire returns an idle connection, dials a new one while fewer than
	// the pool's maximum are open, or waits (in order of arrival) until one
	// is released or ctx ends; then it returns ctx's error and takes nothing.
	//
	// A connection taken from idle must be checked with [Conn.Stale] first:
	// a stale one is closed, its slot freed, and Acquire goes on with the
	// next idle connection or a dial. The slave relies on this to survive a
	// master restart without failing calls.
	Acquire(ctx context.Context) (*Conn, error)
	// Release returns a healthy connection for reuse. After Close it closes
	// the connection instead.
	Release(c *Conn)
	// Destroy closes a connection and frees its slot.
	Destroy(c *Conn)
	// Stats reports the pool's current state and counters.
	Stats() PoolStats
	// Close closes every idle connection, and later every connection
	// released, and makes waiting and future Acquire calls return
	// ErrPoolClosed. It does not wait for connections in use. Closing twice
	// is not an error.
	Close() error
}

// DialFunc opens one ready connection (handshake done); pools call it to
// grow. It must return when ctx ends.
type DialFunc func(ctx context.Context) (*Conn, error)

// PoolStats is a snapshot of a Pool. The gauges (Open to Waiting) are read
// together; counters only grow.
type PoolStats struct {
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
