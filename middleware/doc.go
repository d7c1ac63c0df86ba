// Package middleware ships handler middleware for the master, each also a
// "middleware.*" module so a JSON config can name it:
//
//   - Logging ("middleware.logging"): one log/slog record per call with
//     method, remote address, duration, request and response sizes, status.
//   - Recover ("middleware.recover"): turns a handler panic into
//     StatusHandlerPanic and logs the panic with its stack.
//   - Authorize ("middleware.authorize"): lets a call through only when the
//     caller's verified TLS client certificate names an identity allowed
//     for the method; others get StatusPermissionDenied.
//   - Metrics ("middleware.metrics"): per-method calls, errors and a latency
//     histogram, into any MetricsSink (a Prometheus or OpenTelemetry adapter
//     implements that one method); Counters is an in-memory sink.
//
// Each is a value with a WrapHandler method (master.MiddlewareModule); in
// code, pass its WrapHandler to master.Config.Middleware. Logging and
// Metrics also wrap the slave's calls (WrapCall, slave.CallMiddlewareModule,
// for slave.Config.Middleware).
//
// It is not a framework of its own: middleware is plain function wrapping,
// and a master with none configured runs handlers directly.
package middleware
