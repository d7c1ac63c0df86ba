package slave

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/AmanTrance/FastRpc/conn"
	"github.com/AmanTrance/FastRpc/frame"
	"github.com/AmanTrance/FastRpc/internal/errtext"
	"github.com/AmanTrance/FastRpc/poolimpl"
)

// ErrDialBackoff is matched (errors.Is) by the error of a dial the slave
// did not attempt because it is backing off after failed dials: with
// Config.FailFast, every call that needs a new connection within a backoff
// window; without it, only a call whose retry dial did not answer within a
// window (a master that does not answer, not one that refuses). It also
// matches ErrUnavailable, and shows the last dial's error as text without
// wrapping it. A pool counts such a dial in PoolStats.Dials and DialErrors
// like any other; count real connection attempts with Config.Dialer.
var ErrDialBackoff = errors.New("fastrpc: not dialling the master: backing off after a failed dial")

// Dial backoff bounds: the first window after a failure, and the longest.
const (
	dialBackoffMin = 50 * time.Millisecond
	dialBackoffMax = 2 * time.Second
)

// queuedAnswerFor is how long after a failed dial the callers that were
// queued for a pool slot meanwhile may still take its error as theirs
// (they get slots one after the other as the failures free them, within
// microseconds each). It is no longer than the shortest time to the next
// probe, so a caller that comes later waits for that probe instead.
const queuedAnswerFor = dialBackoffMin / 2

// dialGate is the slave's DialFunc, whatever the pool. It does two things.
//
// Dials are detached from the callers that start them. Each real dial runs
// in its own goroutine, bounded by the slave's DialTimeout and
// HandshakeTimeout and by Close, never by a caller's deadline: a caller
// whose context ends stops waiting, and the dial goes on. The next caller
// that needs a dial joins a dial nobody waits for, and a connection that
// completes with nobody waiting is kept as a spare for the next caller
// (and so for the pool). Every party to a dial holds a pool slot, so at
// most PoolSize dials are in flight and spares are at most PoolSize.
//
// It bounds dialling a master that is down. While dials succeed it only
// watches. After a failure it backs off for a window (50ms, doubled by
// each failed probe up to 2s, with jitter so slaves restarted together do
// not retry together); after the window, one dial (the probe) tries again,
// and every call that needs a connection waits for it and gets its
// connection or its error (with FailFast they fail at once instead). The
// callers that were queued for a pool slot when a dial failed get its
// error too, at once, as the failures free slots for them: otherwise each
// PoolSize of them would wait a window of its own. Any successful dial
// ends the failing state. Only the slave's Close keeps a failure from
// counting: a caller's deadline never ends a dial.
type dialGate struct {
	addr     string
	failFast bool
	maxSpare int
	connect  func(ctx context.Context) (*conn.Conn, error) // one real dial; errors as conn.Dial gives them
	queued   func() int                                    // callers waiting for a pool slot; set once the pool exists
	stopCtx  context.Context                               // ends at close: cancels dials in flight
	stop     context.CancelFunc
	wg       sync.WaitGroup // dial goroutines

	mu        sync.Mutex
	closed    bool
	failing   bool
	backoff   time.Duration
	retryAt   time.Time     // when the next probe may start
	failedAt  time.Time     // the last counted failure
	answer    int           // queued callers still to get that failure
	lastErr   error         // its error, as its callers got it
	lastCause error         // its error, as conn gave it
	recovered chan struct{} // closed when the failing state ends
	probe     *dialAttempt  // the probe in flight
	inflight  []*dialAttempt
	spare     []*conn.Conn
}

// dialAttempt is one real dial. Its result is set, and done closed, under
// the gate's lock.
type dialAttempt struct {
	done    chan struct{}
	probe   bool
	waiters int // callers waiting for it (under the gate's lock)
	c       *conn.Conn
	err     error
	taken   bool // c went to a caller or the spares
}

// init readies g for dialling with connect.
func (g *dialGate) init(addr string, failFast bool, maxSpare int, connect func(context.Context) (*conn.Conn, error)) {
	g.addr, g.failFast, g.maxSpare, g.connect = addr, failFast, maxSpare, connect
	g.stopCtx, g.stop = context.WithCancel(context.Background())
}

// watchQueue tells g how many callers wait for a pool slot.
func (g *dialGate) watchQueue(queued func() int) {
	g.mu.Lock()
	g.queued = queued
	g.mu.Unlock()
}

// dial returns a new connection, or an error matching ErrUnavailable (and
// ctx's error when ctx ended first), or ErrClosed.
func (g *dialGate) dial(ctx context.Context) (*conn.Conn, error) {
	start := time.Now()
	var giveUp time.Time // set once this caller waits on a failing master
	for {
		g.mu.Lock()
		if g.closed {
			g.mu.Unlock()
			return nil, ErrClosed
		}
		if n := len(g.spare); n > 0 {
			c := g.spare[n-1]
			g.spare[n-1] = nil
			g.spare = g.spare[:n-1]
			g.mu.Unlock()
			if c.Stale() {
				_ = c.Close()
				continue
			}
			return c, nil
		}
		if ctx.Err() != nil {
			err := g.ctxErrorLocked(ctx)
			g.mu.Unlock()
			return nil, err
		}
		now := time.Now()
		var a *dialAttempt
		switch {
		case !g.failing:
			if a = g.orphanLocked(); a == nil {
				a = g.startLocked(ctx, false)
			}
		case !g.failFast && (g.failedAt.After(start) || g.answer > 0 && now.Sub(g.failedAt) < queuedAnswerFor):
			// A dial failed while this caller waited for it, or while it
			// was queued for a pool slot.
			if !g.failedAt.After(start) {
				g.answer--
			}
			err := g.lastErr
			g.mu.Unlock()
			return nil, err
		case g.probe != nil && g.failFast:
			err := g.backoffErrorLocked(fmt.Sprintf("a dial to %s is already retrying", g.addr))
			g.mu.Unlock()
			return nil, err
		case g.probe != nil:
			a = g.probe
		case !now.Before(g.retryAt):
			a = g.startLocked(ctx, true)
		case g.failFast:
			err := g.backoffErrorLocked(fmt.Sprintf("the next dial to %s is in %v", g.addr, g.retryAt.Sub(now).Round(time.Millisecond)))
			g.mu.Unlock()
			return nil, err
		default:
			// Wait for the window to end, then probe or join the probe.
			if giveUp.IsZero() {
				giveUp = g.retryAt.Add(g.backoff)
			}
			wait, recovered := g.retryAt.Sub(now), g.recovered
			g.mu.Unlock()
			if err := g.sleep(ctx, wait, recovered); err != nil {
				return nil, err
			}
			continue
		}
		if g.failing && giveUp.IsZero() {
			giveUp = now.Add(g.backoff)
		}
		a.waiters++
		g.mu.Unlock()
		c, again, err := g.await(ctx, a, giveUp)
		if !again {
			return c, err
		}
	}
}

// orphanLocked returns a dial in flight that nobody waits for, or nil.
func (g *dialGate) orphanLocked() *dialAttempt {
	for _, a := range g.inflight {
		if a.waiters == 0 {
			return a
		}
	}
	return nil
}

// startLocked starts a real dial, detached from ctx's end but not from its
// values, in its own goroutine.
func (g *dialGate) startLocked(ctx context.Context, probe bool) *dialAttempt {
	a := &dialAttempt{done: make(chan struct{}), probe: probe}
	if probe {
		g.probe = a
	} else {
		g.inflight = append(g.inflight, a)
	}
	dctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	stop := context.AfterFunc(g.stopCtx, cancel)
	g.wg.Add(1)
	go func() {
		defer g.wg.Done()
		c, err := g.connect(dctx)
		stop()
		cancel()
		g.finish(a, c, err)
	}()
	return a
}

// finish records a's outcome. A connection nobody waits for becomes a
// spare.
func (g *dialGate) finish(a *dialAttempt, c *conn.Conn, err error) {
	queued := 0
	if err != nil {
		g.mu.Lock()
		q := g.queued
		g.mu.Unlock()
		if q != nil {
			queued = q() // outside the lock: the pool has its own
		}
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if a.probe {
		g.probe = nil
	} else if i := slices.Index(g.inflight, a); i >= 0 {
		g.inflight = slices.Delete(g.inflight, i, i+1)
	}
	switch {
	case g.closed:
		// Cancelled by Close, or too late: says nothing about the master.
		if c != nil {
			_ = c.Close()
		}
		c, err = nil, ErrClosed
	case err != nil:
		cause := err
		err = dialError(err)
		g.recordFailureLocked(a.probe, err, cause, queued)
	default:
		g.recordSuccessLocked()
	}
	a.c, a.err = c, err
	if c != nil && a.waiters == 0 {
		a.taken = true
		if len(g.spare) < g.maxSpare {
			g.spare = append(g.spare, c)
		} else {
			_ = c.Close()
		}
	}
	close(a.done)
}

func (g *dialGate) recordSuccessLocked() {
	if g.failing {
		g.failing = false
		close(g.recovered)
		g.recovered = nil
	}
	g.backoff, g.lastErr, g.lastCause, g.answer = 0, nil, nil, 0
}

// recordFailureLocked opens or widens the backoff window. A failed probe
// doubles it; the first failure opens the shortest; a dial that started
// before the failures began leaves the window as it is.
func (g *dialGate) recordFailureLocked(probe bool, err, cause error, queued int) {
	now := time.Now()
	g.lastErr, g.lastCause, g.failedAt, g.answer = err, cause, now, queued
	switch {
	case probe && g.failing:
		g.backoff = min(2*g.backoff, dialBackoffMax)
	case !g.failing:
		g.failing = true
		g.recovered = make(chan struct{})
		g.backoff = dialBackoffMin
	default:
		return
	}
	// Equal jitter: somewhere in the second half of the window.
	g.retryAt = now.Add(g.backoff/2 + rand.N(g.backoff/2+1))
}

// await waits for a, ctx, giveUp (when set) or Close. again means a's
// connection went to another caller while the master is up: dial again.
func (g *dialGate) await(ctx context.Context, a *dialAttempt, giveUp time.Time) (c *conn.Conn, again bool, err error) {
	var expire <-chan time.Time
	if !giveUp.IsZero() {
		t := time.NewTimer(time.Until(giveUp))
		defer t.Stop()
		expire = t.C
	}
	select {
	case <-a.done:
	case <-ctx.Done():
	case <-expire:
	case <-g.stopCtx.Done():
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	a.waiters--
	finished := false
	select {
	case <-a.done:
		finished = true
	default:
	}
	switch {
	case finished && a.err == nil && !a.taken:
		// Even if ctx has just ended: the pool gets the connection.
		a.taken = true
		return a.c, false, nil
	case g.closed:
		return nil, false, ErrClosed
	case ctx.Err() != nil:
		return nil, false, g.ctxErrorLocked(ctx)
	case finished && a.err != nil:
		return nil, false, a.err
	case finished:
		return nil, true, nil
	}
	return nil, false, g.backoffErrorLocked(fmt.Sprintf("the dial retrying %s has not answered for %v",
		g.addr, time.Since(giveUp.Add(-g.backoff)).Round(time.Millisecond)))
}

// sleep waits d, or until the failing state ends, ctx ends or Close.
func (g *dialGate) sleep(ctx context.Context, d time.Duration, recovered <-chan struct{}) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-recovered:
	case <-ctx.Done():
		g.mu.Lock()
		defer g.mu.Unlock()
		return g.ctxErrorLocked(ctx)
	case <-g.stopCtx.Done():
		return ErrClosed
	}
	return nil
}

// ctxErrorLocked is the error of a caller whose context ended while it
// waited for a dial: it matches the context's error and ErrUnavailable.
// Its text is what the slave was doing; the call's error says that the
// context ended before anything was sent.
func (g *dialGate) ctxErrorLocked(ctx context.Context) error {
	if g.failing {
		return &unavailableError{err: ctx.Err(), msg: errtext.Errorf("waiting for the next dial to the master at %s, after the last one failed (%v)",
			g.addr, g.lastCause).Error()}
	}
	return &unavailableError{err: ctx.Err(), msg: errtext.Errorf("still connecting to the master at %s; the dial goes on and serves a later call",
		g.addr).Error()}
}

// backoffErrorLocked is a dial not attempted: it matches ErrDialBackoff
// and ErrUnavailable, and shows the last dial's error without wrapping it
// (it may be a timeout, which would match context.DeadlineExceeded).
func (g *dialGate) backoffErrorLocked(why string) error {
	return unavailable(errtext.Errorf("%w; the request was not sent: %s; the last one failed: %v",
		ErrDialBackoff, why, g.lastCause))
}

// close cancels dials in flight and waits for them, wakes every waiting
// caller with ErrClosed, and closes the spares.
func (g *dialGate) close() {
	g.mu.Lock()
	if g.closed {
		g.mu.Unlock()
		return
	}
	g.closed = true
	spare := g.spare
	g.spare = nil
	g.mu.Unlock()
	g.stop()
	for _, c := range spare {
		_ = c.Close()
	}
	g.wg.Wait()
}

// dialError turns conn.Dial's error into the slave's: every one
// matches ErrUnavailable (nothing was sent), a peer that does not speak
// FastRpc (or another version) also ErrProtocol. The message starts by
// saying that the request was not sent and, where conn's message does not
// already, ends with what to do.
func dialError(err error) error {
	var ve *frame.VersionError
	switch {
	case errors.Is(err, frame.ErrBadMagic) || errors.As(err, &ve):
		err = errtext.Errorf("the request was not sent: %w: %w; check that the address is a FastRpc master's and that both run the same protocol version", ErrProtocol, err)
	case errors.Is(err, ErrOverloaded):
		err = errtext.Errorf("the request was not sent: %w; retry later or raise the master's MaxConnections", err)
	case errors.Is(err, ErrShuttingDown):
		err = errtext.Errorf("the request was not sent: %w; retry later or call another master", err)
	case errors.Is(err, conn.ErrDialTimeout):
		err = errtext.Errorf("the request was not sent: %w; check the address and the network, or raise DialTimeout", err)
	case errors.Is(err, syscall.ECONNREFUSED):
		err = errtext.Errorf("the request was not sent: %w; retry when the master is up, or check the address", err)
	default:
		// conn's own message (no preface), or the Dialer's (TLS), says
		// what to do.
		err = errtext.Errorf("the request was not sent: %w", err)
	}
	return unavailable(err)
}

// unavailableError is a failure on the way to a connection: nothing was
// sent. It matches ErrUnavailable and what err matches; its message is
// msg, or err's when msg is empty.
type unavailableError struct {
	err error
	msg string
}

func unavailable(err error) error { return &unavailableError{err: err} }

func (e *unavailableError) Error() string {
	if e.msg != "" {
		return e.msg
	}
	return e.err.Error()
}
func (e *unavailableError) Unwrap() error        { return e.err }
func (e *unavailableError) Is(target error) bool { return target == ErrUnavailable }

// dial is the pool's DialFunc; see dialGate. It returns *conn.Conn
// values, which acquire gets back from the pool.
func (s *Slave) dial(ctx context.Context) (poolimpl.Conn, error) {
	c, err := s.gate.dial(ctx)
	if err != nil {
		return nil, err // not a nil *conn.Conn in a non-nil Conn
	}
	return c, nil
}

// connect makes one real dial, under the slave's own timeouts.
func (s *Slave) connect(ctx context.Context) (*conn.Conn, error) {
	return conn.Dial(ctx, s.cfg.Dialer, s.cfg.Network, s.cfg.Address, conn.DialConfig{
		Conn:             s.cfg.Conn,
		ConnectTimeout:   s.cfg.DialTimeout,
		HandshakeTimeout: s.cfg.HandshakeTimeout,
		MaxVersion:       s.cfg.MaxProtocolVersion,
	})
}

// checkAddress refuses a TCP address without a port, such as "localhost",
// in New rather than at the first call. It checks only what a TCP dial
// will get: Network "tcp", "tcp4" or "tcp6", or no Network and the default
// Dialer. A Dialer module may use another kind of address with no Network
// set (dialer.unix takes a socket path).
func checkAddress(cfg Config) error {
	switch {
	case cfg.Network == "tcp", cfg.Network == "tcp4", cfg.Network == "tcp6":
	case cfg.Network == "" && cfg.Dialer == nil:
	default:
		return nil
	}
	if _, port, err := net.SplitHostPort(cfg.Address); err != nil || port == "" {
		return fmt.Errorf("fastrpc: slave Config.Address %q is not host:port; give the master's port too, such as %q", cfg.Address, exampleAddress(cfg.Address))
	}
	return nil
}

// exampleAddress suggests addr with a port.
func exampleAddress(addr string) string {
	host := addr
	if h, _, err := net.SplitHostPort(addr); err == nil {
		host = h
	}
	return net.JoinHostPort(strings.Trim(host, "[]"), "10000")
}
