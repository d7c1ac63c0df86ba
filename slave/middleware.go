package slave

import (
	"context"
	"errors"
)

// CallInfo describes one call to call middleware.
type CallInfo struct {
	// Method is the method's name.
	Method string
	// RequestLength is the request payload's length.
	RequestLength uint64
	// ResponseLength is the response payload's length once the call has
	// returned successfully.
	ResponseLength uint64

	c *call // the slave's own state for the call
}

// Invoker makes the call info describes.
type Invoker func(ctx context.Context, info *CallInfo) error

// Middleware wraps every call a slave makes (logging, metrics,
// tracing, retry policies): Config.Middleware
// applies them in order, the first outermost. A slave without middleware
// pays nothing for the feature. Middleware must pass on the CallInfo it was
// given, not one of its own. Middleware sees each call once: the slave's
// own re-send of a call the master did not process happens beneath it.
type Middleware func(next Invoker) Invoker

// MiddlewareModule is what a "slave.middleware.*" module
// (module.NamespaceSlaveMiddleware) provides to a slave.
type MiddlewareModule interface {
	WrapCall(next Invoker) Invoker
}

var errForeignInfo = errors.New("fastrpc: call middleware passed on a CallInfo the slave did not make")

// invokeInner is the innermost Invoker: the call itself.
func (s *Slave) invokeInner(ctx context.Context, info *CallInfo) error {
	if info.c == nil {
		return errForeignInfo
	}
	err := s.roundTrip(ctx, info.c)
	if err == nil {
		if info.c.w != nil {
			info.ResponseLength = uint64(info.c.got)
		} else {
			info.ResponseLength = uint64(len(info.c.dst) - info.c.dstStart)
		}
	}
	return err
}

// buildChain applies cfg.Middleware around invokeInner.
func (s *Slave) buildChain() {
	if len(s.cfg.Middleware) == 0 {
		return
	}
	inv := Invoker(s.invokeInner)
	for i := len(s.cfg.Middleware) - 1; i >= 0; i-- {
		inv = s.cfg.Middleware[i](inv)
	}
	s.invoke = inv
}

// invokeWithMiddleware runs cl through the middleware chain. It is apart
// from the call methods so that only calls on a slave with middleware put
// their state on the heap.
func (s *Slave) invokeWithMiddleware(ctx context.Context, cl *call) error {
	info := &CallInfo{Method: cl.method, RequestLength: cl.reqLen, c: cl}
	return s.invoke(ctx, info)
}
