// Package pooltest is the [poolimpl.Pool] contract as a test suite.
// Package poolimpl runs it against its builtin pool, and poolimpl/puddle
// against puddle's; a third-party pool runs it from a Test function of its
// own with one call (see the example):
//
//	pooltest.Run(t, pooltest.Config{New: mypool.Factory, Maintains: true})
//
// Each rule is a subtest named after it, such as
// AcquireDialsUpToMaxSize or WaitersServedInArrivalOrder. The suite
// checks that a Factory validates its arguments; that a pool never hands
// one connection to two callers, and hands out only what its DialFunc
// returned; keeps at most its size open; serves waiters in order of
// arrival and lets one whose context ends leave promptly with nothing;
// closes destroyed connections and replaces them on demand; frees the slot
// of a failed dial; catches idle connections the peer closed before
// handing them out; closes every connection on Close, idle or returned
// later, and wakes every waiter with [poolimpl.ErrClosed]; and keeps its
// [poolimpl.Stats] right. With Config.Maintains it also checks the
// [poolimpl.Options]: warm connections (MinIdle), IdleTimeout and
// MaxLifetime, and the refusal of invalid ones.
//
// The suite's DialFuncs return *conn.Conn values, as the slave's does, and
// check that Acquire returns them. Most tests dial net.Pipe connections;
// those about stale connections and real traffic dial loopback TCP, where
// conn.Conn.Stale can see the socket. Timeouts in the suite only keep a
// broken pool from hanging it; nothing asserts on speed.
//
// It is for tests only, and needs nothing beyond the standard testing
// package.
package pooltest
