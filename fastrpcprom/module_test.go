package fastrpcprom_test

import (
	"context"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/AmanTrance/FastRpc/fastrpcprom"
	"github.com/AmanTrance/FastRpc/master"
	"github.com/AmanTrance/FastRpc/module"
	"github.com/AmanTrance/FastRpc/slave"
)

func TestModulesRegistered(t *testing.T) {
	for _, id := range []module.ID{"master.middleware.prometheus", "slave.middleware.prometheus"} {
		_, err := module.Lookup(id)
		assert.NoError(t, err, id)
	}
}

// jsonMaster builds a master from JSON config and serves it.
func jsonMaster(t *testing.T, config string) string {
	t.Helper()
	m, err := master.FromJSON(context.Background(), []byte(config))
	require.NoError(t, err)
	return serveMaster(t, m)
}

// jsonSlave builds a slave of addr from JSON config with the given
// middleware list.
func jsonSlave(t *testing.T, addr, middleware string) *slave.Slave {
	t.Helper()
	s, err := slave.FromJSON(context.Background(), []byte(`{"address": "`+addr+`", "pool_size": 1, "middleware": `+middleware+`}`))
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// TestJSON loads both modules with the default registerer, twice each in
// one process (two masters, two slaves), and checks the scrape.
func TestJSON(t *testing.T) {
	reg := swapDefaultRegisterer(t)
	url := serveMetrics(t, reg)

	a := jsonMaster(t, `{"middleware": [{"module": "prometheus"}]}`)
	b := jsonMaster(t, `{"middleware": [{"module": "recover"}, {"module": "prometheus"}]}`)
	sa := jsonSlave(t, a, `[{"module": "prometheus"}]`)
	sb := jsonSlave(t, b, `[{"module": "prometheus"}]`)
	call(t, sa, "echo", 2, false)
	call(t, sb, "echo", 1, false)
	call(t, sb, "fail", 1, true)
	call(t, sb, "nope", 1, true)

	got := scrapeServed(t, url, "rpc_server_call_duration_seconds", 4)
	assert.Equal(t, map[string]uint64{"echo/ok": 3, "fail/application error": 1},
		without(got.histCounts(t, "rpc_server_call_duration_seconds"), "capabilities"))
	assert.Equal(t, map[string]uint64{"echo/ok": 3, "fail/application error": 1, "nope/unknown method": 1},
		without(got.histCounts(t, "rpc_client_call_duration_seconds"), "capabilities"))
	assert.Equal(t, map[string]float64{"echo": 3, "fail": 1}, without(got.counters(t, "rpc_server_calls_total"), "capabilities"))
	assert.Equal(t, map[string]float64{"echo": 0, "fail": 1, "nope": 1}, without(got.counters(t, "rpc_client_errors_total"), "capabilities"))
}

// TestJSONOptions loads the modules with every option.
func TestJSONOptions(t *testing.T) {
	reg := swapDefaultRegisterer(t)
	addr := jsonMaster(t, `{"middleware": [{"module": "prometheus", "namespace": "myapp",
		"buckets": [0.001, 0.01, 0.1], "const_labels": {"role": "frontend"}, "sizes": true, "size_buckets": [8, 64]}]}`)
	s := jsonSlave(t, addr, `[{"module": "prometheus", "namespace": "myapp"}]`)
	call(t, s, "echo", 2, false)

	got := scrapeServed(t, serveMetrics(t, reg), "myapp_rpc_server_call_duration_seconds", 2)
	mf := got.family(t, "myapp_rpc_server_call_duration_seconds", dto.MetricType_HISTOGRAM)
	h := series(mf, map[string]string{"rpc_method": "echo", "role": "frontend"})
	require.NotNil(t, h)
	assert.Len(t, h.GetHistogram().GetBucket(), 4) // and +Inf
	assert.Equal(t, uint64(2), h.GetHistogram().GetSampleCount())
	req := series(got.family(t, "myapp_rpc_server_request_size_bytes", dto.MetricType_HISTOGRAM), map[string]string{"rpc_method": "echo"})
	require.NotNil(t, req)
	assert.Len(t, req.GetHistogram().GetBucket(), 3) // and +Inf
	assert.Equal(t, 10.0, req.GetHistogram().GetSampleSum())
	assert.Equal(t, uint64(2), got.histCounts(t, "myapp_rpc_client_call_duration_seconds")["echo/ok"])
	assert.Nil(t, got.families["myapp_rpc_client_request_size_bytes"])
	assert.Nil(t, got.families["rpc_server_call_duration_seconds"])
}

func TestJSONErrors(t *testing.T) {
	swapDefaultRegisterer(t)
	for name, mw := range map[string]string{
		"unknown field":    `{"module": "prometheus", "nmespace": "x"}`,
		"unsorted buckets": `{"module": "prometheus", "buckets": [1, 0.5]}`,
		"rpc_system label": `{"module": "prometheus", "const_labels": {"rpc_system": "grpc"}}`,
		"bad namespace":    `{"module": "prometheus", "namespace": "a-b"}`,
	} {
		t.Run(name, func(t *testing.T) {
			_, err := master.FromJSON(context.Background(), []byte(`{"middleware": [`+mw+`]}`))
			assert.Error(t, err)
			_, err = slave.FromJSON(context.Background(), []byte(`{"address": "127.0.0.1:1", "middleware": [`+mw+`]}`))
			assert.Error(t, err)
		})
	}
}

// TestModuleInGo checks the modules used as values in Go: WrapHandler and
// WrapCall provision them, and panic on a bad config.
func TestModuleInGo(t *testing.T) {
	reg := swapDefaultRegisterer(t)
	mw := &fastrpcprom.Metrics{Registerer: reg}
	cmw := &fastrpcprom.CallMetrics{}
	addr := serveMaster(t, master.New(master.Config{Middleware: []master.Middleware{mw.WrapHandler}}))
	call(t, newSlave(t, addr, cmw.WrapCall), "echo", 1, false)
	got := scrapeServed(t, serveMetrics(t, reg), "rpc_server_call_duration_seconds", 1)
	assert.Equal(t, uint64(1), got.histCounts(t, "rpc_server_call_duration_seconds")["echo/ok"])
	assert.Equal(t, uint64(1), got.histCounts(t, "rpc_client_call_duration_seconds")["echo/ok"])

	bad := &fastrpcprom.Metrics{Options: fastrpcprom.Options{Buckets: []float64{2, 1}}}
	assert.Error(t, bad.Provision(context.Background()))
	assert.Panics(t, func() { bad.WrapHandler(nil) })
	badCall := &fastrpcprom.CallMetrics{Options: fastrpcprom.Options{Buckets: []float64{2, 1}}}
	assert.Panics(t, func() { badCall.WrapCall(nil) })
}
