package middleware

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/AmanTrance/FastRpc/frame"
	"github.com/AmanTrance/FastRpc/module"
	"github.com/AmanTrance/FastRpc/slave"
)

// StatusNoAnswer is what slave-side middleware reports for a call that
// ended without an answer from the master: a lost connection, a deadline
// or cancellation on the slave, or a request refused before sending. It is
// not a wire status.
const StatusNoAnswer frame.Status = 255

// callStatus is the status a slave-side call ended with.
func callStatus(err error) frame.Status {
	if err == nil {
		return frame.StatusOK
	}
	var re *slave.RemoteError
	if errors.As(err, &re) {
		return re.Status
	}
	return StatusNoAnswer
}

// CallLogging is the "slave.middleware.logging" module: Logging for a
// slave, one record per call the slave makes, with the slave's view of the
// outcome (a call that got no answer has the status "no answer"). Its
// fields and its JSON config are Logging's:
//
//	(&middleware.CallLogging{Logger: logger}).WrapCall
type CallLogging Logging

// FastRpcModule implements module.Module.
func (CallLogging) FastRpcModule() module.ModuleInfo {
	return module.ModuleInfo{ID: slaveID("logging"), New: func() module.Module { return new(CallLogging) }}
}

// Provision fills the defaults and checks the level, as Logging's does.
func (l *CallLogging) Provision(ctx context.Context) error { return (*Logging)(l).Provision(ctx) }

// WrapCall implements slave.MiddlewareModule.
func (l *CallLogging) WrapCall(next slave.Invoker) slave.Invoker {
	if l.Logger == nil {
		_ = l.Provision(context.Background())
	}
	return func(ctx context.Context, info *slave.CallInfo) error {
		start := time.Now()
		err := next(ctx, info)
		status := callStatus(err)
		level := l.level
		if err != nil {
			level = max(level, slog.LevelWarn)
		}
		attrs := []slog.Attr{
			slog.String("method", info.Method),
			slog.Duration("duration", time.Since(start)),
			slog.Uint64("request_bytes", info.RequestLength),
			slog.Uint64("response_bytes", info.ResponseLength),
			slog.String("status", statusName(status)),
		}
		if err != nil {
			attrs = append(attrs, slog.String("err", err.Error()))
		}
		l.Logger.LogAttrs(ctx, level, "fastrpc call made", attrs...)
		return err
	}
}

func statusName(s frame.Status) string {
	if s == StatusNoAnswer {
		return "no answer"
	}
	return s.String()
}

// CallMetrics is the "slave.middleware.metrics" module: Metrics for a
// slave, observing every call the slave makes, calls that got no answer
// as StatusNoAnswer. Its fields and its JSON config are Metrics's.
type CallMetrics Metrics

// FastRpcModule implements module.Module.
func (CallMetrics) FastRpcModule() module.ModuleInfo {
	return module.ModuleInfo{ID: slaveID("metrics"), New: func() module.Module { return new(CallMetrics) }}
}

// Provision fills the defaults, as Metrics's does.
func (m *CallMetrics) Provision(ctx context.Context) error { return (*Metrics)(m).Provision(ctx) }

// WrapCall implements slave.MiddlewareModule.
func (m *CallMetrics) WrapCall(next slave.Invoker) slave.Invoker {
	if m.Sink == nil {
		_ = m.Provision(context.Background())
	}
	sink := m.Sink
	return func(ctx context.Context, info *slave.CallInfo) error {
		start := time.Now()
		err := next(ctx, info)
		sink.ObserveCall(info.Method, callStatus(err), time.Since(start), info.RequestLength, info.ResponseLength)
		return err
	}
}
