package fastrpcprom

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/model"

	"github.com/AmanTrance/FastRpc/frame"
	"github.com/AmanTrance/FastRpc/master"
	"github.com/AmanTrance/FastRpc/middleware"
	"github.com/AmanTrance/FastRpc/slave"
)

// Label names and values, after OpenTelemetry's RPC semantic conventions
// (rpc.system, rpc.method) with a FastRpc-specific status attribute in the
// style of rpc.grpc.status_code.
const (
	// LabelSystem is the rpc_system label; its value is always System.
	LabelSystem = "rpc_system"
	// LabelMethod is the rpc_method label: the method's name.
	LabelMethod = "rpc_method"
	// LabelStatus is the rpc_fastrpc_status label: frame.Status's String
	// ("ok", "application error", "unknown method", ...), or StatusNoAnswer
	// for a client call that got no answer.
	LabelStatus = "rpc_fastrpc_status"
	// System is the value of the rpc_system label.
	System = "fastrpc"
	// StatusNoAnswer is the rpc_fastrpc_status value of a client call that
	// ended without an answer from the master (middleware.StatusNoAnswer):
	// a lost connection, a deadline or cancellation on the slave, or a
	// request refused before sending.
	StatusNoAnswer = "no answer"
)

// DefaultBuckets are the call duration histograms' default upper bounds,
// in seconds: 50µs to 10s, the bounds of middleware.Counters.
var DefaultBuckets = []float64{
	0.00005, 0.0001, 0.00025, 0.0005,
	0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
	1, 2.5, 5, 10,
}

// DefaultSizeBuckets are the size histograms' default upper bounds, in
// bytes: 64 B to 16 MiB in steps of four.
var DefaultSizeBuckets = prometheus.ExponentialBuckets(64, 4, 10)

// Options tune the metrics of NewServerMetrics and NewClientMetrics, and
// are the JSON config of the Metrics and CallMetrics modules. The zero
// value gives the metrics documented in the package comment.
type Options struct {
	// Namespace, if set, prefixes every metric name with it and an
	// underscore: "myapp" gives myapp_rpc_server_call_duration_seconds.
	// It is a classic Prometheus name: letters, digits, _ and :.
	Namespace string `json:"namespace,omitempty"`
	// Buckets are the call duration histograms' upper bounds in seconds,
	// strictly increasing; nil means DefaultBuckets.
	Buckets []float64 `json:"buckets,omitempty"`
	// ConstLabels are added to every series, for example to tell apart two
	// masters in one process that share a registry. Names are classic
	// Prometheus label names (letters, digits and _); rpc_system is set by
	// this package, and rpc_method and rpc_fastrpc_status are taken.
	ConstLabels prometheus.Labels `json:"const_labels,omitempty"`
	// Sizes adds the request and response size histograms
	// (rpc_server_request_size_bytes, rpc_server_response_size_bytes and
	// the client equivalents).
	Sizes bool `json:"sizes,omitempty"`
	// SizeBuckets are the size histograms' upper bounds in bytes, strictly
	// increasing; nil means DefaultSizeBuckets.
	SizeBuckets []float64 `json:"size_buckets,omitempty"`
}

// ServerMetrics is the master side's middleware.MetricsSink, backed by
// Prometheus collectors: rpc_server_call_duration_seconds,
// rpc_server_calls_total, rpc_server_errors_total and, with Options.Sizes,
// rpc_server_request_size_bytes and rpc_server_response_size_bytes. Make
// one with NewServerMetrics and install WrapHandler as master middleware.
// It is safe for concurrent use, and one ServerMetrics may serve several
// masters.
type ServerMetrics struct {
	sink
	mw middleware.Metrics
}

// ClientMetrics is the slave side's middleware.MetricsSink, backed by
// Prometheus collectors: rpc_client_call_duration_seconds,
// rpc_client_calls_total, rpc_client_errors_total and, with Options.Sizes,
// rpc_client_request_size_bytes and rpc_client_response_size_bytes. Make
// one with NewClientMetrics and install WrapCall as slave middleware. It
// is safe for concurrent use, and one ClientMetrics may serve several
// slaves.
type ClientMetrics struct {
	sink
	mw middleware.CallMetrics
}

// Both sides are middleware.MetricsSinks.
var (
	_ middleware.MetricsSink = (*ServerMetrics)(nil)
	_ middleware.MetricsSink = (*ClientMetrics)(nil)
	_ master.Middleware      = (*ServerMetrics)(nil).WrapHandler
	_ slave.Middleware       = (*ClientMetrics)(nil).WrapCall
)

// NewServerMetrics makes the master side's metrics and registers them
// with reg (nil means prometheus.DefaultRegisterer). Collectors that reg
// already holds under the same names, labels and const labels (those of
// an earlier ServerMetrics, say for a second master in the process) are
// reused rather than refused, so both report to the same series; the
// first one's buckets and help text then stand. Errors come from invalid
// Options or from a conflicting metric already in reg.
func NewServerMetrics(reg prometheus.Registerer, opts Options) (*ServerMetrics, error) {
	s := new(ServerMetrics)
	if err := s.init(reg, opts, "server"); err != nil {
		return nil, err
	}
	s.mw.Sink = s
	return s, nil
}

// NewClientMetrics makes the slave side's metrics and registers them with
// reg, as NewServerMetrics does for the master side.
func NewClientMetrics(reg prometheus.Registerer, opts Options) (*ClientMetrics, error) {
	c := new(ClientMetrics)
	if err := c.init(reg, opts, "client"); err != nil {
		return nil, err
	}
	c.mw.Sink = c
	return c, nil
}

// WrapHandler is master middleware (master.Middleware) observing every
// call the master serves, with the status the slave is answered with; see
// middleware.Metrics. Calls to methods the master does not have never
// reach middleware, so they appear only on the client side.
func (s *ServerMetrics) WrapHandler(next master.Handler) master.Handler {
	return s.mw.WrapHandler(next)
}

// WrapCall is slave middleware (slave.Middleware) observing every call
// the slave makes; one that got no answer has the status "no answer". See
// middleware.CallMetrics.
func (c *ClientMetrics) WrapCall(next slave.Invoker) slave.Invoker {
	return c.mw.WrapCall(next)
}

// ObserveCall implements middleware.MetricsSink. Once a method and status
// pair has been seen, it allocates nothing.
func (s *ServerMetrics) ObserveCall(method string, status frame.Status, d time.Duration, requestBytes, responseBytes uint64) {
	s.observe(method, status, d, requestBytes, responseBytes)
}

// ObserveCall implements middleware.MetricsSink; middleware.StatusNoAnswer
// is labelled "no answer". Once a method and status pair has been seen, it
// allocates nothing.
func (c *ClientMetrics) ObserveCall(method string, status frame.Status, d time.Duration, requestBytes, responseBytes uint64) {
	c.observe(method, status, d, requestBytes, responseBytes)
}

// sink is what both sides share: the collectors, and the series already
// curried for each method and status seen.
type sink struct {
	duration, reqSize, respSize *prometheus.HistogramVec // the sizes are nil without Options.Sizes
	calls, errors               *prometheus.CounterVec

	mu     sync.Mutex                            // serialises additions to series
	series atomic.Pointer[map[seriesKey]*series] // copied on write; read without locking
}

type seriesKey struct {
	method string
	status frame.Status
}

// series are one method and status pair's observers.
type series struct {
	duration, reqSize, respSize prometheus.Observer // the sizes are nil without Options.Sizes
	calls, errors               prometheus.Counter  // the method's, whatever the status
}

// observe records one call. The look-up is one atomic load and a map
// read, so concurrent calls do not contend.
func (s *sink) observe(method string, status frame.Status, d time.Duration, req, resp uint64) {
	var se *series
	if m := s.series.Load(); m != nil {
		se = (*m)[seriesKey{method, status}]
	}
	if se == nil {
		se = s.add(method, status)
	}
	se.duration.Observe(d.Seconds())
	se.calls.Inc()
	if status != frame.StatusOK {
		se.errors.Inc()
	}
	if se.reqSize != nil {
		se.reqSize.Observe(float64(req))
		se.respSize.Observe(float64(resp))
	}
}

// add curries the observers of a pair not seen before and publishes a
// copy of the cache holding them.
func (s *sink) add(method string, status frame.Status) *series {
	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.series.Load()
	key := seriesKey{method, status}
	if old != nil {
		if se := (*old)[key]; se != nil {
			return se
		}
	}
	// The cache and the collectors keep the name: keep a copy of our own,
	// in case the caller's string aliases memory that will be reused.
	key.method = strings.Clone(method)
	// Label values must be UTF-8 (the collectors panic otherwise); method
	// names need not be.
	name := strings.ToValidUTF8(key.method, "\uFFFD")
	label := statusLabel(status)
	se := &series{
		duration: s.duration.WithLabelValues(name, label),
		calls:    s.calls.WithLabelValues(name),
		errors:   s.errors.WithLabelValues(name), // so a method without errors shows 0
	}
	if s.reqSize != nil {
		se.reqSize = s.reqSize.WithLabelValues(name, label)
		se.respSize = s.respSize.WithLabelValues(name, label)
	}
	var next map[seriesKey]*series
	if old == nil {
		next = make(map[seriesKey]*series, 1)
	} else {
		next = maps.Clone(*old)
	}
	next[key] = se
	s.series.Store(&next)
	return se
}

// statusLabel is the rpc_fastrpc_status value of s.
func statusLabel(s frame.Status) string {
	if s == middleware.StatusNoAnswer {
		return StatusNoAnswer
	}
	return s.String()
}

// init makes the collectors of one side ("server" or "client") and
// registers them with reg.
func (s *sink) init(reg prometheus.Registerer, opts Options, side string) error {
	if reg == nil {
		reg = prometheus.DefaultRegisterer
	}
	buckets, err := checkBuckets("buckets", opts.Buckets, DefaultBuckets)
	if err != nil {
		return err
	}
	sizeBuckets, err := checkBuckets("size_buckets", opts.SizeBuckets, DefaultSizeBuckets)
	if err != nil {
		return err
	}
	if opts.Namespace != "" && !model.LegacyValidation.IsValidMetricName(opts.Namespace) {
		return fmt.Errorf("fastrpcprom: namespace %q: use letters, digits, _ and :, not starting with a digit", opts.Namespace)
	}
	for k := range opts.ConstLabels {
		switch {
		case k == LabelSystem:
			return fmt.Errorf("fastrpcprom: const_labels: %s is set by fastrpcprom, always to %q", LabelSystem, System)
		case !model.LegacyValidation.IsValidLabelName(k):
			return fmt.Errorf("fastrpcprom: const_labels: %q: use letters, digits and _, not starting with a digit", k)
		}
	}
	constLabels := prometheus.Labels{LabelSystem: System}
	for k, v := range opts.ConstLabels {
		constLabels[k] = v
	}
	byCall := []string{LabelMethod, LabelStatus}
	byMethod := []string{LabelMethod}
	r := registrar{reg: reg}
	histogram := func(name, help string, b []float64) *prometheus.HistogramVec {
		o := prometheus.HistogramOpts{
			Namespace: opts.Namespace, Name: "rpc_" + side + "_" + name, Help: help,
			ConstLabels: constLabels, Buckets: b,
		}
		return register(&r, prometheus.BuildFQName(o.Namespace, "", o.Name), prometheus.NewHistogramVec(o, byCall))
	}
	counter := func(name, help string) *prometheus.CounterVec {
		o := prometheus.CounterOpts{
			Namespace: opts.Namespace, Name: "rpc_" + side + "_" + name, Help: help,
			ConstLabels: constLabels,
		}
		return register(&r, prometheus.BuildFQName(o.Namespace, "", o.Name), prometheus.NewCounterVec(o, byMethod))
	}
	what := "made by the slave"
	if side == "server" {
		what = "served by the master"
	}
	s.duration = histogram("call_duration_seconds",
		"Duration of FastRpc calls "+what+", in seconds (OpenTelemetry rpc."+side+".call.duration).", buckets)
	s.calls = counter("calls_total", "FastRpc calls "+what+", per method.")
	s.errors = counter("errors_total", "FastRpc calls "+what+" that ended with a status other than ok, per method.")
	if opts.Sizes {
		s.reqSize = histogram("request_size_bytes",
			"Request payload sizes of FastRpc calls "+what+", in bytes (OpenTelemetry rpc."+side+".request.size).", sizeBuckets)
		s.respSize = histogram("response_size_bytes",
			"Response payload sizes of FastRpc calls "+what+", in bytes (OpenTelemetry rpc."+side+".response.size).", sizeBuckets)
	}
	if r.err != nil {
		r.undo()
		return r.err
	}
	return nil
}

// checkBuckets returns a copy of b, or of def when b is nil, after
// checking that the bounds are numbers in strictly increasing order (the
// Prometheus client would panic on the first observation otherwise).
func checkBuckets(field string, b, def []float64) ([]float64, error) {
	if b == nil {
		return slices.Clone(def), nil
	}
	if len(b) == 0 {
		return nil, fmt.Errorf("fastrpcprom: %s: empty; leave it out for the defaults", field)
	}
	for i, v := range b {
		switch {
		case math.IsNaN(v):
			return nil, fmt.Errorf("fastrpcprom: %s[%d]: NaN", field, i)
		case i > 0 && v <= b[i-1]:
			return nil, fmt.Errorf("fastrpcprom: %s[%d]: %g is not above %g; bounds must increase strictly", field, i, v, b[i-1])
		}
	}
	return slices.Clone(b), nil
}

// registrar registers collectors until one fails, remembering those it
// added so that a failure can take them out again.
type registrar struct {
	reg   prometheus.Registerer
	added []prometheus.Collector
	err   error
}

// register registers c, the collector of the metric called name, with r's
// registerer, and returns c or, when the registerer already holds an
// identical collector, that one. After a failure it does nothing and
// returns c.
func register[C prometheus.Collector](r *registrar, name string, c C) C {
	if r.err != nil {
		return c
	}
	err := r.reg.Register(c)
	if err == nil {
		r.added = append(r.added, c)
		return c
	}
	var are prometheus.AlreadyRegisteredError
	if errors.As(err, &are) {
		if old, ok := are.ExistingCollector.(C); ok {
			return old
		}
		r.err = fmt.Errorf("fastrpcprom: registering %s: the registry already holds a different kind of collector (%T) under that name", name, are.ExistingCollector)
		return c
	}
	r.err = fmt.Errorf("fastrpcprom: registering %s: %w", name, err)
	return c
}

// undo unregisters the collectors r added.
func (r *registrar) undo() {
	for _, c := range r.added {
		r.reg.Unregister(c)
	}
}
