package poolimpl

import (
	"fmt"
	"time"

	"github.com/AmanTrance/FastRpc/conn"
	"github.com/AmanTrance/FastRpc/module"
)

// DefaultMaxSize is the pool size used when a config's MaxSize is 0.
const DefaultMaxSize = 4

// DefaultCheckPeriod is how often a pool's background maintenance runs
// when Options.CheckPeriod is 0 (or half the shortest of IdleTimeout and
// MaxLifetime, if that is shorter).
const DefaultCheckPeriod = time.Second

// Options are the settings both pools share. The zero value turns every
// one of them off: the pool then dials only on demand, keeps connections
// until they fail or go stale, and runs no goroutine of its own.
//
// Any of MinIdle, IdleTimeout and MaxLifetime starts one maintenance
// goroutine per pool, which Close stops. It runs every CheckPeriod: it
// closes idle connections that are stale, idle for longer than
// IdleTimeout, or older than MaxLifetime, then dials until MinIdle
// connections are idle (never beyond the pool's MaxSize).
//
// Options decode from JSON, with durations as strings like "30s":
//
//	{"min_idle": 1, "idle_timeout": "90s", "max_lifetime": "30m"}
type Options struct {
	// MinIdle is how many idle connections the pool keeps ready, dialling
	// in the background when it has fewer; it never opens more than the
	// pool's MaxSize. 0 keeps none warm. Idle connections beyond MinIdle
	// are the only ones IdleTimeout closes.
	MinIdle int `json:"min_idle,omitempty"`
	// IdleTimeout closes connections left idle this long. 0 means never.
	// Set it below the master's own idle timeout (master.DefaultIdleTimeout
	// is 5 minutes) to close connections before the master does; stale
	// connections are caught at Acquire either way.
	IdleTimeout module.Duration `json:"idle_timeout,omitempty"`
	// MaxLifetime closes connections this old: idle ones in the
	// background, in-use ones when they are released. 0 means never. It
	// spreads load again after a master was scaled out behind a load
	// balancer.
	MaxLifetime module.Duration `json:"max_lifetime,omitempty"`
	// CheckPeriod is how often maintenance runs; 0 means DefaultCheckPeriod,
	// or half the shortest of IdleTimeout and MaxLifetime if that is
	// shorter. Only used when maintenance runs.
	CheckPeriod module.Duration `json:"check_period,omitempty"`
}

// Validate reports the first invalid field: negative values.
func (o Options) Validate() error {
	switch {
	case o.MinIdle < 0:
		return fmt.Errorf("poolimpl: min_idle %d is negative", o.MinIdle)
	case o.IdleTimeout < 0:
		return fmt.Errorf("poolimpl: idle_timeout %v is negative", time.Duration(o.IdleTimeout))
	case o.MaxLifetime < 0:
		return fmt.Errorf("poolimpl: max_lifetime %v is negative", time.Duration(o.MaxLifetime))
	case o.CheckPeriod < 0:
		return fmt.Errorf("poolimpl: check_period %v is negative", time.Duration(o.CheckPeriod))
	}
	return nil
}

// validateFor checks o for a pool of maxSize connections.
func (o Options) validateFor(maxSize int) error {
	if err := o.Validate(); err != nil {
		return err
	}
	if o.MinIdle > maxSize {
		return fmt.Errorf("poolimpl: min_idle %d exceeds the pool size %d", o.MinIdle, maxSize)
	}
	return nil
}

// maintained reports whether o needs the maintenance goroutine.
func (o Options) maintained() bool {
	return o.MinIdle > 0 || o.IdleTimeout > 0 || o.MaxLifetime > 0
}

// period returns how often maintenance runs.
func (o Options) period() time.Duration {
	if o.CheckPeriod > 0 {
		return time.Duration(o.CheckPeriod)
	}
	d := DefaultCheckPeriod
	for _, v := range []module.Duration{o.IdleTimeout, o.MaxLifetime} {
		if v > 0 {
			d = min(d, time.Duration(v)/2)
		}
	}
	return max(d, time.Millisecond)
}

// checkSize validates a config's MaxSize and applies DefaultMaxSize.
func checkSize(kind string, dial conn.DialFunc, maxSize int) (int, error) {
	if dial == nil {
		return 0, fmt.Errorf("poolimpl: %sConfig.Dial is required", kind)
	}
	if maxSize < 0 {
		return 0, fmt.Errorf("poolimpl: %sConfig.MaxSize %d is negative", kind, maxSize)
	}
	if maxSize == 0 {
		return DefaultMaxSize, nil
	}
	return maxSize, nil
}
