package pooltest

import (
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/AmanTrance/FastRpc/conn"
)

// prompt bounds how long an operation that should end "promptly" may take.
// It only keeps a broken pool from hanging the suite; it is not a speed
// assertion.
const prompt = 3 * time.Second

var errDial = errors.New("dial failed on purpose")

// fakeDialer dials net.Pipe connections, keeps the other ends, and counts
// dials and live connections. A connection stops being live when it is
// closed, or when the test hands it to Destroy.
type fakeDialer struct {
	limit int // the pool's MaxSize: more live connections is a violation

	// hook, when set, runs at the start of dial n (1-based) and may block
	// or fail it.
	hook func(ctx context.Context, n int) error
	// ignoreCtx makes a dial succeed even if ctx ended meanwhile.
	ignoreCtx bool

	mu       sync.Mutex
	dials    int
	live     int
	maxLive  int
	tracked  map[*conn.Conn]*trackedConn
	dialedCh chan int // receives n when dial n starts, if not full
}

type trackedConn struct {
	net.Conn          // the pool's end
	peer     net.Conn // the end the test keeps
	d        *fakeDialer
	gone     atomic.Bool
}

func (tc *trackedConn) Close() error {
	tc.d.markGone(tc)
	return tc.Conn.Close()
}

func newFakeDialer(t *testing.T, limit int) *fakeDialer {
	d := &fakeDialer{
		limit:    limit,
		tracked:  map[*conn.Conn]*trackedConn{},
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

func (d *fakeDialer) dial(ctx context.Context) (*conn.Conn, error) {
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
	tc := &trackedConn{Conn: a, peer: b, d: d}
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
func (d *fakeDialer) destroy(p conn.Pool, c *conn.Conn) {
	d.markGone(d.track(c))
	p.Destroy(c)
}

func (d *fakeDialer) track(c *conn.Conn) *trackedConn {
	d.mu.Lock()
	defer d.mu.Unlock()
	tc := d.tracked[c]
	if tc == nil {
		panic("connection not dialled by this fakeDialer")
	}
	return tc
}

func (d *fakeDialer) counts() (dials, maxLive int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.dials, d.maxLive
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
func (d *fakeDialer) peerSeesEOF(t *testing.T, c *conn.Conn) bool {
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
	held map[*conn.Conn]bool
}

func (e *exclusive) take(t *testing.T, c *conn.Conn) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.held == nil {
		e.held = map[*conn.Conn]bool{}
	}
	assert.False(t, e.held[c], "connection %p handed to two callers at once", c)
	e.held[c] = true
}

func (e *exclusive) give(c *conn.Conn) {
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

// acquireAsync runs Acquire in a goroutine.
type acquired struct {
	c   *conn.Conn
	err error
}

func acquireAsync(ctx context.Context, p conn.Pool) <-chan acquired {
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

func waitFor(t *testing.T, p conn.Pool, what string, cond func(conn.PoolStats) bool) {
	t.Helper()
	require.Eventually(t, func() bool { return cond(p.Stats()) }, prompt, 100*time.Microsecond, what)
}

// checkSettled checks a pool with nothing in use and nobody waiting. A
// pool may still be finishing a dial a caller gave up on (puddle does), so
// it waits for that first.
func checkSettled(t *testing.T, p conn.Pool, maxSize int) {
	t.Helper()
	settled := func(s conn.PoolStats) bool {
		return s.InUse == 0 && s.Waiting == 0 && s.Open == s.Idle && s.Open <= maxSize
	}
	if !assert.Eventually(t, func() bool { return settled(p.Stats()) }, prompt, time.Millisecond) {
		s := p.Stats()
		assert.Equal(t, 0, s.InUse, "in use: %+v", s)
		assert.Equal(t, 0, s.Waiting, "waiting: %+v", s)
		assert.Equal(t, s.Idle, s.Open, "open must be idle once everything is back: %+v", s)
		assert.LessOrEqual(t, s.Open, maxSize, "%+v", s)
	}
}

// checkSlots checks that exactly maxSize connections can be held at once:
// no slot leaked, and none is counted twice.
func checkSlots(t *testing.T, p conn.Pool, maxSize int) {
	t.Helper()
	held := make([]*conn.Conn, 0, maxSize)
	for i := range maxSize {
		c, err := p.Acquire(ctxFor(t, prompt))
		require.NoError(t, err, "slot %d of %d leaked", i+1, maxSize)
		held = append(held, c)
	}
	_, err := p.Acquire(ctxFor(t, 20*time.Millisecond))
	require.ErrorIs(t, err, context.DeadlineExceeded, "more than %d connections handed out", maxSize)
	for _, c := range held {
		p.Release(c)
	}
}

// settle is how long waitQueued lets a counted waiter reach the pool's
// queue. It orders arrivals; it is not a speed assertion.
const settle = 2 * time.Millisecond

// waitQueued waits until n callers are waiting. A pool may count a caller
// a moment before it joins its queue (Puddle counts it just before
// entering puddle's), so the caller then gets a moment to settle before a
// test relies on the order of arrival.
func waitQueued(t *testing.T, p conn.Pool, what string, n int) {
	t.Helper()
	waitFor(t, p, what, func(s conn.PoolStats) bool { return s.Waiting == n })
	time.Sleep(settle)
}
