// Package connhooks reaches the operations of a conn.Conn that only the
// master and the slave use: waiting for a request without reading it,
// the read buffer's fill, skipping payload, the socket's send queue, and
// a cached deadline for a connection's single owner.
// They are not part of conn's public API because their use depends on
// how the master and the slave drive a connection; keeping them here lets
// those packages share them without exporting them to users (the model is
// drpc's internal/drpcopts).
//
// Package conn registers its hooks when it is initialised, so any package
// that imports conn can read them with Of.
package connhooks

import "time"

// Hooks are conn.Conn's internal operations. C is *conn.Conn; the type
// parameter only keeps this package free of an import of conn.
type Hooks[C any] struct {
	// WaitForData blocks until at least one byte is readable or the read
	// deadline passes, consuming nothing.
	WaitForData func(c C) error
	// Buffered returns how many received bytes are buffered, unread.
	Buffered func(c C) int
	// Discard reads and drops n payload bytes without allocating.
	Discard func(c C, n uint64) error
	// Unsent returns how many bytes the socket's send queue still holds,
	// and false where the platform cannot tell.
	Unsent func(c C) (int, bool)
	// SetCallDeadline is SetDeadline skipping the runtime's timer update
	// when t is what it set last (most calls have no deadline, one after
	// another). Only the goroutine that owns c may call it, and only while
	// no other code sets c's deadlines: the slave drops a connection whose
	// call was interrupted, so the cache never goes stale.
	SetCallDeadline func(c C, t time.Time) error
	// TakeCancel, on a version 2 connection, waits for a whole frame, and
	// if it is a cancel frame for call id consumes it and reports true;
	// any other frame stays buffered. Errors are the read's.
	TakeCancel func(c C, id uint64) (ok bool, err error)
}

var registered any

// Register records package conn's hooks. It is called once, from conn.
func Register[C any](h Hooks[C]) { registered = h }

// Of returns the registered hooks; C must be *conn.Conn.
func Of[C any]() Hooks[C] { return registered.(Hooks[C]) }
