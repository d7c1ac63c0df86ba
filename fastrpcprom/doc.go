// Package fastrpcprom exports FastRpc call metrics to Prometheus: a
// middleware.MetricsSink for each side, ServerMetrics for a master and
// ClientMetrics for a slave, backed by client_golang collectors, and the
// modules "master.middleware.prometheus" (Metrics) and
// "slave.middleware.prometheus" (CallMetrics) for configurations in JSON.
//
// # Metrics
//
// Names follow OpenTelemetry's semantic conventions for RPC, as the
// OpenTelemetry Prometheus exporter would spell them:
//
//	rpc_server_call_duration_seconds  histogram  rpc.server.call.duration; rpc_method, rpc_fastrpc_status
//	rpc_server_calls_total            counter    calls per rpc_method
//	rpc_server_errors_total           counter    calls per rpc_method whose status is not "ok"
//	rpc_server_request_size_bytes     histogram  with Options.Sizes; rpc_method, rpc_fastrpc_status
//	rpc_server_response_size_bytes    histogram  with Options.Sizes; rpc_method, rpc_fastrpc_status
//
// and the same with rpc_client_ for the slave side. Every series has
// rpc_system="fastrpc". rpc_fastrpc_status is frame.Status's String ("ok",
// "application error", "unknown method", ...) and, on the client side,
// "no answer" for a call that got none (middleware.StatusNoAnswer). The
// duration buckets are DefaultBuckets, 50µs to 10s, unless Options.Buckets
// says otherwise; Options.Namespace prefixes every name. Series appear on
// a method's first call, errors_total at 0 until it fails. Observing a
// call allocates nothing once its method and status have been seen.
//
// The master observes only calls to methods it has (and the built-in
// capabilities method); a call to a method it does not know is answered
// before any middleware runs, so it shows only as the client's
// "unknown method". Client method names are whatever the application
// calls: do not build them from untrusted input, as each is a series (and
// a name that is not UTF-8 is labelled with U+FFFD in place of the bad
// bytes).
//
// # Use
//
// In Go, make one sink per side and install its middleware:
//
//	reg := prometheus.NewRegistry()
//	sm, err := fastrpcprom.NewServerMetrics(reg, fastrpcprom.Options{})
//	m := master.New(master.Config{Middleware: []master.Middleware{sm.WrapHandler}})
//
//	cm, err := fastrpcprom.NewClientMetrics(reg, fastrpcprom.Options{})
//	s, err := slave.New(slave.Config{Address: addr, Middleware: []slave.Middleware{cm.WrapCall}})
//
// In JSON, import the package for its modules and name them (they register
// with prometheus.DefaultRegisterer):
//
//	import _ "github.com/AmanTrance/FastRpc/fastrpcprom"
//
//	{"listeners": [...], "middleware": [{"module": "prometheus"}]}
//	{"address": "...", "middleware": [{"module": "prometheus", "namespace": "myapp"}]}
//
// Two masters (or slaves) in one process may register with the same
// registry: the second reuses the first one's collectors, so their calls
// add up in the same series. Options.ConstLabels keeps them apart.
//
// # What it is not
//
// It does not serve /metrics: the application mounts promhttp on an HTTP
// server of its own, such as promhttp.Handler() for the default registry
// or promhttp.HandlerFor(reg, promhttp.HandlerOpts{}) for another. It does
// no tracing, and it does not unregister its collectors when a master or
// slave closes: their counters keep their values, as Prometheus expects.
package fastrpcprom
