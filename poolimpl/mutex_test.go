package poolimpl_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/AmanTrance/FastRpc/conn"
	"github.com/AmanTrance/FastRpc/frame"
	"github.com/AmanTrance/FastRpc/poolimpl"
)

func newMutexPool(t *testing.T, dial conn.DialFunc, maxSize int) conn.Pool {
	t.Helper()
	p, err := poolimpl.NewMutex(poolimpl.MutexConfig{Dial: dial, MaxSize: maxSize})
	require.NoError(t, err)
	t.Cleanup(func() { _ = p.Close() })
	return p
}

func TestMutexContract(t *testing.T) {
	runPoolContract(t, newMutexPool)
}

var _ conn.Pool = (*poolimpl.Mutex)(nil)

func TestNewMutexConfig(t *testing.T) {
	_, err := poolimpl.NewMutex(poolimpl.MutexConfig{})
	assert.Error(t, err, "Dial is required")

	d := newFakeDialer(t, poolimpl.DefaultMaxSize)
	_, err = poolimpl.NewMutex(poolimpl.MutexConfig{Dial: d.dial, MaxSize: -1})
	assert.Error(t, err, "negative MaxSize")

	p, err := poolimpl.NewMutex(poolimpl.MutexConfig{Dial: d.dial})
	require.NoError(t, err)
	defer p.Close()
	dials, _ := d.counts()
	assert.Zero(t, dials, "NewMutex dials nothing")
	checkSlots(t, p, poolimpl.DefaultMaxSize)
}

// Close races with waiters, releases, destroys and dials; afterwards every
// connection is closed and the open count is back to zero.
func TestMutexCloseRace(t *testing.T) {
	for round := range 20 {
		const maxSize = 3
		d := newFakeDialer(t, maxSize)
		d.hook = func(_ context.Context, n int) error {
			if n%5 == 0 {
				return errDial
			}
			return nil
		}
		p, err := poolimpl.NewMutex(poolimpl.MutexConfig{Dial: d.dial, MaxSize: maxSize})
		require.NoError(t, err)
		var wg sync.WaitGroup
		var ex exclusive
		start := make(chan struct{})
		for g := range 16 {
			spawn(&wg, func() {
				rng := rand.New(rand.NewPCG(uint64(round), uint64(g)))
				<-start
				for {
					ctx, cancel := context.WithTimeout(context.Background(), time.Duration(rng.IntN(300))*time.Microsecond)
					c, err := p.Acquire(ctx)
					cancel()
					switch {
					case err == nil:
					case err == conn.ErrPoolClosed:
						return
					default:
						continue // timeouts and dial errors
					}
					ex.take(t, c)
					ex.give(c)
					if rng.IntN(4) == 0 {
						d.destroy(p, c)
					} else {
						p.Release(c)
					}
				}
			})
		}
		close(start)
		time.Sleep(time.Duration(rand.IntN(2000)) * time.Microsecond)
		require.NoError(t, p.Close())
		done := make(chan struct{})
		go func() { wg.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(prompt):
			t.Fatalf("round %d: callers stuck after Close: %+v", round, p.Stats())
		}
		s := p.Stats()
		require.Equal(t, 0, s.Open, "round %d: %+v", round, s)
		require.Equal(t, 0, s.Idle)
		require.Equal(t, 0, s.Waiting)
		require.LessOrEqual(t, s.Waits, s.Acquires)
		d.mu.Lock()
		for c, tc := range d.tracked {
			assert.True(t, tc.gone.Load(), "round %d: connection %p left open", round, c)
		}
		_, maxLive := d.dials, d.maxLive
		d.mu.Unlock()
		assert.LessOrEqual(t, maxLive, maxSize)
	}
}

// echoMaster is a minimal master on loopback TCP: it answers the preface
// and echoes every request's payload back as an OK response.
func echoMaster(t *testing.T) (addr string, open *atomic.Int64) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	open = new(atomic.Int64)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	spawn(&wg, func() {
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, nc)
			mu.Unlock()
			open.Add(1)
			spawn(&wg, func() {
				defer open.Add(-1)
				defer nc.Close()
				serveEcho(conn.New(nc, conn.Config{}))
			})
		}
	})
	t.Cleanup(func() {
		_ = ln.Close()
		mu.Lock()
		for _, nc := range conns {
			_ = nc.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return ln.Addr().String(), open
}

func serveEcho(c *conn.Conn) {
	if c.WritePreface(frame.HandshakeOK) != nil {
		return
	}
	if _, err := c.ReadPreface(); err != nil {
		return
	}
	buf := make([]byte, 1<<10)
	for {
		h, err := c.ReadRequestHeader()
		if err != nil || h.Length > uint64(len(buf)) {
			return
		}
		body := buf[:h.Length]
		if c.ReadFull(body) != nil {
			return
		}
		if c.WriteResponseHeader(frame.ResponseHeader{Status: frame.StatusOK, Length: h.Length}) != nil {
			return
		}
		if _, err := c.Write(body); err != nil {
			return
		}
		if c.Flush() != nil {
			return
		}
	}
}

// echoCall sends msg on c and reads the echo.
func echoCall(c *conn.Conn, msg string) (string, error) {
	if err := c.SetDeadline(time.Now().Add(prompt)); err != nil {
		return "", err
	}
	if err := c.WriteRequestHeader(frame.RequestHeader{Method: frame.MethodID("echo"), Length: uint64(len(msg))}); err != nil {
		return "", err
	}
	if _, err := c.WriteString(msg); err != nil {
		return "", err
	}
	if err := c.Flush(); err != nil {
		return "", err
	}
	h, err := c.ReadResponseHeader()
	if err != nil {
		return "", err
	}
	if h.Status != frame.StatusOK || h.Length > 1<<10 {
		return "", fmt.Errorf("bad response %+v", h)
	}
	body := make([]byte, h.Length)
	if err := c.ReadFull(body); err != nil {
		return "", err
	}
	return string(body), nil
}

// Real connections: many callers through a small pool over loopback TCP.
func TestMutexTCP(t *testing.T) {
	const maxSize, callers, calls = 4, 200, 5
	addr, serverOpen := echoMaster(t)
	var dials atomic.Int64
	dial := func(ctx context.Context) (*conn.Conn, error) {
		dials.Add(1)
		return conn.Dial(ctx, &net.Dialer{}, "tcp", addr, conn.Config{})
	}
	p, err := poolimpl.NewMutex(poolimpl.MutexConfig{Dial: dial, MaxSize: maxSize})
	require.NoError(t, err)
	defer p.Close()

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
				assert.False(t, c.Stale(), "a pooled connection to a live master")
				msg := fmt.Sprintf("caller %d call %d", g, i)
				got, err := echoCall(c, msg)
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
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		t.Fatalf("callers stuck: %+v", p.Stats())
	}

	s := p.Stats()
	assert.Equal(t, uint64(callers*calls), s.Acquires)
	assert.LessOrEqual(t, dials.Load(), int64(maxSize))
	assert.Equal(t, uint64(dials.Load()), s.Dials)
	checkSettled(t, p, maxSize)
	assert.Equal(t, int64(s.Open), serverOpen.Load(), "the master sees exactly the pool's connections")

	require.NoError(t, p.Close())
	require.Eventually(t, func() bool { return serverOpen.Load() == 0 }, prompt, time.Millisecond,
		"Close closes every connection: the master sees them all end")
}

// Mutex answers a dial that completes after Close with ErrPoolClosed and
// closes what it dialled (the contract also allows handing it over).
func TestMutexCloseDuringDial(t *testing.T) {
	d := newFakeDialer(t, 1)
	gate := make(chan struct{})
	d.hook = func(context.Context, int) error { <-gate; return nil }
	p := newMutexPool(t, d.dial, 1)
	w := acquireAsync(ctxFor(t, 10*time.Second), p)
	d.waitDial(t, 1)
	require.NoError(t, p.Close())
	close(gate)
	r := await(t, w)
	assert.ErrorIs(t, r.err, conn.ErrPoolClosed)
	assert.Nil(t, r.c)
	s := p.Stats()
	assert.Equal(t, 0, s.Open)
	assert.Equal(t, uint64(0), s.Acquires)
	assert.Equal(t, uint64(1), s.Dials)
}
