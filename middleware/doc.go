// Package middleware ships middleware for the master's handlers and the
// slave's calls, each also a module so a JSON config can name it. Each
// type serves one side, in that side's module namespace.
//
// On the master (module.NamespaceMasterMiddleware, "master.middleware.*";
// master.MiddlewareModule, with a WrapHandler for master.Config.Middleware):
//
//   - Logging ("master.middleware.logging"): one log/slog record per call
//     with method, remote address, duration, request and response sizes,
//     status.
//   - Recover ("master.middleware.recover"): turns a handler panic into
//     StatusHandlerPanic and logs the panic with its stack.
//   - Authorize ("master.middleware.authorize"): lets a call through only
//     when the caller's verified TLS client certificate names an identity
//     allowed for the method; others get StatusPermissionDenied.
//   - Metrics ("master.middleware.metrics"): per-method calls, errors and a
//     latency histogram, into any MetricsSink (a Prometheus or
//     OpenTelemetry adapter implements that one method); Counters is an
//     in-memory sink.
//   - TokenAuth ("master.middleware.token"): lets a call through only with
//     a bearer token it accepts in the call's authorization metadata
//     (protocol version 2), compared in constant time; others get
//     StatusPermissionDenied before the handler runs.
//
// On the slave (module.NamespaceSlaveMiddleware, "slave.middleware.*";
// slave.MiddlewareModule, with a WrapCall for slave.Config.Middleware):
//
//   - CallLogging ("slave.middleware.logging"): Logging's record for every
//     call the slave makes.
//   - CallMetrics ("slave.middleware.metrics"): Metrics's observations for
//     every call the slave makes.
//   - CallToken ("slave.middleware.token"): sends a bearer token with
//     every call, from config, a file, or a function (rotation).
//
// A JSON config says {"module": "logging"} in a master's or a slave's
// "middleware" list and gets its own side's module; CallLogging and
// CallMetrics take the same JSON fields as Logging and Metrics.
//
// It is not a framework of its own: middleware is plain function wrapping,
// and a master or slave with none configured runs calls directly.
package middleware
