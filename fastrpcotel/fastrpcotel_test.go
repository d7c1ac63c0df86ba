package fastrpcotel_test

import (
	"bytes"
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/baggage"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/AmanTrance/FastRpc/fastrpcotel"
	"github.com/AmanTrance/FastRpc/frame"
	"github.com/AmanTrance/FastRpc/master"
	"github.com/AmanTrance/FastRpc/metadata"
	"github.com/AmanTrance/FastRpc/middleware"
	"github.com/AmanTrance/FastRpc/module"
	"github.com/AmanTrance/FastRpc/slave"
)

const hangGuard = 10 * time.Second

// serve serves m on a free loopback port until the test ends.
func serve(t *testing.T, m *master.Master) net.Addr {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() { done <- m.Serve(context.Background(), ln) }()
	t.Cleanup(func() {
		_ = m.Close()
		select {
		case err := <-done:
			if err != nil && !errors.Is(err, master.ErrClosed) {
				t.Errorf("Serve after Close: %v", err)
			}
		case <-time.After(hangGuard):
			t.Error("Serve did not return after Close")
		}
	})
	return ln.Addr()
}

func newSlave(t *testing.T, cfg slave.Config) *slave.Slave {
	t.Helper()
	if cfg.PoolSize == 0 {
		cfg.PoolSize = 1
	}
	s, err := slave.New(cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func newProvider(t *testing.T) (*sdktrace.TracerProvider, *tracetest.SpanRecorder) {
	t.Helper()
	sr := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(sr))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	return tp, sr
}

// waitSpans waits until sr has recorded n ended spans, and returns them by
// name. The master's span ends when its handler returns, which may be
// after the slave has its answer.
func waitSpans(t *testing.T, sr *tracetest.SpanRecorder, n int) map[string]sdktrace.ReadOnlySpan {
	t.Helper()
	require.Eventually(t, func() bool { return len(sr.Ended()) >= n }, hangGuard, time.Millisecond)
	spans := map[string]sdktrace.ReadOnlySpan{}
	for _, s := range sr.Ended() {
		key := s.Name()
		if s.SpanKind() == trace.SpanKindServer {
			key = "server:" + key
		} else if s.SpanKind() == trace.SpanKindClient {
			key = "client:" + key
		}
		spans[key] = s
	}
	require.Len(t, sr.Ended(), n, "spans: %v", names(sr.Ended()))
	return spans
}

func names(spans []sdktrace.ReadOnlySpan) []string {
	var ns []string
	for _, s := range spans {
		ns = append(ns, s.SpanKind().String()+":"+s.Name())
	}
	return ns
}

func attrs(s sdktrace.ReadOnlySpan) map[attribute.Key]attribute.Value {
	m := map[attribute.Key]attribute.Value{}
	for _, kv := range s.Attributes() {
		m[kv.Key] = kv.Value
	}
	return m
}

func hasEvent(s sdktrace.ReadOnlySpan, name string) bool {
	for _, e := range s.Events() {
		if e.Name == name {
			return true
		}
	}
	return false
}

// assertCall checks the attributes every span of a call of method has.
func assertCall(t *testing.T, s sdktrace.ReadOnlySpan, method, status string, code int64) {
	t.Helper()
	a := attrs(s)
	assert.Equal(t, "fastrpc", a[fastrpcotel.SystemKey].AsString(), "%s: rpc.system", s.Name())
	assert.Equal(t, method, a[fastrpcotel.MethodKey].AsString(), "%s: rpc.method", s.Name())
	assert.Equal(t, status, a[fastrpcotel.StatusKey].AsString(), "%s: status", s.Name())
	assert.Equal(t, code, a[fastrpcotel.StatusCodeKey].AsInt64(), "%s: status code", s.Name())
	assert.Equal(t, method, s.Name())
	assert.Equal(t, fastrpcotel.ScopeName, s.InstrumentationScope().Name)
}

func TestOneTraceAcrossSlaveAndMaster(t *testing.T) {
	tp, sr := newProvider(t)
	m := master.New(master.Config{Middleware: []master.Middleware{(&fastrpcotel.Tracing{TracerProvider: tp}).WrapHandler}})
	var handlerSpan trace.SpanContext
	require.NoError(t, m.Register("echo", master.MethodInfo{}, func(op *master.IOOperator) error {
		handlerSpan = trace.SpanContextFromContext(op.Context())
		_, child := tp.Tracer("app").Start(op.Context(), "child")
		child.End()
		b, err := op.ReadAll()
		if err != nil {
			return err
		}
		return op.WriteIOFromBuffer(b)
	}))
	addr := serve(t, m)
	s := newSlave(t, slave.Config{Address: addr.String(),
		Middleware: []slave.Middleware{(&fastrpcotel.CallTracing{TracerProvider: tp}).WrapCall}})

	ctx, root := tp.Tracer("app").Start(context.Background(), "root")
	resp, err := s.Call(ctx, "echo", []byte("hello"))
	root.End()
	require.NoError(t, err)
	assert.Equal(t, "hello", string(resp))

	spans := waitSpans(t, sr, 4)
	rootS, client, server, child := spans["root"], spans["client:echo"], spans["server:echo"], spans["child"]
	require.NotNil(t, rootS)
	require.NotNil(t, client)
	require.NotNil(t, server)
	require.NotNil(t, child)

	traceID := rootS.SpanContext().TraceID()
	for _, s := range []sdktrace.ReadOnlySpan{client, server, child} {
		assert.Equal(t, traceID, s.SpanContext().TraceID(), "%s: trace ID", s.Name())
	}
	assert.Equal(t, rootS.SpanContext().SpanID(), client.Parent().SpanID(), "client span's parent")
	assert.Equal(t, client.SpanContext().SpanID(), server.Parent().SpanID(), "server span's parent")
	assert.True(t, server.Parent().IsRemote(), "the server span's parent came over the wire")
	assert.Equal(t, server.SpanContext().SpanID(), child.Parent().SpanID(), "handler's child span's parent")
	assert.Equal(t, server.SpanContext(), handlerSpan, "the handler's context carries the server span")

	assertCall(t, client, "echo", "ok", 0)
	assertCall(t, server, "echo", "ok", 0)
	for _, s := range []sdktrace.ReadOnlySpan{client, server} {
		assert.Equal(t, codes.Unset, s.Status().Code, "%s: span status", s.SpanKind())
		assert.Equal(t, int64(5), attrs(s)[fastrpcotel.RequestSizeKey].AsInt64(), "%s: request size", s.SpanKind())
		assert.Equal(t, int64(5), attrs(s)[fastrpcotel.ResponseSizeKey].AsInt64(), "%s: response size", s.SpanKind())
	}
	sa := attrs(server)
	assert.Equal(t, "127.0.0.1", sa["network.peer.address"].AsString())
	assert.NotZero(t, sa["network.peer.port"].AsInt64())
	assert.Equal(t, "tcp", sa["network.transport"].AsString())
	assert.Equal(t, trace.SpanKindClient, client.SpanKind())
	assert.Equal(t, trace.SpanKindServer, server.SpanKind())
}

func TestErrorStatuses(t *testing.T) {
	tp, sr := newProvider(t)
	m := master.New(master.Config{Middleware: []master.Middleware{(&fastrpcotel.Tracing{TracerProvider: tp}).WrapHandler}})
	require.NoError(t, m.Register("fail", master.MethodInfo{}, func(op *master.IOOperator) error {
		return master.WithCode(errors.New("no such user"), 7)
	}))
	require.NoError(t, m.Register("panic", master.MethodInfo{}, func(op *master.IOOperator) error {
		panic("boom")
	}))
	require.NoError(t, m.Register("slow", master.MethodInfo{}, func(op *master.IOOperator) error {
		<-op.Context().Done()
		return op.Context().Err()
	}))
	addr := serve(t, m)
	s := newSlave(t, slave.Config{Address: addr.String(),
		Middleware: []slave.Middleware{(&fastrpcotel.CallTracing{TracerProvider: tp}).WrapCall}})
	ctx := context.Background()

	t.Run("handler error", func(t *testing.T) {
		sr.Reset()
		_, err := s.Call(ctx, "fail", []byte("secret payload"))
		require.ErrorIs(t, err, slave.ErrApplication)
		spans := waitSpans(t, sr, 2)
		for _, sp := range []sdktrace.ReadOnlySpan{spans["client:fail"], spans["server:fail"]} {
			require.NotNil(t, sp)
			assertCall(t, sp, "fail", "application error", int64(frame.StatusApplicationError))
			assert.Equal(t, sdktrace.Status{Code: codes.Error, Description: "application error"}, sp.Status())
			assert.Equal(t, int64(7), attrs(sp)[fastrpcotel.ErrorCodeKey].AsInt64(), "%s: error code", sp.SpanKind())
			assert.Empty(t, sp.Events(), "no error recorded without RecordErrors")
		}
	})

	t.Run("handler panic", func(t *testing.T) {
		sr.Reset()
		_, err := s.Call(ctx, "panic", nil)
		require.ErrorIs(t, err, slave.ErrHandlerPanic)
		spans := waitSpans(t, sr, 2)
		for _, sp := range []sdktrace.ReadOnlySpan{spans["client:panic"], spans["server:panic"]} {
			require.NotNil(t, sp)
			assertCall(t, sp, "panic", "handler panic", int64(frame.StatusHandlerPanic))
			assert.Equal(t, sdktrace.Status{Code: codes.Error, Description: "handler panic"}, sp.Status())
		}
	})

	t.Run("unknown method", func(t *testing.T) {
		sr.Reset()
		_, err := s.Call(ctx, "nope", nil)
		require.ErrorIs(t, err, slave.ErrUnknownMethod)
		// The master answers an unknown method before any middleware: only
		// the slave's span.
		spans := waitSpans(t, sr, 1)
		sp := spans["client:nope"]
		require.NotNil(t, sp)
		assertCall(t, sp, "nope", "unknown method", int64(frame.StatusUnknownMethod))
		assert.Equal(t, sdktrace.Status{Code: codes.Error, Description: "unknown method"}, sp.Status())
	})

	t.Run("no answer", func(t *testing.T) {
		sr.Reset()
		cctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
		defer cancel()
		_, err := s.Call(cctx, "slow", nil)
		require.ErrorIs(t, err, context.DeadlineExceeded)
		spans := waitSpans(t, sr, 2)
		cl := spans["client:slow"]
		require.NotNil(t, cl)
		// The slave gave up at its deadline, or the master, at the same
		// deadline, answered first.
		if attrs(cl)[fastrpcotel.StatusCodeKey].AsInt64() == 255 {
			assertCall(t, cl, "slow", "no answer", 255)
			assert.Equal(t, sdktrace.Status{Code: codes.Error, Description: "no answer: deadline exceeded"}, cl.Status())
		} else {
			assertCall(t, cl, "slow", "deadline exceeded", int64(frame.StatusDeadlineExceeded))
			assert.Equal(t, sdktrace.Status{Code: codes.Error, Description: "deadline exceeded"}, cl.Status())
		}
		sv := spans["server:slow"]
		require.NotNil(t, sv)
		// The master's own deadline, or the slave's cancel frame sent when
		// its deadline passed, whichever came first.
		status := attrs(sv)[fastrpcotel.StatusKey].AsString()
		assert.Contains(t, []string{"deadline exceeded", "cancelled"}, status)
		assert.Equal(t, sdktrace.Status{Code: codes.Error, Description: status}, sv.Status())
	})

	t.Run("master unavailable", func(t *testing.T) {
		sr.Reset()
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		dead := ln.Addr().String()
		require.NoError(t, ln.Close())
		s := newSlave(t, slave.Config{Address: dead,
			Middleware: []slave.Middleware{(&fastrpcotel.CallTracing{TracerProvider: tp}).WrapCall}})
		_, err = s.Call(ctx, "echo", nil)
		require.ErrorIs(t, err, slave.ErrUnavailable)
		sp := waitSpans(t, sr, 1)["client:echo"]
		require.NotNil(t, sp)
		assertCall(t, sp, "echo", "no answer", 255)
		assert.Equal(t, sdktrace.Status{Code: codes.Error, Description: "no answer: master unavailable"}, sp.Status())
	})
}

func TestRecordErrors(t *testing.T) {
	tp, sr := newProvider(t)
	m := master.New(master.Config{Middleware: []master.Middleware{(&fastrpcotel.Tracing{TracerProvider: tp, RecordErrors: true}).WrapHandler}})
	require.NoError(t, m.Register("fail", master.MethodInfo{}, func(op *master.IOOperator) error {
		return errors.New("no such user")
	}))
	s := newSlave(t, slave.Config{Address: serve(t, m).String(),
		Middleware: []slave.Middleware{(&fastrpcotel.CallTracing{TracerProvider: tp, RecordErrors: true}).WrapCall}})
	_, err := s.Call(context.Background(), "fail", nil)
	require.Error(t, err)
	spans := waitSpans(t, sr, 2)
	for _, sp := range spans {
		require.True(t, hasEvent(sp, "exception"), "%s: exception event", sp.SpanKind())
		msg := ""
		for _, kv := range sp.Events()[0].Attributes {
			if kv.Key == "exception.message" {
				msg = kv.Value.AsString()
			}
		}
		assert.Contains(t, msg, "no such user")
		assert.Equal(t, "application error", sp.Status().Description)
	}
}

// TestNoMetadataValuesRecorded: a bearer token travels in the metadata next
// to the trace context; no span says it.
func TestNoMetadataValuesRecorded(t *testing.T) {
	const secret = "s3cr3t-token-value"
	tp, sr := newProvider(t)
	m := master.New(master.Config{Middleware: []master.Middleware{
		(&fastrpcotel.Tracing{TracerProvider: tp, RecordErrors: true}).WrapHandler,
		(&middleware.TokenAuth{Tokens: []string{"the-good-one"}}).WrapHandler,
	}})
	require.NoError(t, m.Register("echo", master.MethodInfo{}, func(op *master.IOOperator) error { return nil }))
	s := newSlave(t, slave.Config{Address: serve(t, m).String(), Middleware: []slave.Middleware{
		(&fastrpcotel.CallTracing{TracerProvider: tp, RecordErrors: true}).WrapCall,
		(&middleware.CallToken{Token: secret}).WrapCall,
	}})
	_, err := s.Call(context.Background(), "echo", []byte("payload-bytes"))
	require.ErrorIs(t, err, slave.ErrPermissionDenied)
	spans := waitSpans(t, sr, 2)
	for _, sp := range spans {
		assertCall(t, sp, "echo", "permission denied", int64(frame.StatusPermissionDenied))
		assert.Equal(t, trace.SpanKindServer == sp.SpanKind(), sp.Parent().IsRemote(), "trace context went along with the token")
		text := sp.Name() + sp.Status().Description
		for _, kv := range sp.Attributes() {
			text += string(kv.Key) + kv.Value.String()
		}
		for _, e := range sp.Events() {
			text += e.Name
			for _, kv := range e.Attributes {
				text += string(kv.Key) + kv.Value.String()
			}
		}
		assert.NotContains(t, text, secret)
		assert.NotContains(t, text, "payload-bytes")
	}
}

// TestBaggageReachesHandler: with the default propagator (none given, none
// installed) baggage goes along with the trace context.
func TestBaggageReachesHandler(t *testing.T) {
	tp, _ := newProvider(t)
	m := master.New(master.Config{Middleware: []master.Middleware{(&fastrpcotel.Tracing{TracerProvider: tp}).WrapHandler}})
	got := make(chan string, 1)
	require.NoError(t, m.Register("echo", master.MethodInfo{}, func(op *master.IOOperator) error {
		got <- baggage.FromContext(op.Context()).Member("tenant").Value()
		return nil
	}))
	s := newSlave(t, slave.Config{Address: serve(t, m).String(),
		Middleware: []slave.Middleware{(&fastrpcotel.CallTracing{TracerProvider: tp}).WrapCall}})
	mem, err := baggage.NewMember("tenant", "acme")
	require.NoError(t, err)
	bag, err := baggage.New(mem)
	require.NoError(t, err)
	_, err = s.Call(baggage.ContextWithBaggage(context.Background(), bag), "echo", nil)
	require.NoError(t, err)
	assert.Equal(t, "acme", <-got)
}

// TestTraceContextReplaced: a traceparent the caller put in the metadata
// itself gives way to the client span's.
func TestTraceContextReplaced(t *testing.T) {
	tp, sr := newProvider(t)
	m := master.New(master.Config{Middleware: []master.Middleware{(&fastrpcotel.Tracing{TracerProvider: tp}).WrapHandler}})
	got := make(chan metadata.MD, 1)
	require.NoError(t, m.Register("echo", master.MethodInfo{}, func(op *master.IOOperator) error {
		got <- append(metadata.MD(nil), op.Metadata()...)
		return nil
	}))
	s := newSlave(t, slave.Config{Address: serve(t, m).String(),
		Middleware: []slave.Middleware{(&fastrpcotel.CallTracing{TracerProvider: tp}).WrapCall}})
	ctx := metadata.AppendToOutgoingContext(context.Background(),
		"traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", "x-app", "kept")
	_, err := s.Call(ctx, "echo", nil)
	require.NoError(t, err)
	md := <-got
	assert.Len(t, md.Values("traceparent"), 1)
	v, _ := md.Get("x-app")
	assert.Equal(t, "kept", v)
	spans := waitSpans(t, sr, 2)
	assert.Equal(t, spans["client:echo"].SpanContext().SpanID(), spans["server:echo"].Parent().SpanID())
}

// funcPropagator injects what inject writes.
type funcPropagator struct {
	propagation.TraceContext
	inject func(propagation.TextMapCarrier)
}

func (p funcPropagator) Inject(ctx context.Context, c propagation.TextMapCarrier) {
	p.TraceContext.Inject(ctx, c)
	p.inject(c)
}

// TestUnsendableTraceContext: trace context that metadata cannot carry is
// left out; the call goes.
func TestUnsendableTraceContext(t *testing.T) {
	tp, sr := newProvider(t)
	m := master.New(master.Config{})
	require.NoError(t, m.Register("echo", master.MethodInfo{}, func(op *master.IOOperator) error { return nil }))
	addr := serve(t, m).String()
	for name, inject := range map[string]func(propagation.TextMapCarrier){
		"bad key":  func(c propagation.TextMapCarrier) { c.Set("bad key", "v") },
		"too much": func(c propagation.TextMapCarrier) { c.Set("tracestate", strings.Repeat("a", frame.MaxMetadataSize)) },
	} {
		t.Run(name, func(t *testing.T) {
			sr.Reset()
			s := newSlave(t, slave.Config{Address: addr, Middleware: []slave.Middleware{
				(&fastrpcotel.CallTracing{TracerProvider: tp, Propagator: funcPropagator{inject: inject}}).WrapCall}})
			_, err := s.Call(context.Background(), "echo", nil)
			require.NoError(t, err)
			sp := waitSpans(t, sr, 1)["client:echo"]
			require.NotNil(t, sp)
			assert.True(t, hasEvent(sp, "fastrpc.trace_context_not_sent"))
			assertCall(t, sp, "echo", "ok", 0)
		})
	}
}

// TestProtocolVersion1 pins the slave to protocol version 1, which has no
// metadata: the calls still work, traced on both sides, in two traces.
func TestProtocolVersion1(t *testing.T) {
	tp, sr := newProvider(t)
	m := master.New(master.Config{Middleware: []master.Middleware{(&fastrpcotel.Tracing{TracerProvider: tp}).WrapHandler}})
	require.NoError(t, m.Register("echo", master.MethodInfo{}, func(op *master.IOOperator) error {
		b, err := op.ReadAll()
		if err != nil {
			return err
		}
		return op.WriteIOFromBuffer(b)
	}))
	s := newSlave(t, slave.Config{Address: serve(t, m).String(), MaxProtocolVersion: 1,
		Middleware: []slave.Middleware{(&fastrpcotel.CallTracing{TracerProvider: tp}).WrapCall}})

	t.Run("Call", func(t *testing.T) {
		sr.Reset()
		resp, err := s.Call(context.Background(), "echo", []byte("hello"))
		require.NoError(t, err)
		assert.Equal(t, "hello", string(resp))
		spans := waitSpans(t, sr, 2)
		client, server := spans["client:echo"], spans["server:echo"]
		require.NotNil(t, client)
		require.NotNil(t, server)
		assertCall(t, client, "echo", "ok", 0)
		assertCall(t, server, "echo", "ok", 0)
		assert.True(t, hasEvent(client, "fastrpc.trace_context_not_sent"))
		assert.False(t, server.Parent().IsValid(), "the master got no trace context: a root span")
	})

	t.Run("CallStream", func(t *testing.T) {
		// The refused attempt read nothing of the body.
		sr.Reset()
		var out bytes.Buffer
		n, err := s.CallStream(context.Background(), "echo", strings.NewReader("streamed"), 8, &out)
		require.NoError(t, err)
		assert.Equal(t, int64(8), n)
		assert.Equal(t, "streamed", out.String())
		waitSpans(t, sr, 2)
	})

	t.Run("metadata of the caller's own", func(t *testing.T) {
		// Tracing is not what makes it fail, and does not hide why.
		sr.Reset()
		ctx := metadata.AppendToOutgoingContext(context.Background(), "x-app", "v")
		_, err := s.Call(ctx, "echo", nil)
		require.ErrorIs(t, err, slave.ErrMetadataUnsupported)
		sp := waitSpans(t, sr, 1)["client:echo"]
		require.NotNil(t, sp)
		assert.Equal(t, "no answer: the master speaks protocol version 1, which has no metadata", sp.Status().Description)
	})
}

// TestFromJSON loads both modules by name, with the global tracer
// provider.
func TestFromJSON(t *testing.T) {
	tp, sr := newProvider(t)
	prev := otel.GetTracerProvider()
	otel.SetTracerProvider(tp)
	t.Cleanup(func() { otel.SetTracerProvider(prev) })

	for _, id := range []module.ID{"master.middleware.otel", "slave.middleware.otel"} {
		_, err := module.Lookup(id)
		require.NoError(t, err, id)
	}

	ctx := context.Background()
	m, err := master.FromJSON(ctx, []byte(`{"middleware":[{"module":"otel","record_errors":true}]}`))
	require.NoError(t, err)
	require.NoError(t, m.Register("echo", master.MethodInfo{}, func(op *master.IOOperator) error { return nil }))
	addr := serve(t, m)
	s, err := slave.FromJSON(ctx, []byte(`{"address":"`+addr.String()+`","pool_size":1,"middleware":[{"module":"otel"}]}`))
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })

	_, err = s.Call(ctx, "echo", nil)
	require.NoError(t, err)
	spans := waitSpans(t, sr, 2)
	client, server := spans["client:echo"], spans["server:echo"]
	require.NotNil(t, client)
	require.NotNil(t, server)
	assertCall(t, client, "echo", "ok", 0)
	assertCall(t, server, "echo", "ok", 0)
	assert.Equal(t, client.SpanContext().SpanID(), server.Parent().SpanID())

	_, err = master.FromJSON(ctx, []byte(`{"middleware":[{"module":"otel","no_such_field":1}]}`))
	assert.Error(t, err, "unknown fields are refused")
}

func TestMetadataCarrier(t *testing.T) {
	c := &fastrpcotel.MetadataCarrier{MD: metadata.Pairs("a", "1", "traceparent", "old", "a", "2")}
	assert.Equal(t, "1", c.Get("A"))
	assert.Equal(t, []string{"1", "2"}, c.Values("a"))
	assert.Equal(t, "", c.Get("missing"))
	c.Set("TraceParent", "new")
	assert.Equal(t, metadata.MD{{Key: "a", Value: "1"}, {Key: "a", Value: "2"}, {Key: "traceparent", Value: "new"}}, c.MD)
	assert.Equal(t, []string{"a", "traceparent"}, c.Keys())
	c.Set("a", "3")
	assert.Equal(t, metadata.MD{{Key: "traceparent", Value: "new"}, {Key: "a", Value: "3"}}, c.MD)
}

// TestGlobalPropagator: with no Propagator, one the application installs
// globally is used, even after the middleware was applied.
func TestGlobalPropagator(t *testing.T) {
	tp, sr := newProvider(t)
	m := master.New(master.Config{Middleware: []master.Middleware{(&fastrpcotel.Tracing{TracerProvider: tp}).WrapHandler}})
	got := make(chan string, 1)
	require.NoError(t, m.Register("echo", master.MethodInfo{}, func(op *master.IOOperator) error {
		v, _ := op.Metadata().Get("x-custom")
		got <- v
		return nil
	}))
	s := newSlave(t, slave.Config{Address: serve(t, m).String(),
		Middleware: []slave.Middleware{(&fastrpcotel.CallTracing{TracerProvider: tp}).WrapCall}})

	// Installed after the middleware was applied. It keeps TraceContext
	// and Baggage so the global delegate, which forwards to it for good,
	// does not change the other tests.
	prev := otel.GetTextMapPropagator()
	otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator(
		propagation.TraceContext{}, propagation.Baggage{},
		funcPropagator{inject: func(c propagation.TextMapCarrier) { c.Set("x-custom", "yes") }}))
	t.Cleanup(func() { otel.SetTextMapPropagator(prev) })

	_, err := s.Call(context.Background(), "echo", nil)
	require.NoError(t, err)
	assert.Equal(t, "yes", <-got)
	spans := waitSpans(t, sr, 2)
	assert.Equal(t, spans["client:echo"].SpanContext().SpanID(), spans["server:echo"].Parent().SpanID())
}
