package fastrpcprom_test

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/AmanTrance/FastRpc/fastrpcprom"
	"github.com/AmanTrance/FastRpc/frame"
	"github.com/AmanTrance/FastRpc/master"
	"github.com/AmanTrance/FastRpc/middleware"
)

// TestServerAndClient runs a master and a slave with the metrics of both
// sides in one registry, served over HTTP, and checks the scrape against
// the calls made.
func TestServerAndClient(t *testing.T) {
	reg := prometheus.NewRegistry()
	sm, err := fastrpcprom.NewServerMetrics(reg, fastrpcprom.Options{Sizes: true})
	require.NoError(t, err)
	cm, err := fastrpcprom.NewClientMetrics(reg, fastrpcprom.Options{Sizes: true})
	require.NoError(t, err)
	url := serveMetrics(t, reg)

	addr := serveMaster(t, master.New(master.Config{Middleware: []master.Middleware{sm.WrapHandler}}))
	s := newSlave(t, addr, cm.WrapCall)
	call(t, s, "echo", 3, false)
	call(t, s, "fail", 2, true)
	call(t, s, "panic", 1, true)
	call(t, s, "nope", 4, true) // unknown to the master
	dead := newSlave(t, deadAddress(t), cm.WrapCall)
	call(t, dead, "echo", 1, true) // no answer

	got := scrapeServed(t, url, "rpc_server_call_duration_seconds", 6)

	// Server side: what the master served. "nope" never reached a handler.
	assert.Equal(t, map[string]uint64{
		"echo/ok":                3,
		"fail/application error": 2,
		"panic/handler panic":    1,
	}, without(got.histCounts(t, "rpc_server_call_duration_seconds"), "capabilities"))
	assert.Equal(t, map[string]float64{"echo": 3, "fail": 2, "panic": 1},
		without(got.counters(t, "rpc_server_calls_total"), "capabilities"))
	assert.Equal(t, map[string]float64{"echo": 0, "fail": 2, "panic": 1},
		without(got.counters(t, "rpc_server_errors_total"), "capabilities"))

	// Client side: what the slaves saw, the unanswered call included.
	assert.Equal(t, map[string]uint64{
		"echo/ok":                3,
		"echo/no answer":         1,
		"fail/application error": 2,
		"panic/handler panic":    1,
		"nope/unknown method":    4,
	}, without(got.histCounts(t, "rpc_client_call_duration_seconds"), "capabilities"))
	assert.Equal(t, map[string]float64{"echo": 4, "fail": 2, "panic": 1, "nope": 4},
		without(got.counters(t, "rpc_client_calls_total"), "capabilities"))
	assert.Equal(t, map[string]float64{"echo": 1, "fail": 2, "panic": 1, "nope": 4},
		without(got.counters(t, "rpc_client_errors_total"), "capabilities"))

	// The histograms: default buckets, 50µs to 10s, and plausible sums.
	h := series(got.family(t, "rpc_server_call_duration_seconds", dto.MetricType_HISTOGRAM),
		map[string]string{"rpc_method": "echo", "rpc_fastrpc_status": "ok"}).GetHistogram()
	require.Len(t, h.GetBucket(), len(fastrpcprom.DefaultBuckets)+1) // and +Inf
	assert.Equal(t, 0.00005, h.GetBucket()[0].GetUpperBound())
	assert.Equal(t, 10.0, h.GetBucket()[len(h.GetBucket())-2].GetUpperBound())
	assert.Equal(t, uint64(3), h.GetBucket()[len(h.GetBucket())-1].GetCumulativeCount())
	assert.Greater(t, h.GetSampleSum(), 0.0)
	assert.Less(t, h.GetSampleSum(), 15.0)

	// Sizes: "hello" went out three times and came back three times.
	for _, side := range []string{"server", "client"} {
		for _, dir := range []string{"request", "response"} {
			name := "rpc_" + side + "_" + dir + "_size_bytes"
			h := series(got.family(t, name, dto.MetricType_HISTOGRAM),
				map[string]string{"rpc_method": "echo", "rpc_fastrpc_status": "ok"}).GetHistogram()
			assert.Equal(t, uint64(3), h.GetSampleCount(), name)
			assert.Equal(t, 15.0, h.GetSampleSum(), name)
		}
	}

	// The text itself, as a person or another scraper reads it.
	for _, line := range []string{
		`rpc_server_call_duration_seconds_count{rpc_fastrpc_status="ok",rpc_method="echo",rpc_system="fastrpc"} 3`,
		`rpc_client_call_duration_seconds_count{rpc_fastrpc_status="unknown method",rpc_method="nope",rpc_system="fastrpc"} 4`,
		`rpc_client_call_duration_seconds_count{rpc_fastrpc_status="no answer",rpc_method="echo",rpc_system="fastrpc"} 1`,
		`rpc_server_calls_total{rpc_method="echo",rpc_system="fastrpc"} 3`,
		`rpc_server_errors_total{rpc_method="fail",rpc_system="fastrpc"} 2`,
		`# TYPE rpc_server_call_duration_seconds histogram`,
		`# TYPE rpc_client_calls_total counter`,
	} {
		assert.Contains(t, got.text, line+"\n")
	}
}

// without drops key k (or, for "method/status" keys, keys of method k).
func without[V any](m map[string]V, k string) map[string]V {
	for key := range m {
		if key == k || strings.HasPrefix(key, k+"/") {
			delete(m, key)
		}
	}
	return m
}

// TestSharedRegistry checks that two masters' metrics in one registry
// share the collectors, and that each side's counts add up.
func TestSharedRegistry(t *testing.T) {
	reg := prometheus.NewRegistry()
	sm1, err := fastrpcprom.NewServerMetrics(reg, fastrpcprom.Options{})
	require.NoError(t, err)
	sm2, err := fastrpcprom.NewServerMetrics(reg, fastrpcprom.Options{})
	require.NoError(t, err)
	cm1, err := fastrpcprom.NewClientMetrics(reg, fastrpcprom.Options{})
	require.NoError(t, err)
	cm2, err := fastrpcprom.NewClientMetrics(reg, fastrpcprom.Options{})
	require.NoError(t, err)
	url := serveMetrics(t, reg)

	a := serveMaster(t, master.New(master.Config{Middleware: []master.Middleware{sm1.WrapHandler}}))
	b := serveMaster(t, master.New(master.Config{Middleware: []master.Middleware{sm2.WrapHandler}}))
	call(t, newSlave(t, a, cm1.WrapCall), "echo", 2, false)
	call(t, newSlave(t, b, cm2.WrapCall), "echo", 3, false)

	got := scrapeServed(t, url, "rpc_server_call_duration_seconds", 5)
	assert.Equal(t, uint64(5), got.histCounts(t, "rpc_server_call_duration_seconds")["echo/ok"])
	assert.Equal(t, uint64(5), got.histCounts(t, "rpc_client_call_duration_seconds")["echo/ok"])
	assert.Equal(t, 5.0, got.counters(t, "rpc_server_calls_total")["echo"])
}

// TestConstLabels keeps two masters in one registry apart.
func TestConstLabels(t *testing.T) {
	reg := prometheus.NewRegistry()
	sm1, err := fastrpcprom.NewServerMetrics(reg, fastrpcprom.Options{ConstLabels: prometheus.Labels{"master": "a"}})
	require.NoError(t, err)
	sm2, err := fastrpcprom.NewServerMetrics(reg, fastrpcprom.Options{ConstLabels: prometheus.Labels{"master": "b"}})
	require.NoError(t, err)
	sm1.ObserveCall("echo", frame.StatusOK, time.Millisecond, 0, 0)
	sm2.ObserveCall("echo", frame.StatusOK, time.Millisecond, 0, 0)
	sm2.ObserveCall("echo", frame.StatusOK, time.Millisecond, 0, 0)

	got := scrape(t, serveMetrics(t, reg))
	mf := got.family(t, "rpc_server_calls_total", dto.MetricType_COUNTER)
	assert.Equal(t, 1.0, series(mf, map[string]string{"master": "a", "rpc_method": "echo"}).GetCounter().GetValue())
	assert.Equal(t, 2.0, series(mf, map[string]string{"master": "b", "rpc_method": "echo"}).GetCounter().GetValue())
}

// TestObserveCall checks the sinks directly, statuses included.
func TestObserveCall(t *testing.T) {
	reg := prometheus.NewRegistry()
	sm, err := fastrpcprom.NewServerMetrics(reg, fastrpcprom.Options{Namespace: "app", Buckets: []float64{0.001, 0.01}})
	require.NoError(t, err)
	cm, err := fastrpcprom.NewClientMetrics(reg, fastrpcprom.Options{Namespace: "app"})
	require.NoError(t, err)
	for _, st := range []frame.Status{frame.StatusOK, frame.StatusCancelled, frame.StatusDeadlineExceeded, frame.StatusPermissionDenied} {
		sm.ObserveCall("m", st, 5*time.Millisecond, 1, 2)
	}
	cm.ObserveCall("m", middleware.StatusNoAnswer, 20*time.Millisecond, 1, 0)

	got := scrape(t, serveMetrics(t, reg))
	assert.Equal(t, map[string]uint64{"m/ok": 1, "m/cancelled": 1, "m/deadline exceeded": 1, "m/permission denied": 1},
		got.histCounts(t, "app_rpc_server_call_duration_seconds"))
	assert.Equal(t, map[string]uint64{"m/no answer": 1}, got.histCounts(t, "app_rpc_client_call_duration_seconds"))
	assert.Equal(t, 3.0, got.counters(t, "app_rpc_server_errors_total")["m"])
	assert.Nil(t, got.families["rpc_server_calls_total"], "the namespace prefixes every name")
	assert.Nil(t, got.families["app_rpc_server_request_size_bytes"], "sizes are off by default")

	h := series(got.family(t, "app_rpc_server_call_duration_seconds", dto.MetricType_HISTOGRAM),
		map[string]string{"rpc_fastrpc_status": "ok"}).GetHistogram()
	require.Len(t, h.GetBucket(), 3) // and +Inf
	assert.Equal(t, []uint64{0, 1, 1}, []uint64{h.GetBucket()[0].GetCumulativeCount(), h.GetBucket()[1].GetCumulativeCount(), h.GetBucket()[2].GetCumulativeCount()})
}

func TestOptionErrors(t *testing.T) {
	for name, opts := range map[string]fastrpcprom.Options{
		"unsorted buckets":      {Buckets: []float64{0.1, 0.01}},
		"repeated buckets":      {Buckets: []float64{0.1, 0.1}},
		"empty buckets":         {Buckets: []float64{}},
		"unsorted size buckets": {Sizes: true, SizeBuckets: []float64{10, 1}},
		"rpc_system label":      {ConstLabels: prometheus.Labels{"rpc_system": "grpc"}},
		"bad const label name":  {ConstLabels: prometheus.Labels{"rpc_method": "x"}},
		"bad namespace":         {Namespace: "my-app"},
		"bad const label":       {ConstLabels: prometheus.Labels{"my-label": "x"}},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := fastrpcprom.NewServerMetrics(prometheus.NewRegistry(), opts)
			assert.Error(t, err)
			_, err = fastrpcprom.NewClientMetrics(prometheus.NewRegistry(), opts)
			assert.Error(t, err)
		})
	}
}

// TestConflict checks that a conflicting metric is an error, and that the
// collectors registered before it are taken out again.
func TestConflict(t *testing.T) {
	reg := &countingRegisterer{Registerer: prometheus.NewRegistry()}
	require.NoError(t, reg.Register(prometheus.NewCounter(prometheus.CounterOpts{Name: "rpc_server_errors_total", Help: "mine"})))
	_, err := fastrpcprom.NewServerMetrics(reg, fastrpcprom.Options{})
	require.ErrorContains(t, err, "rpc_server_errors_total")
	assert.Equal(t, 1, reg.live, "only the conflicting counter is left")

	// The client side's names are free.
	_, err = fastrpcprom.NewClientMetrics(reg, fastrpcprom.Options{})
	require.NoError(t, err)
}

// countingRegisterer counts the collectors registered and not
// unregistered.
type countingRegisterer struct {
	prometheus.Registerer
	live int
}

func (r *countingRegisterer) Register(c prometheus.Collector) error {
	err := r.Registerer.Register(c)
	if err == nil {
		r.live++
	}
	return err
}

func (r *countingRegisterer) Unregister(c prometheus.Collector) bool {
	ok := r.Registerer.Unregister(c)
	if ok {
		r.live--
	}
	return ok
}

// TestDefaultRegisterer checks that a nil Registerer means
// prometheus.DefaultRegisterer, as it is at construction.
func TestDefaultRegisterer(t *testing.T) {
	reg := swapDefaultRegisterer(t)
	sm, err := fastrpcprom.NewServerMetrics(nil, fastrpcprom.Options{})
	require.NoError(t, err)
	sm.ObserveCall("m", frame.StatusOK, time.Millisecond, 0, 0)
	got := scrape(t, serveMetrics(t, reg))
	assert.Equal(t, map[string]uint64{"m/ok": 1}, got.histCounts(t, "rpc_server_call_duration_seconds"))
}

// TestConcurrent observes from many goroutines while new pairs appear.
func TestConcurrent(t *testing.T) {
	reg := prometheus.NewRegistry()
	cm, err := fastrpcprom.NewClientMetrics(reg, fastrpcprom.Options{})
	require.NoError(t, err)
	const workers, per = 8, 500
	methods := []string{"a", "b", "c", "d"}
	statuses := []frame.Status{frame.StatusOK, frame.StatusApplicationError, middleware.StatusNoAnswer}
	done := make(chan struct{})
	for w := range workers {
		go func() {
			defer func() { done <- struct{}{} }()
			for i := range per {
				cm.ObserveCall(methods[(w+i)%len(methods)], statuses[i%len(statuses)], time.Microsecond, 0, 0)
			}
		}()
	}
	for range workers {
		<-done
	}
	got := scrape(t, serveMetrics(t, reg))
	var total uint64
	counts := got.histCounts(t, "rpc_client_call_duration_seconds")
	assert.Len(t, counts, len(methods)*len(statuses))
	for _, n := range counts {
		total += n
	}
	assert.Equal(t, uint64(workers*per), total)
	var calls float64
	for _, v := range got.counters(t, "rpc_client_calls_total") {
		calls += v
	}
	assert.Equal(t, float64(workers*per), calls)
}

// TestMethodNameCopied checks that the sink keeps its own copy of a method
// name, so a caller reusing the string's memory does not rename a series.
func TestMethodNameCopied(t *testing.T) {
	reg := prometheus.NewRegistry()
	sm, err := fastrpcprom.NewServerMetrics(reg, fastrpcprom.Options{})
	require.NoError(t, err)
	buf := []byte("alpha")
	name := unsafeString(buf)
	sm.ObserveCall(name, frame.StatusOK, time.Millisecond, 0, 0)
	copy(buf, "omega")
	sm.ObserveCall("alpha", frame.StatusOK, time.Millisecond, 0, 0)
	got := scrape(t, serveMetrics(t, reg))
	assert.Equal(t, map[string]uint64{"alpha/ok": 2}, got.histCounts(t, "rpc_server_call_duration_seconds"))
}

// TestInvalidUTF8Method checks that a method name that is not UTF-8 is
// labelled with replacement characters rather than panicking.
func TestInvalidUTF8Method(t *testing.T) {
	reg := prometheus.NewRegistry()
	cm, err := fastrpcprom.NewClientMetrics(reg, fastrpcprom.Options{})
	require.NoError(t, err)
	require.NotPanics(t, func() {
		cm.ObserveCall("bad\xffname", frame.StatusOK, time.Millisecond, 0, 0)
		cm.ObserveCall("bad\xffname", frame.StatusOK, time.Millisecond, 0, 0)
	})
	got := scrape(t, serveMetrics(t, reg))
	assert.Equal(t, map[string]uint64{"bad\uFFFDname/ok": 2}, got.histCounts(t, "rpc_client_call_duration_seconds"))
}
