package fastrpcotel

import (
	"errors"
	"strings"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/AmanTrance/FastRpc/frame"
	"github.com/AmanTrance/FastRpc/master"
	"github.com/AmanTrance/FastRpc/metadata"
	"github.com/AmanTrance/FastRpc/module"
	"github.com/AmanTrance/FastRpc/slave"
)

func init() {
	module.Register(Tracing{})
	module.Register(CallTracing{})
}

// Each module serves one namespace, with that namespace's interface.
var (
	_ master.MiddlewareModule = (*Tracing)(nil)
	_ slave.MiddlewareModule  = (*CallTracing)(nil)
	_ module.Module           = Tracing{}
	_ module.Module           = CallTracing{}

	_ propagation.TextMapCarrier = (*MetadataCarrier)(nil)
	_ propagation.ValuesGetter   = (*MetadataCarrier)(nil)
)

// ScopeName is the instrumentation scope of the tracers the middleware
// gets from its trace.TracerProvider.
const ScopeName = "github.com/AmanTrance/FastRpc/fastrpcotel"

// System is the value of the rpc.system attribute of every span.
const System = "fastrpc"

// Attributes of the spans. SystemKey and MethodKey, and the network.*
// keys, are OpenTelemetry's semantic conventions; the rpc.fastrpc.* ones
// are FastRpc's own, as rpc.grpc.* are gRPC's.
const (
	// SystemKey is rpc.system, always System.
	SystemKey = attribute.Key("rpc.system")
	// MethodKey is rpc.method, the method's name.
	MethodKey = attribute.Key("rpc.method")
	// StatusKey is the status the call ended with, as frame.Status's
	// String gives it ("ok", "application error", ...), or "no answer" on
	// the slave for a call the master did not answer.
	StatusKey = attribute.Key("rpc.fastrpc.status")
	// StatusCodeKey is the same status as a number: the frame.Status on
	// the wire, or 255 (middleware.StatusNoAnswer) for "no answer".
	StatusCodeKey = attribute.Key("rpc.fastrpc.status_code")
	// ErrorCodeKey is the application error code of a failed call
	// (master.WithCode, slave.RemoteError.Code), set only when not 0.
	ErrorCodeKey = attribute.Key("rpc.fastrpc.error_code")
	// RequestSizeKey is the request payload's length in bytes.
	RequestSizeKey = attribute.Key("rpc.fastrpc.request.size")
	// ResponseSizeKey is the response payload's length in bytes.
	ResponseSizeKey = attribute.Key("rpc.fastrpc.response.size")
)

// statusNoAnswer is middleware.StatusNoAnswer: the slave's status for a
// call that got no answer from the master. Not a wire status.
const statusNoAnswer frame.Status = 255

var systemAttr = SystemKey.String(System)

// tracer returns the tracer of tp, or of the global provider when tp is
// nil. The global provider is looked up when the middleware is applied;
// if none is installed by then, OpenTelemetry's global delegate forwards
// to the one installed later.
func tracer(tp trace.TracerProvider) trace.Tracer {
	if tp == nil {
		tp = otel.GetTracerProvider()
	}
	return tp.Tracer(ScopeName)
}

// defaultPropagator is used when neither the middleware nor the
// application names one.
var defaultPropagator propagation.TextMapPropagator = propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})

// propagator returns p, or else the global propagator if it propagates
// anything, or else defaultPropagator. The global one is looked up for
// each call, so one installed after the middleware was applied counts.
func propagator(p propagation.TextMapPropagator) propagation.TextMapPropagator {
	if p != nil {
		return p
	}
	if g := otel.GetTextMapPropagator(); len(g.Fields()) > 0 {
		return g
	}
	return defaultPropagator
}

// MetadataCarrier is a propagation.TextMapCarrier over a call's metadata,
// for code that propagates a trace context by hand. Get, Values and Keys
// read MD; Set replaces the pairs of its key (lower-cased) with one
// new pair at the end.
type MetadataCarrier struct {
	MD metadata.MD
}

// Get returns the first value of key, "" when there is none.
func (c *MetadataCarrier) Get(key string) string {
	v, _ := c.MD.Get(key)
	return v
}

// Values returns every value of key.
func (c *MetadataCarrier) Values(key string) []string { return c.MD.Values(key) }

// Set makes value the only value of key.
func (c *MetadataCarrier) Set(key, value string) {
	key = strings.ToLower(key)
	md := c.MD[:0:0]
	for _, p := range c.MD {
		if p.Key != key {
			md = append(md, p)
		}
	}
	c.MD = append(md, metadata.Pair{Key: key, Value: value})
}

// Keys returns the keys of MD, each once, in order.
func (c *MetadataCarrier) Keys() []string {
	keys := make([]string, 0, len(c.MD))
	for _, p := range c.MD {
		if !contains(keys, p.Key) {
			keys = append(keys, p.Key)
		}
	}
	return keys
}

func contains(keys []string, k string) bool {
	for _, x := range keys {
		if x == k {
			return true
		}
	}
	return false
}

// finish sets the call's outcome on span: the status attributes and,
// for anything but ok, the status Error described by the status's name
// and, when not empty, detail.
func finish(span trace.Span, status frame.Status, detail string, errorCode uint32) {
	name := statusName(status)
	attrs := [3]attribute.KeyValue{StatusKey.String(name), StatusCodeKey.Int(int(status))}
	n := 2
	if errorCode != 0 {
		attrs[n] = ErrorCodeKey.Int64(int64(errorCode))
		n++
	}
	span.SetAttributes(attrs[:n]...)
	if status != frame.StatusOK {
		if detail != "" {
			name += ": " + detail
		}
		span.SetStatus(codes.Error, name)
	}
}

func statusName(s frame.Status) string {
	if s == statusNoAnswer {
		return "no answer"
	}
	return s.String()
}

// errorCode is the application error code master.WithCode (or an error's
// own Code method) gives err, as the master takes it.
func errorCode(err error) uint32 {
	var coder interface{ Code() uint32 }
	if errors.As(err, &coder) {
		return coder.Code()
	}
	return 0
}

// size converts a payload length for an attribute.
func size(n uint64) int64 {
	return int64(min(n, 1<<63-1))
}
