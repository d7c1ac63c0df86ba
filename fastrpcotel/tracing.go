package fastrpcotel

import (
	"fmt"
	"net"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/AmanTrance/FastRpc/frame"
	"github.com/AmanTrance/FastRpc/master"
	"github.com/AmanTrance/FastRpc/module"
)

// Tracing is the "master.middleware.otel" module: it starts a server span
// for every call the master serves, named after the method, a child of
// the trace context the call's metadata carries (from CallTracing, or any
// slave that sends W3C "traceparent" metadata), and a new trace's root
// when it carries none (a protocol version 1 slave sends no metadata). The
// handler's op.Context() carries the span, so the spans the handler starts
// from it are its children, and trace.SpanFromContext(op.Context()) gives
// it to add attributes or events.
//
// The span ends when the handler returns, with the status the master
// sends (master.StatusOf): any status but ok sets the span's status to
// Error, described by the status ("application error", "permission
// denied", ...). A handler that panics ends its span with "handler panic"
// and the panic goes on, to the master or a Recover further out. A call to
// a method the master does not serve reaches no middleware, so it has no
// server span; the slave's span shows "unknown method".
//
// Put it first (outermost) in master.Config.Middleware so that the span
// covers the other middleware, and so that a TokenAuth refusal shows as
// "permission denied":
//
//	{"middleware": [{"module": "otel"}, {"module": "token", "tokens_file": "/etc/fastrpc/tokens"}]}
type Tracing struct {
	// TracerProvider makes the tracer; nil means otel.GetTracerProvider()
	// when the middleware is applied (which follows a provider installed
	// later through OpenTelemetry's global delegate).
	TracerProvider trace.TracerProvider `json:"-"`
	// Propagator reads (on the master) or writes (on the slave) the trace
	// context in the call's metadata. Nil means the global propagator
	// (otel.GetTextMapPropagator(), looked up for each call), or, while
	// that propagates nothing (none installed), W3C TraceContext and
	// Baggage.
	Propagator propagation.TextMapPropagator `json:"-"`
	// RecordErrors records the error a call ended with on its span, as an
	// exception event with the error's text. Off by default: error texts
	// may quote the request, or, on the slave, the master's message, and
	// they go wherever the spans are exported.
	RecordErrors bool `json:"record_errors,omitempty"`
}

// FastRpcModule implements module.Module.
func (Tracing) FastRpcModule() module.ModuleInfo {
	return module.ModuleInfo{
		ID:  module.ID(module.NamespaceMasterMiddleware + ".otel"),
		New: func() module.Module { return new(Tracing) },
	}
}

// WrapHandler implements master.MiddlewareModule.
func (t *Tracing) WrapHandler(next master.Handler) master.Handler {
	tr := tracer(t.TracerProvider)
	prop, record := t.Propagator, t.RecordErrors
	return func(op *master.IOOperator) (err error) {
		ctx := op.Context()
		if md := op.Metadata(); len(md) > 0 {
			ctx = propagator(prop).Extract(ctx, &MetadataCarrier{MD: md})
		}
		method := op.Method()
		attrs := make([]attribute.KeyValue, 0, 6)
		attrs = append(attrs, systemAttr, MethodKey.String(method), RequestSizeKey.Int64(size(op.RequestLength())))
		attrs = appendPeer(attrs, op.RemoteAddr())
		ctx, span := tr.Start(ctx, method, trace.WithSpanKind(trace.SpanKindServer), trace.WithAttributes(attrs...))
		op.SetContext(ctx)
		defer func() {
			v := recover()
			status := master.StatusOf(op, err)
			if v != nil {
				status = frame.StatusHandlerPanic
			}
			span.SetAttributes(ResponseSizeKey.Int64(size(op.ResponseLength())))
			finish(span, status, "", errorCode(err))
			if record {
				switch {
				case v != nil:
					span.RecordError(fmt.Errorf("panic: %v", v))
				case err != nil:
					span.RecordError(err)
				}
			}
			span.End()
			if v != nil {
				panic(v) // the master, or a Recover further out, handles it
			}
		}()
		return next(op)
	}
}

// Network attributes of the semantic conventions.
const (
	peerAddressKey = attribute.Key("network.peer.address")
	peerPortKey    = attribute.Key("network.peer.port")
	transportKey   = attribute.Key("network.transport")
)

// appendPeer appends the network attributes of the slave's address a.
func appendPeer(attrs []attribute.KeyValue, a net.Addr) []attribute.KeyValue {
	switch a := a.(type) {
	case nil:
	case *net.TCPAddr:
		ap := a.AddrPort()
		attrs = append(attrs, transportKey.String("tcp"),
			peerAddressKey.String(ap.Addr().Unmap().String()), peerPortKey.Int(int(ap.Port())))
	case *net.UnixAddr:
		attrs = append(attrs, transportKey.String("unix"))
		if a.Name != "" && a.Name != "@" {
			attrs = append(attrs, peerAddressKey.String(a.Name))
		}
	default:
		if s := a.String(); s != "" {
			attrs = append(attrs, peerAddressKey.String(s))
		}
	}
	return attrs
}
