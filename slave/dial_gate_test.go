package slave

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/AmanTrance/FastRpc/conn"
)

// fakeDials is a connect function for a dialGate under test: each dial
// waits for release (when set), then returns a connection over a pipe or
// err.
type fakeDials struct {
	n       atomic.Int64
	mu      sync.Mutex
	err     error
	release chan struct{}
	peers   []net.Conn
}

func (f *fakeDials) connect(ctx context.Context) (*conn.Conn, error) {
	f.n.Add(1)
	f.mu.Lock()
	err, release := f.err, f.release
	f.mu.Unlock()
	if release != nil {
		select {
		case <-release:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if err != nil {
		return nil, err
	}
	a, b := net.Pipe()
	f.mu.Lock()
	f.peers = append(f.peers, b)
	f.mu.Unlock()
	return conn.New(a, conn.Config{}), nil
}

func (f *fakeDials) set(err error, release chan struct{}) {
	f.mu.Lock()
	f.err, f.release = err, release
	f.mu.Unlock()
}

func (f *fakeDials) closePeers() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, p := range f.peers {
		_ = p.Close()
	}
}

func newTestGate(t *testing.T, failFast bool) (*dialGate, *fakeDials) {
	t.Helper()
	leaks := goleak.IgnoreCurrent()
	f := &fakeDials{}
	g := &dialGate{}
	g.init("m:1", failFast, 4, f.connect)
	t.Cleanup(func() {
		g.close()
		f.closePeers()
		goleak.VerifyNone(t, leaks)
	})
	return g, f
}

func refusedErr() error {
	return fmt.Errorf("fastrpc: connecting to the master: %w", &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED})
}

// The backoff window's bounds and the fail-fast behaviour, as before
// waiting for the probe existed.
func TestDialGateFailFastWindows(t *testing.T) {
	g, f := newTestGate(t, true)
	ctx := context.Background()

	c, err := g.dial(ctx)
	require.NoError(t, err)
	_ = c.Close()
	assert.False(t, g.failing)

	// A real failure opens a window of 25-50ms.
	f.set(refusedErr(), nil)
	before := time.Now()
	_, err = g.dial(ctx)
	require.ErrorIs(t, err, syscall.ECONNREFUSED, "the dial's own error")
	require.ErrorIs(t, err, ErrUnavailable)
	assert.Equal(t, dialBackoffMin, g.backoff)
	assert.True(t, !g.retryAt.Before(before.Add(dialBackoffMin/2)) && !g.retryAt.After(time.Now().Add(dialBackoffMin)), "retryAt %v", g.retryAt.Sub(before))

	// Within it, dials fail at once without dialling, with an error that
	// shows the last one but does not wrap it.
	n := f.n.Load()
	_, err = g.dial(ctx)
	require.ErrorIs(t, err, ErrDialBackoff)
	require.ErrorIs(t, err, ErrUnavailable)
	assert.NotErrorIs(t, err, syscall.ECONNREFUSED)
	assert.ErrorContains(t, err, "the next dial to m:1 is in")
	assert.ErrorContains(t, err, "connection refused")
	assert.Equal(t, n, f.n.Load(), "no dial within the window")

	// A failed probe doubles the window, up to the maximum.
	for range 10 {
		g.mu.Lock()
		g.retryAt = time.Time{}
		g.mu.Unlock()
		_, err = g.dial(ctx)
		require.ErrorIs(t, err, syscall.ECONNREFUSED)
	}
	assert.Equal(t, dialBackoffMax, g.backoff)
	assert.False(t, g.retryAt.After(time.Now().Add(dialBackoffMax)))

	// While a probe is out, the others fail at once.
	release := make(chan struct{})
	f.set(nil, release)
	g.mu.Lock()
	g.retryAt = time.Time{}
	g.mu.Unlock()
	probe := make(chan error, 1)
	go func() {
		c, err := g.dial(ctx)
		if err == nil {
			_ = c.Close()
		}
		probe <- err
	}()
	require.Eventually(t, func() bool { g.mu.Lock(); defer g.mu.Unlock(); return g.probe != nil }, time.Second, time.Millisecond)
	_, err = g.dial(ctx)
	require.ErrorIs(t, err, ErrDialBackoff)
	assert.ErrorContains(t, err, "already retrying")

	// Its success ends it all.
	close(release)
	require.NoError(t, <-probe)
	assert.False(t, g.failing)
	assert.Zero(t, g.backoff)
}

// A dial timeout of the slave's own is the master's fault, but the backoff
// error must not look like the caller's deadline.
func TestDialGateBackoffIsNotTheCallersDeadline(t *testing.T) {
	g, f := newTestGate(t, true)
	// What conn.Dial returns for its own ConnectTimeout: it shows the
	// net error (which matches context.DeadlineExceeded) without wrapping.
	f.set(fmt.Errorf("fastrpc: connecting to the master: %w after 10s (dial tcp: i/o timeout)", conn.ErrDialTimeout), nil)
	_, err := g.dial(context.Background())
	require.ErrorIs(t, err, conn.ErrDialTimeout)
	require.ErrorIs(t, err, ErrUnavailable)
	assert.NotErrorIs(t, err, context.DeadlineExceeded)

	// Even a Dialer whose error wraps context.DeadlineExceeded: the
	// backoff error shows it as text only.
	g.mu.Lock()
	g.lastCause = fmt.Errorf("dial: %w", context.DeadlineExceeded)
	g.mu.Unlock()
	_, err = g.dial(context.Background())
	require.ErrorIs(t, err, ErrDialBackoff)
	assert.NotErrorIs(t, err, context.DeadlineExceeded)
	assert.ErrorContains(t, err, "context deadline exceeded")
}

// Without FailFast, calls that find the slave backing off wait for the
// next probe: one dial answers them all.
func TestDialGateWaitersShareTheProbe(t *testing.T) {
	for _, outcome := range []string{"fails", "succeeds"} {
		t.Run(outcome, func(t *testing.T) {
			g, f := newTestGate(t, false)
			f.set(refusedErr(), nil)
			_, err := g.dial(context.Background())
			require.ErrorIs(t, err, syscall.ECONNREFUSED)
			require.True(t, g.failing)

			if outcome == "succeeds" {
				f.set(nil, nil)
			}
			const waiters = 4
			n := f.n.Load()
			errs := make(chan error, waiters)
			for range waiters {
				go func() {
					c, err := g.dial(context.Background())
					if err == nil {
						_ = c.Close()
					}
					errs <- err
				}()
			}
			for range waiters {
				err := <-errs
				if outcome == "fails" {
					require.ErrorIs(t, err, syscall.ECONNREFUSED, "the probe's error")
					require.ErrorIs(t, err, ErrUnavailable)
					assert.NotErrorIs(t, err, ErrDialBackoff)
				} else {
					require.NoError(t, err)
				}
			}
			if outcome == "fails" {
				assert.Equal(t, n+1, f.n.Load(), "one probe for every waiter")
				assert.Equal(t, 2*dialBackoffMin, g.backoff)
			} else {
				// The probe's connection went to one waiter; the master is
				// up, so the others dialled their own.
				assert.Equal(t, n+waiters, f.n.Load())
				assert.False(t, g.failing)
			}
		})
	}
}

// Callers that were queued for a pool slot while a dial failed get its
// error at once rather than each waiting a window; a caller that comes
// later waits for the next probe.
func TestDialGateFailureAnswersQueuedCallers(t *testing.T) {
	g, f := newTestGate(t, false)
	g.watchQueue(func() int { return 2 })
	f.set(refusedErr(), nil)
	_, err := g.dial(context.Background())
	require.Error(t, err)
	g.mu.Lock()
	g.retryAt = time.Now().Add(time.Hour) // however slow this test runs
	g.mu.Unlock()
	n := f.n.Load()
	for range 2 {
		g.mu.Lock()
		g.failedAt = time.Now() // however slow this test runs
		g.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_, err = g.dial(ctx)
		cancel()
		require.ErrorIs(t, err, syscall.ECONNREFUSED)
	}
	assert.Equal(t, n, f.n.Load(), "no dial for the queued callers")
	g.mu.Lock()
	g.retryAt = time.Now().Add(20 * time.Millisecond)
	g.mu.Unlock()
	_, err = g.dial(context.Background())
	require.ErrorIs(t, err, syscall.ECONNREFUSED)
	assert.Equal(t, n+1, f.n.Load(), "the next caller waited for the probe")
}

// A caller whose context ends during a dial stops waiting; the dial goes
// on, counts as the success it is, and serves the next caller.
func TestDialGateDetachedFromCaller(t *testing.T) {
	g, f := newTestGate(t, false)
	release := make(chan struct{})
	f.set(nil, release)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	_, err := g.dial(ctx)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.ErrorIs(t, err, ErrUnavailable, "nothing was sent")
	assert.NotErrorIs(t, err, ErrConnection)
	assert.ErrorContains(t, err, "still connecting to the master at m:1")
	assert.Equal(t, int64(1), f.n.Load())

	// The next caller joins the same dial.
	got := make(chan *conn.Conn, 1)
	go func() {
		c, err := g.dial(context.Background())
		assert.NoError(t, err)
		got <- c
	}()
	require.Eventually(t, func() bool { g.mu.Lock(); defer g.mu.Unlock(); return g.inflight[0].waiters == 1 }, time.Second, time.Millisecond)
	close(release)
	c := <-got
	require.NotNil(t, c)
	_ = c.Close()
	assert.Equal(t, int64(1), f.n.Load(), "one dial served both")
	assert.False(t, g.failing)

	// A dial that completes with nobody waiting is kept for the next one.
	release = make(chan struct{})
	f.set(nil, release)
	ctx, cancel = context.WithCancel(context.Background())
	cancel()
	go func() { time.Sleep(5 * time.Millisecond); close(release) }()
	ctx2, cancel2 := context.WithTimeout(context.Background(), time.Millisecond)
	defer cancel2()
	_, err = g.dial(ctx2)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.Eventually(t, func() bool { g.mu.Lock(); defer g.mu.Unlock(); return len(g.spare) == 1 }, time.Second, time.Millisecond)
	c, err = g.dial(ctx) // even a caller whose context has ended gets it
	require.NoError(t, err)
	_ = c.Close()
	assert.Equal(t, int64(2), f.n.Load())
}

// Close cancels dials in flight, wakes their waiters and leaks nothing.
func TestDialGateClose(t *testing.T) {
	g, f := newTestGate(t, false)
	f.set(nil, make(chan struct{})) // never released
	errs := make(chan error, 2)
	for range 2 {
		go func() {
			_, err := g.dial(context.Background())
			errs <- err
		}()
	}
	require.Eventually(t, func() bool { return f.n.Load() == 2 }, time.Second, time.Millisecond)
	g.close()
	for range 2 {
		assert.ErrorIs(t, <-errs, ErrClosed)
	}
	_, err := g.dial(context.Background())
	assert.ErrorIs(t, err, ErrClosed)
	assert.False(t, g.failing, "a dial cancelled by Close says nothing about the master")
}

func TestDialErrorsMatchUnavailable(t *testing.T) {
	for _, err := range []error{
		refusedErr(),
		fmt.Errorf("fastrpc: handshake with m:1: %w", conn.ErrMasterOverloaded),
		fmt.Errorf("fastrpc: handshake with m:1: %w", conn.ErrMasterShuttingDown),
		errors.New("fastrpc: something else"),
	} {
		got := dialError(err)
		assert.ErrorIs(t, got, ErrUnavailable, "%v", got)
		assert.ErrorIs(t, got, err)
		assert.ErrorContains(t, got, "the request was not sent")
	}
}
