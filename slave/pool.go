package slave

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/AmanTrance/FastRpc/conn"
	"github.com/AmanTrance/FastRpc/module"
	"github.com/AmanTrance/FastRpc/poolimpl"
)

// PoolModule is what a connection pool module provides. Pool modules live
// in the "pool" namespace of package module: poolimpl registers
// "pool.mutex" (the default) and "pool.puddle", and a program may
// register its own.
type PoolModule interface {
	// NewPool builds a pool of at most size connections that dials with
	// dial.
	NewPool(dial conn.DialFunc, size int) (conn.Pool, error)
}

// PoolByName returns the factory of the pool module named name ("mutex",
// "puddle", or one registered by the program) with its default options;
// "" means poolimpl.DefaultModule. An unknown name is an error matching
// module.ErrNotFound that lists the known ones.
//
//	pool, err := slave.PoolByName(ctx, "puddle")
//	...
//	s, err := slave.New(slave.Config{Address: addr, Pool: pool})
func PoolByName(ctx context.Context, name string) (PoolFactory, error) {
	if name == "" {
		name = poolimpl.DefaultModule
	}
	raw, err := json.Marshal(map[string]string{"module": name})
	if err != nil {
		return nil, err
	}
	return PoolFromConfig(ctx, raw)
}

// PoolFromConfig returns the factory of the pool module a JSON object
// describes: "module" names it (poolimpl.DefaultModule when absent) and the
// other fields are its options, decoded strictly:
//
//	{"module": "puddle", "min_idle": 1, "idle_timeout": "90s"}
//
// Empty input or null means the default pool.
func PoolFromConfig(ctx context.Context, raw json.RawMessage) (PoolFactory, error) {
	if t := bytes.TrimSpace(raw); len(t) == 0 || bytes.Equal(t, []byte("null")) {
		raw = json.RawMessage(`{}`)
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil {
		return nil, fmt.Errorf("fastrpc: pool config: %w", err)
	}
	if _, ok := fields["module"]; !ok {
		if fields == nil {
			fields = map[string]json.RawMessage{}
		}
		fields["module"] = json.RawMessage(`"` + poolimpl.DefaultModule + `"`)
		var err error
		if raw, err = json.Marshal(fields); err != nil {
			return nil, err
		}
	}
	m, err := module.LoadAs[PoolModule](ctx, "pool", raw)
	if err != nil {
		return nil, fmt.Errorf("fastrpc: pool config: %w", err)
	}
	return m.NewPool, nil
}

// ErrDialBackoff is matched (errors.Is) by the error of a dial the slave
// did not attempt: a recent dial to the master failed, and the slave waits
// before trying again. The error also wraps that last dial error. A pool
// counts such a dial in PoolStats.Dials and DialErrors like any other;
// count real connection attempts with Config.Dialer.
var ErrDialBackoff = errors.New("fastrpc: not dialling the master: backing off after a failed dial")

// Dial backoff bounds: the first window after a failure, and the longest.
const (
	dialBackoffMin = 50 * time.Millisecond
	dialBackoffMax = 2 * time.Second
)

// dialGate bounds dialling a master that is down, whatever the pool. While
// dials succeed it only watches. After a failure, every dial within a
// backoff window fails at once with ErrDialBackoff; after the window, one
// dial at a time (the probe) tries again while the others keep failing
// fast. A failed probe doubles the window (50ms up to 2s, with jitter, so
// slaves restarted together do not retry together); any successful dial
// ends the failing state.
type dialGate struct {
	mu      sync.Mutex
	failing bool
	probing bool
	backoff time.Duration
	retryAt time.Time
	lastErr error
}

// enter reports whether a dial may go ahead, and whether it is the probe.
func (g *dialGate) enter(addr string) (probe bool, err error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.failing {
		return false, nil
	}
	if g.probing {
		return false, fmt.Errorf("%w: a dial to %s is already retrying; last error: %w", ErrDialBackoff, addr, g.lastErr)
	}
	if wait := time.Until(g.retryAt); wait > 0 {
		return false, fmt.Errorf("%w: next dial to %s in %v; last error: %w", ErrDialBackoff, addr, wait.Round(time.Millisecond), g.lastErr)
	}
	g.probing = true
	return true, nil
}

// done records a dial's outcome. counts is false for a failure that says
// nothing about the master (the caller's context ended).
func (g *dialGate) done(probe bool, err error, counts bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if probe {
		g.probing = false
	}
	switch {
	case err == nil:
		g.failing, g.backoff, g.lastErr = false, 0, nil
	case !counts:
	case probe || !g.failing:
		if probe {
			g.backoff = min(2*g.backoff, dialBackoffMax)
		} else {
			g.backoff = dialBackoffMin
		}
		g.failing = true
		g.lastErr = err
		// Equal jitter: somewhere in the second half of the window.
		g.retryAt = time.Now().Add(g.backoff/2 + rand.N(g.backoff/2+1))
	default:
		// A dial that started before the failures began: the window
		// stands.
	}
}
