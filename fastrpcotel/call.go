package fastrpcotel

import (
	"context"
	"errors"
	"fmt"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/AmanTrance/FastRpc/frame"
	"github.com/AmanTrance/FastRpc/metadata"
	"github.com/AmanTrance/FastRpc/module"
	"github.com/AmanTrance/FastRpc/slave"
)

// CallTracing is the "slave.middleware.otel" module: Tracing for a slave.
// It starts a client span for every call the slave makes, named after the
// method, a child of the span in the call's context, and sends the span's
// trace context to the master in the call's metadata, where Tracing
// picks it up. Its fields and its JSON config are Tracing's.
//
// The span ends with the call's outcome: the master's status for a call it
// answered (a *slave.RemoteError's), or "no answer" for one that got none
// (a deadline, a lost connection, an unreachable master), described by the
// reason ("no answer: deadline exceeded"). Either sets the span's status
// to Error.
//
// A master speaking protocol version 1 cannot take metadata: the slave
// refuses such a call before sending anything, with an error matching
// slave.ErrMetadataUnsupported. CallTracing then sends the call once more,
// without the trace context, so that tracing never breaks calls to old
// masters; the span gets the event "fastrpc.trace_context_not_sent" and
// the master's span, if it has one, starts a trace of its own. The
// refused attempt costs a connection from the pool and no I/O. The same
// goes for trace context that would not fit the metadata limits (a huge
// tracestate or baggage): the call goes without it.
//
// Put it first (outermost) in slave.Config.Middleware so that the span
// covers the other middleware.
type CallTracing Tracing

// FastRpcModule implements module.Module.
func (CallTracing) FastRpcModule() module.ModuleInfo {
	return module.ModuleInfo{
		ID:  module.ID(module.NamespaceSlaveMiddleware + ".otel"),
		New: func() module.Module { return new(CallTracing) },
	}
}

// eventNotSent is the event of a call whose trace context did not go.
const eventNotSent = "fastrpc.trace_context_not_sent"

var reasonKey = attribute.Key("reason")

// WrapCall implements slave.MiddlewareModule.
func (c *CallTracing) WrapCall(next slave.Invoker) slave.Invoker {
	tr := tracer(c.TracerProvider)
	prop, record := c.Propagator, c.RecordErrors
	return func(ctx context.Context, info *slave.CallInfo) (err error) {
		ctx, span := tr.Start(ctx, info.Method, trace.WithSpanKind(trace.SpanKindClient),
			trace.WithAttributes(systemAttr, MethodKey.String(info.Method), RequestSizeKey.Int64(size(info.RequestLength))))
		defer func() {
			v := recover()
			status, detail, code := callOutcome(err)
			if v != nil {
				status, detail, code = statusNoAnswer, "call middleware panicked", 0
			}
			if status == frame.StatusOK {
				span.SetAttributes(ResponseSizeKey.Int64(size(info.ResponseLength)))
			}
			finish(span, status, detail, code)
			if record && err != nil {
				span.RecordError(err)
			}
			span.End()
			if v != nil {
				panic(v)
			}
		}()

		callCtx, sent, why := inject(ctx, propagator(prop))
		if why != "" {
			span.AddEvent(eventNotSent, trace.WithAttributes(reasonKey.String(why)))
		}
		err = next(callCtx, info)
		if sent && errors.Is(err, slave.ErrMetadataUnsupported) {
			// Refused before anything was sent: a protocol version 1
			// master. Again without the trace context; ctx's own
			// metadata, if any, goes as asked (and is refused the same).
			span.AddEvent(eventNotSent, trace.WithAttributes(reasonKey.String("the master speaks protocol version 1, which has no metadata")))
			err = next(ctx, info)
		}
		return err
	}
}

// inject returns ctx with its outgoing metadata carrying the trace context
// of ctx as p writes it, in place of any pairs of the same keys ctx
// carries, and sent true. It returns ctx itself when p writes nothing, and
// then too, with the reason, when what it writes cannot be sent (a key
// metadata does not allow, or beyond the limits).
func inject(ctx context.Context, p propagation.TextMapPropagator) (_ context.Context, sent bool, why string) {
	var tc MetadataCarrier
	p.Inject(ctx, &tc)
	if len(tc.MD) == 0 {
		return ctx, false, ""
	}
	for _, pr := range tc.MD {
		if err := frame.CheckMetadataKey(pr.Key); err != nil {
			return ctx, false, fmt.Sprintf("the propagator's key %q is not a valid metadata key", pr.Key)
		}
	}
	old := metadata.FromOutgoingContext(ctx)
	md := make(metadata.MD, 0, len(old)+len(tc.MD))
	for _, pr := range old {
		if _, ours := tc.MD.Get(pr.Key); !ours {
			md = append(md, pr)
		}
	}
	md = append(md, tc.MD...)
	if err := md.Check(); err != nil {
		if old.Check() == nil {
			return ctx, false, "the trace context does not fit the metadata limits"
		}
		// ctx's own metadata fails anyway, and says so.
	}
	return metadata.NewOutgoingContext(ctx, md), true, ""
}

// callOutcome is how a call that returned err ended, as a status, the
// detail of the span's description, and the application error code.
func callOutcome(err error) (frame.Status, string, uint32) {
	if err == nil {
		return frame.StatusOK, "", 0
	}
	var re *slave.RemoteError
	if errors.As(err, &re) {
		return re.Status, "", re.Code
	}
	return statusNoAnswer, noAnswerReason(err), 0
}

// noAnswerReason classifies the error of a call the master did not
// answer, by the sentinels it matches; never by its text, which names no
// metadata value but may say more than a trace needs.
func noAnswerReason(err error) string {
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return "deadline exceeded"
	case errors.Is(err, context.Canceled):
		return "cancelled"
	case errors.Is(err, slave.ErrClosed):
		return "slave closed"
	case errors.Is(err, slave.ErrMetadataUnsupported):
		return "the master speaks protocol version 1, which has no metadata"
	case errors.Is(err, slave.ErrUnavailable):
		return "master unavailable"
	case errors.Is(err, slave.ErrConnection):
		return "connection failed"
	case errors.Is(err, slave.ErrRequestTooLarge):
		return "request too large"
	case errors.Is(err, slave.ErrResponseTooLarge):
		return "response too large"
	case errors.Is(err, frame.ErrMetadata):
		return "invalid metadata"
	case errors.Is(err, slave.ErrProtocol):
		return "protocol violation"
	}
	return ""
}
