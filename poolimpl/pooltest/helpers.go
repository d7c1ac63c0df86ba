package pooltest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/AmanTrance/FastRpc/conn"
	"github.com/AmanTrance/FastRpc/poolimpl"
)

// prompt bounds how long an operation that should end "promptly" may take.
// It only keeps a broken pool from hanging the suite; it is not a speed
// assertion.
const prompt = 3 * time.Second

var (
	errDial       = errors.New("dial failed on purpose")
	errNilFactory = errors.New("pooltest.Config.New returned a nil Factory")
)

// fakeDialer dials net.Pipe connections, keeps the other ends, and counts
// dials and live connections. A connection stops being live when it is
// closed, or when the test hands it to Destroy.
type fakeDialer struct {
	t     *testing.T
	limit int // the pool's size: more live connections is a violation

	// hook, when set, runs at the start of dial n (1-based) and may block
	// or fail it.
	hook func(ctx context.Context, n int) error
	// ignoreCtx makes a dial succeed even if ctx ended meanwhile.
	ignoreCtx bool

	mu       sync.Mutex
	dials    int
	live     int
	maxLive  int
	tracked  map[poolimpl.Conn]*trackedConn
	dialedCh chan int // receives n when dial n starts, if not full
}

type trackedConn struct {
	net.Conn          // the pool's end
	peer     net.Conn // the end the test keeps
	d        *fakeDialer
	dialled  time.Time
	gone     atomic.Bool
}

func (tc *trackedConn) Close() error {
	tc.d.markGone(tc)
	return tc.Conn.Close()
}

func newFakeDialer(t *testing.T, limit int) *fakeDialer {
	d := &fakeDialer{
		t:        t,
		limit:    limit,
		tracked:  map[poolimpl.Conn]*trackedConn{},
		dialedCh: make(chan int, 1024),
	}
	t.Cleanup(func() {
		d.mu.Lock()
		defer d.mu.Unlock()
		for _, tc := range d.tracked {
			_ = tc.peer.Close()
			_ = tc.Conn.Close()
		}
	})
	return d
}

// dial is the pool's DialFunc. It returns *conn.Conn values, as the
// slave's does.
func (d *fakeDialer) dial(ctx context.Context) (poolimpl.Conn, error) {
	d.mu.Lock()
	d.dials++
	n := d.dials
	hook := d.hook
	d.mu.Unlock()
	select {
	case d.dialedCh <- n:
	default:
	}
	if hook != nil {
		if err := hook(ctx, n); err != nil {
			return nil, err
		}
	}
	if err := ctx.Err(); err != nil && !d.ignoreCtx {
		return nil, err
	}
	a, b := net.Pipe()
	tc := &trackedConn{Conn: a, peer: b, d: d, dialled: time.Now()}
	c := conn.New(tc, conn.Config{ReadBufferSize: 64, WriteBufferSize: 64})
	d.mu.Lock()
	d.tracked[c] = tc
	d.live++
	d.maxLive = max(d.maxLive, d.live)
	d.mu.Unlock()
	return c, nil
}

func (d *fakeDialer) markGone(tc *trackedConn) {
	if tc.gone.CompareAndSwap(false, true) {
		d.mu.Lock()
		d.live--
		d.mu.Unlock()
	}
}

// destroy hands c to p.Destroy, counting it as gone first: a pool may
// close it later, but its slot is free from now on.
func (d *fakeDialer) destroy(p poolimpl.Pool, c poolimpl.Conn) {
	d.markGone(d.track(c))
	p.Destroy(c)
}

// track returns what the dialer knows of c. A connection it did not dial
// fails the test: Acquire must return what the DialFunc returned.
func (d *fakeDialer) track(c poolimpl.Conn) *trackedConn {
	d.mu.Lock()
	tc := d.tracked[c]
	d.mu.Unlock()
	if tc == nil {
		d.t.Fatalf("connection %v (%T) was not dialled by the pool's DialFunc", c, c)
	}
	return tc
}

func (d *fakeDialer) counts() (dials, maxLive int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.dials, d.maxLive
}

// allGone reports whether every connection dialled is closed.
func (d *fakeDialer) allGone() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, tc := range d.tracked {
		if !tc.gone.Load() {
			return false
		}
	}
	return true
}

// waitDial waits until dial number n has started.
func (d *fakeDialer) waitDial(t *testing.T, n int) {
	t.Helper()
	timeout := time.After(prompt)
	for {
		select {
		case got := <-d.dialedCh:
			if got >= n {
				return
			}
		case <-timeout:
			t.Fatalf("dial %d never started", n)
		}
	}
}

// peerSeesEOF reports whether the pipe's other end finds c closed.
func (d *fakeDialer) peerSeesEOF(t *testing.T, c poolimpl.Conn) bool {
	t.Helper()
	peer := d.track(c).peer
	_ = peer.SetReadDeadline(time.Now().Add(prompt))
	_, err := peer.Read(make([]byte, 1))
	return errors.Is(err, io.EOF)
}

// exclusive records which connections are handed out and fails the test
// when one is handed out twice at once.
type exclusive struct {
	mu   sync.Mutex
	held map[poolimpl.Conn]bool
}

func (e *exclusive) take(t *testing.T, c poolimpl.Conn) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.held == nil {
		e.held = map[poolimpl.Conn]bool{}
	}
	if e.held[c] {
		t.Errorf("connection %p handed to two callers at once", c)
	}
	e.held[c] = true
}

func (e *exclusive) give(c poolimpl.Conn) {
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(e.held, c)
}

func ctxFor(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// spawn is sync.WaitGroup.Go, which go.mod's language version predates.
func spawn(wg *sync.WaitGroup, f func()) {
	wg.Add(1)
	go func() {
		defer wg.Done()
		f()
	}()
}

// acquired is the result of an Acquire run by acquireAsync.
type acquired struct {
	c   poolimpl.Conn
	err error
}

// acquireAsync runs Acquire in a goroutine.
func acquireAsync(ctx context.Context, p poolimpl.Pool) <-chan acquired {
	ch := make(chan acquired, 1)
	go func() {
		c, err := p.Acquire(ctx)
		ch <- acquired{c, err}
	}()
	return ch
}

func await(t *testing.T, ch <-chan acquired) acquired {
	t.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(prompt):
		t.Fatal("Acquire did not return")
		return acquired{}
	}
}

// acquire takes a connection, failing the test if it cannot.
func acquire(t *testing.T, p poolimpl.Pool) poolimpl.Conn {
	t.Helper()
	c, err := p.Acquire(ctxFor(t, prompt))
	requireNoError(t, err, "Acquire")
	return c
}

// acquire2 takes two connections.
func acquire2(t *testing.T, p poolimpl.Pool) (poolimpl.Conn, poolimpl.Conn) {
	t.Helper()
	a, b := acquire(t, p), acquire(t, p)
	require(t, a != b, "the same connection was handed out twice")
	return a, b
}

// waitAll waits for wg, failing with the pool's stats after limit.
func waitAll(t *testing.T, wg *sync.WaitGroup, p poolimpl.Pool, limit time.Duration) {
	t.Helper()
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(limit):
		t.Fatalf("callers stuck: %+v", p.Stats())
	}
}

// eventually polls cond every tick until it holds, for at most prompt,
// and reports whether it did.
func eventually(cond func() bool, tick time.Duration) bool {
	deadline := time.Now().Add(prompt)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(tick)
	}
}

// waitFor waits until the pool's stats satisfy cond, failing the test
// with what and the stats if they do not promptly.
func waitFor(t *testing.T, p poolimpl.Pool, what string, cond func(poolimpl.Stats) bool) {
	t.Helper()
	if !eventually(func() bool { return cond(p.Stats()) }, 100*time.Microsecond) {
		t.Fatalf("never happened: %s; stats %+v", what, p.Stats())
	}
}

// checkSettled checks a pool with nothing in use and nobody waiting. A
// pool may still be finishing a dial a caller gave up on (puddle does), so
// it waits for that first.
func checkSettled(t *testing.T, p poolimpl.Pool, size int) {
	t.Helper()
	settled := func(s poolimpl.Stats) bool {
		return s.InUse == 0 && s.Waiting == 0 && s.Open == s.Idle && s.Open <= size
	}
	if !eventually(func() bool { return settled(p.Stats()) }, time.Millisecond) {
		s := p.Stats()
		expectEqual(t, s.InUse, 0, "in use: %+v", s)
		expectEqual(t, s.Waiting, 0, "waiting: %+v", s)
		expectEqual(t, s.Open, s.Idle, "open must be idle once everything is back: %+v", s)
		expect(t, s.Open <= size, "more than %d open: %+v", size, s)
	}
}

// checkSlots checks that exactly size connections can be held at once:
// no slot leaked, and none is counted twice.
func checkSlots(t *testing.T, p poolimpl.Pool, size int) {
	t.Helper()
	held := make([]poolimpl.Conn, 0, size)
	for i := range size {
		c, err := p.Acquire(ctxFor(t, prompt))
		requireNoError(t, err, "slot %d of %d leaked", i+1, size)
		held = append(held, c)
	}
	_, err := p.Acquire(ctxFor(t, 20*time.Millisecond))
	requireErrorIs(t, err, context.DeadlineExceeded, "more than %d connections handed out", size)
	for _, c := range held {
		p.Release(c)
	}
}

// settle is how long waitQueued lets a counted waiter reach the pool's
// queue. It orders arrivals; it is not a speed assertion.
const settle = 2 * time.Millisecond

// waitQueued waits until n callers are waiting. A pool may count a caller
// a moment before it joins its queue (puddle's counts it just before
// entering puddle's), so the caller then gets a moment to settle before a
// test relies on the order of arrival.
func waitQueued(t *testing.T, p poolimpl.Pool, what string, n int) {
	t.Helper()
	waitFor(t, p, what, func(s poolimpl.Stats) bool { return s.Waiting == n })
	time.Sleep(settle)
}

// The assertions below are the suite's own, so that using it takes the
// standard testing package only. expect* report and go on; require*
// stop the test. format describes what is checked.

func expect(t testing.TB, ok bool, format string, args ...any) bool {
	t.Helper()
	if !ok {
		t.Errorf(format, args...)
	}
	return ok
}

func require(t testing.TB, ok bool, format string, args ...any) {
	t.Helper()
	if !ok {
		t.Fatalf(format, args...)
	}
}

func expectEqual[T comparable](t testing.TB, got, want T, format string, args ...any) bool {
	t.Helper()
	if got != want {
		t.Errorf("%s: got %v, want %v", sprintf(format, args), got, want)
		return false
	}
	return true
}

func requireEqual[T comparable](t testing.TB, got, want T, format string, args ...any) {
	t.Helper()
	if got != want {
		t.Fatalf("%s: got %v, want %v", sprintf(format, args), got, want)
	}
}

func expectNoError(t testing.TB, err error, format string, args ...any) bool {
	t.Helper()
	if err != nil {
		t.Errorf("%s: unexpected error: %v", sprintf(format, args), err)
		return false
	}
	return true
}

func requireNoError(t testing.TB, err error, format string, args ...any) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: unexpected error: %v", sprintf(format, args), err)
	}
}

func expectErrorIs(t testing.TB, err, target error, format string, args ...any) bool {
	t.Helper()
	if !errors.Is(err, target) {
		t.Errorf("%s: got error %v, want one matching %v", sprintf(format, args), err, target)
		return false
	}
	return true
}

func requireErrorIs(t testing.TB, err, target error, format string, args ...any) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("%s: got error %v, want one matching %v", sprintf(format, args), err, target)
	}
}

func sprintf(format string, args []any) string { return fmt.Sprintf(format, args...) }
