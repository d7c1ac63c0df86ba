// Package fastrpcotel traces FastRpc calls with OpenTelemetry: one span
// for each call a slave makes and one for each call a master serves, joined
// into one trace by the W3C trace context that travels in the call's
// metadata (protocol version 2).
//
// It has two middleware, each also a module so a JSON config can name it
// ({"module": "otel"} in a master's or a slave's "middleware" list):
//
//   - Tracing ("master.middleware.otel", master.MiddlewareModule): extracts
//     the caller's trace context from the request's metadata, starts a
//     server span named after the method, and gives the handler a context
//     carrying it (op.Context()), so spans the handler starts are its
//     children.
//   - CallTracing ("slave.middleware.otel", slave.MiddlewareModule): starts
//     a client span for every call, a child of the span in the call's
//     context, and sends its trace context in the call's metadata
//     ("traceparent", "tracestate", and whatever else the propagator
//     writes, such as "baggage").
//
// Spans are named after the method, as OpenTelemetry's RPC conventions
// name them {rpc.method}, and carry rpc.system "fastrpc", rpc.method, the
// peer's address on the master, the request and response sizes, and the
// call's status ([StatusKey], [StatusCodeKey]). A call that does not end
// with the status ok has a span with the status Error whose description is
// the FastRpc status ("application error", "unknown method", or, for a
// call the slave got no answer to, "no answer" with the reason). Neither
// the payloads nor metadata values (bearer tokens travel there) are ever
// recorded; error messages are only with RecordErrors.
//
// Importing the package registers the modules; a binary that loads its
// config from JSON imports it for that alone:
//
//	import _ "github.com/AmanTrance/FastRpc/fastrpcotel"
//
// A master speaking protocol version 1 takes no metadata. A call to one
// gets a client span all the same, but the trace context cannot reach the
// master: CallTracing sends the call again without it (see CallTracing),
// so tracing never makes a call fail.
//
// What it is not: it does not set up OpenTelemetry. It configures no SDK,
// no exporter, no sampler and no resource; the application does that,
// and either hands its trace.TracerProvider and propagator to the
// middleware or installs them globally (otel.SetTracerProvider,
// otel.SetTextMapPropagator), which the middleware uses by default. Nor
// does it record metrics or logs.
package fastrpcotel
