package middleware

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/AmanTrance/FastRpc/frame"
	"github.com/AmanTrance/FastRpc/master"
	"github.com/AmanTrance/FastRpc/module"
)

// MetricsSink receives one observation per call. A Prometheus or
// OpenTelemetry adapter implements this method; Counters is an in-memory
// implementation. It must be safe for concurrent use and quick: it runs on
// every call.
type MetricsSink interface {
	ObserveCall(method string, status frame.Status, d time.Duration, requestBytes, responseBytes uint64)
}

// Metrics is the "master.middleware.metrics" module: it reports every call
// the master serves to a MetricsSink. CallMetrics does the same for a
// slave.
type Metrics struct {
	// Sink receives the observations; nil means the Counters named Name.
	Sink MetricsSink `json:"-"`
	// Name picks the Counters (NamedCounters) a JSON-configured module
	// reports to, so that, say, a master and a slave in one process keep
	// apart; "" is the process's default Counters, NamedCounters("").
	Name string `json:"name,omitempty"`
}

// FastRpcModule implements module.Module.
func (Metrics) FastRpcModule() module.ModuleInfo {
	return module.ModuleInfo{ID: masterID("metrics"), New: func() module.Module { return new(Metrics) }}
}

// Provision fills the defaults.
func (m *Metrics) Provision(context.Context) error {
	if m.Sink == nil {
		m.Sink = NamedCounters(m.Name)
	}
	return nil
}

// WrapHandler implements master.MiddlewareModule.
func (m *Metrics) WrapHandler(next master.Handler) master.Handler {
	if m.Sink == nil {
		_ = m.Provision(context.Background())
	}
	sink := m.Sink
	return func(op *master.IOOperator) (err error) {
		start := time.Now()
		defer func() {
			status := master.StatusOf(op, err)
			v := recover()
			if v != nil {
				status = frame.StatusHandlerPanic // the master recovers it further out
			}
			sink.ObserveCall(op.Method(), status, time.Since(start), op.RequestLength(), op.ResponseLength())
			if v != nil {
				panic(v)
			}
		}()
		return next(op)
	}
}

var (
	namedMu sync.Mutex
	named   = map[string]*Counters{}
)

// NamedCounters returns the process-wide Counters called name, making it on
// first use. NamedCounters("") is the sink of Metrics modules given neither
// a Sink nor a Name.
func NamedCounters(name string) *Counters {
	namedMu.Lock()
	defer namedMu.Unlock()
	c := named[name]
	if c == nil {
		c = new(Counters)
		named[name] = c
	}
	return c
}

// latencyBuckets are the upper bounds of Counters' histogram buckets; a
// last, unbounded bucket follows them. MethodStats.Bounds is a copy.
var latencyBuckets = []time.Duration{
	50 * time.Microsecond, 100 * time.Microsecond, 250 * time.Microsecond, 500 * time.Microsecond,
	time.Millisecond, 2500 * time.Microsecond, 5 * time.Millisecond, 10 * time.Millisecond,
	25 * time.Millisecond, 50 * time.Millisecond, 100 * time.Millisecond, 250 * time.Millisecond,
	500 * time.Millisecond, time.Second, 2500 * time.Millisecond, 5 * time.Second, 10 * time.Second,
}

// Counters is an in-memory MetricsSink: per method, calls, errors (any
// status but ok), bytes and a latency histogram. Observing allocates
// nothing once a method has been seen. The zero value is ready to use.
type Counters struct {
	mu      sync.RWMutex
	methods map[string]*methodCounters
}

type methodCounters struct {
	calls, errors, reqBytes, respBytes atomic.Uint64
	nanos                              atomic.Int64
	buckets                            []atomic.Uint64 // len(latencyBuckets)+1
}

// ObserveCall implements MetricsSink.
func (c *Counters) ObserveCall(method string, status frame.Status, d time.Duration, req, resp uint64) {
	c.mu.RLock()
	mc := c.methods[method]
	c.mu.RUnlock()
	if mc == nil {
		c.mu.Lock()
		if c.methods == nil {
			c.methods = map[string]*methodCounters{}
		}
		if mc = c.methods[method]; mc == nil {
			mc = &methodCounters{buckets: make([]atomic.Uint64, len(latencyBuckets)+1)}
			c.methods[method] = mc
		}
		c.mu.Unlock()
	}
	mc.calls.Add(1)
	if status != frame.StatusOK {
		mc.errors.Add(1)
	}
	mc.reqBytes.Add(req)
	mc.respBytes.Add(resp)
	mc.nanos.Add(int64(d))
	i, _ := slices.BinarySearch(latencyBuckets, d)
	mc.buckets[i].Add(1)
}

// MethodStats is a snapshot of one method's counters.
type MethodStats struct {
	Method        string
	Calls, Errors uint64
	RequestBytes  uint64
	ResponseBytes uint64
	TotalTime     time.Duration
	// Buckets[i] counts calls that took at most Bounds[i] (and more than
	// the bound before); the last counts the rest.
	Buckets []uint64
	// Bounds are the buckets' upper bounds, 50µs to 10s.
	Bounds []time.Duration
}

// Snapshot returns every method's counters, sorted by method name.
func (c *Counters) Snapshot() []MethodStats {
	c.mu.RLock()
	defer c.mu.RUnlock()
	out := make([]MethodStats, 0, len(c.methods))
	for name, mc := range c.methods {
		s := MethodStats{
			Method: name, Calls: mc.calls.Load(), Errors: mc.errors.Load(),
			RequestBytes: mc.reqBytes.Load(), ResponseBytes: mc.respBytes.Load(),
			TotalTime: time.Duration(mc.nanos.Load()), Buckets: make([]uint64, len(mc.buckets)),
			Bounds: slices.Clone(latencyBuckets),
		}
		for i := range mc.buckets {
			s.Buckets[i] = mc.buckets[i].Load()
		}
		out = append(out, s)
	}
	slices.SortFunc(out, func(a, b MethodStats) int {
		switch {
		case a.Method < b.Method:
			return -1
		case a.Method > b.Method:
			return 1
		}
		return 0
	})
	return out
}
