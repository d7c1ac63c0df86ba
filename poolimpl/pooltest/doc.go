// Package pooltest is the [conn.Pool] contract as a test suite. Package
// poolimpl runs it against both of its pools; a third-party pool runs it
// with a few lines:
//
//	func TestContract(t *testing.T) {
//		pooltest.Run(t, pooltest.Config{
//			New: func(t *testing.T, dial conn.DialFunc, maxSize int) conn.Pool {
//				p, err := mypool.New(dial, maxSize)
//				require.NoError(t, err)
//				return p
//			},
//		})
//	}
//
// The suite checks that a pool never hands one connection to two callers;
// keeps at most MaxSize open; serves waiters in order of arrival and lets
// one whose context ends leave promptly with nothing; closes destroyed
// connections and replaces them on demand; frees the slot of a failed
// dial; catches idle connections the peer closed before handing them out;
// closes every connection on Close, idle or returned later, and wakes
// every waiter with [conn.ErrPoolClosed]; and keeps its [conn.PoolStats]
// right. With Config.NewMaintained it also checks warm connections
// (MinIdle), IdleTimeout and MaxLifetime.
//
// Most tests dial net.Pipe connections; those about stale connections and
// real traffic dial loopback TCP, where [conn.Conn.Stale] can see the
// socket. Timeouts in the suite only keep a broken pool from hanging it;
// nothing asserts on speed.
//
// It is for tests only: it imports testing and testify.
package pooltest
