package pooltest

import (
	"fmt"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/AmanTrance/FastRpc/conn"
)

// staleProbed lists the systems where conn.Conn.Stale peeks at the socket
// (see conn's stale_unix.go); elsewhere it sees only buffered bytes.
var staleProbed = []string{"linux", "darwin", "freebsd", "netbsd", "openbsd", "dragonfly"}

// runStale checks, over loopback TCP, that idle connections the peer
// closed are never handed out, and that real traffic survives the pool.
func runStale(t *testing.T, newPool Factory) {
	t.Run("Stale", func(t *testing.T) {
		if !slices.Contains(staleProbed, runtime.GOOS) {
			t.Skipf("conn.Conn.Stale cannot see sockets on %s", runtime.GOOS)
		}
		runStaleCases(t, newPool)
	})

	// Many callers through a small pool, each checking its echo.
	t.Run("TCPTraffic", func(t *testing.T) {
		const maxSize, callers, calls = 4, 200, 5
		peer := newTCPPeer(t)
		p := newPool(t, peer.dial, maxSize)
		var ex exclusive
		var wg sync.WaitGroup
		for g := range callers {
			spawn(&wg, func() {
				for i := range calls {
					c, err := p.Acquire(ctxFor(t, 10*time.Second))
					if !assert.NoError(t, err) {
						return
					}
					ex.take(t, c)
					msg := fmt.Sprintf("caller %d call %d", g, i)
					got, err := echo(c, msg)
					ex.give(c)
					if !assert.NoError(t, err) {
						p.Destroy(c)
						return
					}
					assert.Equal(t, msg, got)
					p.Release(c)
				}
			})
		}
		waitAll(t, &wg, p, 15*time.Second)
		s := p.Stats()
		assert.Equal(t, uint64(callers*calls), s.Acquires)
		assert.LessOrEqual(t, peer.dials.Load(), int64(maxSize))
		assert.Equal(t, uint64(peer.dials.Load()), s.Dials)
		checkSettled(t, p, maxSize)
	})
}

func runStaleCases(t *testing.T, newPool Factory) {
	// The master closed one idle connection: Acquire skips and closes it.
	t.Run("PeerClosedIdle", func(t *testing.T) {
		peer := newTCPPeer(t)
		p := newPool(t, peer.dial, 2)
		a, b := acquire2(t, p)
		p.Release(b)
		p.Release(a) // the most recently released: the one a stack reuses
		peer.closeServer(a)

		// Two acquires with two slots: the pool must deal with a.
		c1, c2 := acquire2(t, p)
		for _, c := range []*conn.Conn{c1, c2} {
			require.NotSame(t, a, c, "a connection the peer closed was handed out")
			got, err := echo(c, "ping")
			require.NoError(t, err, "the connection handed out works")
			assert.Equal(t, "ping", got)
		}
		p.Release(c1)
		p.Release(c2)
		assert.Eventually(t, func() bool { return peer.closedByPool(a) }, prompt, time.Millisecond,
			"the stale connection is closed")
		s := p.Stats()
		assert.Equal(t, uint64(1), s.Stale)
		assert.Equal(t, uint64(4), s.Acquires, "stale connections taken from idle are not acquires")
		checkSettled(t, p, 2)
		checkSlots(t, p, 2)
	})

	// The master restarted: every idle connection is closed; Acquire
	// dials a new one without failing.
	t.Run("MasterRestart", func(t *testing.T) {
		peer := newTCPPeer(t)
		p := newPool(t, peer.dial, 2)
		a, b := acquire2(t, p)
		p.Release(a)
		p.Release(b)
		peer.closeServer(a)
		peer.closeServer(b)

		c, err := p.Acquire(ctxFor(t, prompt))
		require.NoError(t, err)
		assert.NotSame(t, a, c)
		assert.NotSame(t, b, c)
		got, err := echo(c, "after restart")
		require.NoError(t, err)
		assert.Equal(t, "after restart", got)
		p.Release(c)
		assert.Eventually(t, func() bool { return peer.closedByPool(a) && peer.closedByPool(b) }, prompt, time.Millisecond,
			"a pool closes the stale connections it meets")
		s := p.Stats()
		assert.Equal(t, uint64(2), s.Stale)
		assert.Equal(t, uint64(3), s.Dials)
		assert.Equal(t, 1, s.Open, "stale connections free their slots")
		checkSlots(t, p, 2)
	})

	// Bytes nobody asked for (a stopping master's notice) make an idle
	// connection stale too.
	t.Run("UnsolicitedBytes", func(t *testing.T) {
		peer := newTCPPeer(t)
		p := newPool(t, peer.dial, 1)
		a, err := p.Acquire(ctxFor(t, prompt))
		require.NoError(t, err)
		p.Release(a)
		_, err = peer.server(a).Write([]byte{0x5a})
		require.NoError(t, err)
		peer.waitStale(a)

		c, err := p.Acquire(ctxFor(t, prompt))
		require.NoError(t, err)
		assert.NotSame(t, a, c)
		p.Release(c)
		assert.Equal(t, uint64(1), p.Stats().Stale)
		assert.True(t, peer.closedByPool(a))
	})

	// A connection that goes stale while waiters queue is not handed to
	// them either: released connections go straight to waiters, but idle
	// ones are checked.
	t.Run("DestroyAfterPeerClose", func(t *testing.T) {
		peer := newTCPPeer(t)
		p := newPool(t, peer.dial, 1)
		a, err := p.Acquire(ctxFor(t, prompt))
		require.NoError(t, err)
		w := acquireAsync(ctxFor(t, 10*time.Second), p)
		waitQueued(t, p, "waiter queued", 1)
		require.NoError(t, peer.server(a).Close())
		_, err = echo(a, "x")
		require.Error(t, err, "the caller finds the connection broken")
		p.Destroy(a)
		r := await(t, w)
		require.NoError(t, r.err)
		got, err := echo(r.c, "fresh")
		require.NoError(t, err)
		assert.Equal(t, "fresh", got)
		p.Release(r.c)
	})
}

// acquire2 takes two connections.
func acquire2(t *testing.T, p conn.Pool) (*conn.Conn, *conn.Conn) {
	t.Helper()
	a, err := p.Acquire(ctxFor(t, prompt))
	require.NoError(t, err)
	b, err := p.Acquire(ctxFor(t, prompt))
	require.NoError(t, err)
	require.NotSame(t, a, b)
	return a, b
}

// waitAll waits for wg, failing with the pool's stats after limit.
func waitAll(t *testing.T, wg *sync.WaitGroup, p conn.Pool, limit time.Duration) {
	t.Helper()
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(limit):
		t.Fatalf("callers stuck: %+v", p.Stats())
	}
}
