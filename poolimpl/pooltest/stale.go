package pooltest

import (
	"fmt"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/AmanTrance/FastRpc/poolimpl"
)

// staleProbed reports whether conn.Conn.Stale peeks at the socket on this
// system (see conn's stale_unix.go); elsewhere it sees only buffered
// bytes.
func staleProbed() bool {
	return slices.Contains([]string{"linux", "darwin", "freebsd", "netbsd", "openbsd", "dragonfly"}, runtime.GOOS)
}

// staleTests check, over loopback TCP, that idle connections the peer
// closed are never handed out.
var staleTests = []contractTest{
	{"PeerClosedIdleConnNotHandedOut", testPeerClosedIdleConnNotHandedOut},
	{"MasterRestartRedialsWithoutFailing", testMasterRestartRedialsWithoutFailing},
	{"UnsolicitedBytesMakeIdleConnStale", testUnsolicitedBytesMakeIdleConnStale},
	{"DestroyedBrokenConnReplacedForWaiter", testDestroyedBrokenConnReplacedForWaiter},
}

// The master closed one idle connection: Acquire skips and closes it, and
// it counts in Stale, not in Acquires.
func testPeerClosedIdleConnNotHandedOut(t *testing.T, s *suite) {
	peer := newTCPPeer(t)
	p := s.newPool(t, peer.dial, 2)
	a, b := acquire2(t, p)
	p.Release(b)
	p.Release(a) // the most recently released: the one a stack reuses
	peer.closeServer(a)

	// Two acquires with two slots: the pool must deal with a.
	c1, c2 := acquire2(t, p)
	for _, c := range []poolimpl.Conn{c1, c2} {
		require(t, c != a, "a connection the peer closed was handed out")
		got, err := echo(c, "ping")
		requireNoError(t, err, "the connection handed out works")
		expectEqual(t, got, "ping", "echo")
	}
	p.Release(c1)
	p.Release(c2)
	expect(t, eventually(func() bool { return peer.closedByPool(a) }, time.Millisecond), "the stale connection is closed")
	st := p.Stats()
	expectEqual(t, st.Stale, uint64(1), "Stale")
	expectEqual(t, st.Acquires, uint64(4), "Acquires: stale connections taken from idle are not acquires")
	checkSettled(t, p, 2)
	checkSlots(t, p, 2)
}

// The master restarted: every idle connection is stale; Acquire closes
// them, frees their slots and dials a new one without failing.
func testMasterRestartRedialsWithoutFailing(t *testing.T, s *suite) {
	peer := newTCPPeer(t)
	p := s.newPool(t, peer.dial, 2)
	a, b := acquire2(t, p)
	p.Release(a)
	p.Release(b)
	peer.closeServer(a)
	peer.closeServer(b)

	c := acquire(t, p)
	expect(t, c != a && c != b, "a connection the peer closed was handed out")
	got, err := echo(c, "after restart")
	requireNoError(t, err, "the connection handed out works")
	expectEqual(t, got, "after restart", "echo")
	p.Release(c)
	expect(t, eventually(func() bool { return peer.closedByPool(a) && peer.closedByPool(b) }, time.Millisecond),
		"a pool closes the stale connections it meets")
	st := p.Stats()
	expectEqual(t, st.Stale, uint64(2), "Stale")
	expectEqual(t, st.Dials, uint64(3), "Dials")
	expectEqual(t, st.Open, 1, "Open: stale connections free their slots")
	checkSlots(t, p, 2)
}

// Bytes nobody asked for (a stopping master's notice) make an idle
// connection stale too.
func testUnsolicitedBytesMakeIdleConnStale(t *testing.T, s *suite) {
	peer := newTCPPeer(t)
	p := s.newPool(t, peer.dial, 1)
	a := acquire(t, p)
	p.Release(a)
	_, err := peer.server(a).Write([]byte{0x5a})
	requireNoError(t, err, "writing on the server end")
	peer.waitStale(a)

	c := acquire(t, p)
	expect(t, c != a, "a connection with unsolicited bytes was handed out")
	p.Release(c)
	expectEqual(t, p.Stats().Stale, uint64(1), "Stale")
	expect(t, peer.closedByPool(a), "the stale connection is closed")
}

// A connection that breaks while a caller waits is destroyed by its
// holder, and the waiter gets a working new one.
func testDestroyedBrokenConnReplacedForWaiter(t *testing.T, s *suite) {
	peer := newTCPPeer(t)
	p := s.newPool(t, peer.dial, 1)
	a := acquire(t, p)
	w := acquireAsync(ctxFor(t, 10*time.Second), p)
	waitQueued(t, p, "waiter queued", 1)
	requireNoError(t, peer.server(a).Close(), "closing the server end")
	_, err := echo(a, "x")
	require(t, err != nil, "the caller finds the connection broken")
	p.Destroy(a)
	r := await(t, w)
	requireNoError(t, r.err, "the waiter")
	got, err := echo(r.c, "fresh")
	requireNoError(t, err, "the waiter's connection works")
	expectEqual(t, got, "fresh", "echo")
	p.Release(r.c)
}

// Many callers through a small pool over loopback TCP each get their own
// echo back: the pool hands out working connections, one caller each.
func testTCPTrafficSurvivesThePool(t *testing.T, s *suite) {
	const maxSize, callers, calls = 4, 200, 5
	peer := newTCPPeer(t)
	p := s.newPool(t, peer.dial, maxSize)
	var ex exclusive
	var wg sync.WaitGroup
	for g := range callers {
		spawn(&wg, func() {
			for i := range calls {
				c, err := p.Acquire(ctxFor(t, 10*time.Second))
				if !expectNoError(t, err, "Acquire") {
					return
				}
				ex.take(t, c)
				msg := fmt.Sprintf("caller %d call %d", g, i)
				got, err := echo(c, msg)
				ex.give(c)
				if !expectNoError(t, err, "echo") {
					p.Destroy(c)
					return
				}
				expectEqual(t, got, msg, "echo")
				p.Release(c)
			}
		})
	}
	waitAll(t, &wg, p, 15*time.Second)
	st := p.Stats()
	expectEqual(t, st.Acquires, uint64(callers*calls), "Acquires")
	expect(t, peer.dials.Load() <= int64(maxSize), "%d dials for a pool of %d", peer.dials.Load(), maxSize)
	expectEqual(t, st.Dials, uint64(peer.dials.Load()), "Dials")
	checkSettled(t, p, maxSize)
}
