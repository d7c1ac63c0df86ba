package poolimpl

import (
	"fmt"
	"time"

	"github.com/AmanTrance/FastRpc/module"
)

// defaultCheckPeriod is how often a pool's background maintenance runs
// when Options.CheckPeriod is 0 (or half the shortest of IdleTimeout and
// MaxLifetime, if that is shorter).
const defaultCheckPeriod = time.Second

// Options are the settings of the builtin pools: [Mutex], and the puddle
// pool of package poolimpl/puddle. The zero value turns every one of them
// off: the pool then dials only on demand, keeps connections until they
// fail or go stale, and runs no goroutine of its own.
//
// Any of MinIdle, IdleTimeout and MaxLifetime starts one maintenance
// goroutine per pool, which Close stops. It runs every CheckPeriod: it
// closes idle connections that are stale, idle for longer than
// IdleTimeout, or older than MaxLifetime, then dials until MinIdle
// connections are idle (never beyond the pool's size).
//
// Options decode from JSON, with durations as strings like "30s". They
// are the fields of the modules "pool.mutex" and "pool.puddle", next to
// the "module" field that names the pool:
//
//	{"module": "mutex", "min_idle": 1, "idle_timeout": "90s", "max_lifetime": "30m"}
type Options struct {
	// MinIdle is how many idle connections the pool keeps ready, dialling
	// in the background when it has fewer; it never opens more than the
	// pool's size. 0 keeps none warm. Idle connections beyond MinIdle
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
	// CheckPeriod is how often maintenance runs; 0 means one second, or
	// half the shortest of IdleTimeout and MaxLifetime if that is
	// shorter (see Period). Only used when maintenance runs.
	CheckPeriod module.Duration `json:"check_period,omitempty"`
}

// Validate reports the first invalid field: negative values.
func (o Options) Validate() error {
	switch {
	case o.MinIdle < 0:
		return fmt.Errorf("fastrpc: pool: min_idle %d is negative", o.MinIdle)
	case o.IdleTimeout < 0:
		return fmt.Errorf("fastrpc: pool: idle_timeout %v is negative", time.Duration(o.IdleTimeout))
	case o.MaxLifetime < 0:
		return fmt.Errorf("fastrpc: pool: max_lifetime %v is negative", time.Duration(o.MaxLifetime))
	case o.CheckPeriod < 0:
		return fmt.Errorf("fastrpc: pool: check_period %v is negative", time.Duration(o.CheckPeriod))
	}
	return nil
}

// Check validates a Factory's arguments together with o, for pools that
// take Options: dial must be set, size must not be negative (0 means
// DefaultSize), o must be valid and MinIdle within the size. It returns
// the size to use.
func (o Options) Check(dial DialFunc, size int) (int, error) {
	switch {
	case dial == nil:
		return 0, fmt.Errorf("fastrpc: pool: a pool needs a DialFunc")
	case size < 0:
		return 0, fmt.Errorf("fastrpc: pool: pool size %d is negative", size)
	case size == 0:
		size = DefaultSize
	}
	if err := o.Validate(); err != nil {
		return 0, err
	}
	if o.MinIdle > size {
		return 0, fmt.Errorf("fastrpc: pool: min_idle %d exceeds the pool size %d", o.MinIdle, size)
	}
	return size, nil
}

// Period returns how often a pool's background maintenance runs with o:
// CheckPeriod, or by default one second or half the shortest of
// IdleTimeout and MaxLifetime if that is shorter. It is 0 when o turns on
// nothing that needs maintenance (MinIdle, IdleTimeout, MaxLifetime): the
// pool then runs no goroutine of its own.
func (o Options) Period() time.Duration {
	if o.MinIdle <= 0 && o.IdleTimeout <= 0 && o.MaxLifetime <= 0 {
		return 0
	}
	if o.CheckPeriod > 0 {
		return time.Duration(o.CheckPeriod)
	}
	d := defaultCheckPeriod
	for _, v := range []module.Duration{o.IdleTimeout, o.MaxLifetime} {
		if v > 0 {
			d = min(d, time.Duration(v)/2)
		}
	}
	return max(d, time.Millisecond)
}
