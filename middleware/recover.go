package middleware

import (
	"context"
	"fmt"
	"log/slog"
	"runtime/debug"

	"github.com/AmanTrance/FastRpc/master"
	"github.com/AmanTrance/FastRpc/module"
)

// Recover is the "master.middleware.recover" module: it turns a panic in
// the handlers it wraps into an error matching master.ErrPanicked, so the
// caller gets StatusHandlerPanic with a generic message and middleware
// outside it sees the outcome. The panic value and stack go to Logger.
// (The master recovers panics by itself too; Recover is for seeing them in
// the middleware chain and in your own log.)
type Recover struct {
	// Logger receives the panic and its stack; nil means the logger of the
	// context the module is loaded with (module.ContextWithLogger), or
	// slog.Default().
	Logger *slog.Logger `json:"-"`
}

// FastRpcModule implements module.Module.
func (Recover) FastRpcModule() module.ModuleInfo {
	return module.ModuleInfo{ID: masterID("recover"), New: func() module.Module { return new(Recover) }}
}

// Provision fills the defaults.
func (r *Recover) Provision(ctx context.Context) error {
	if r.Logger == nil {
		r.Logger = cmpLogger(module.LoggerFrom(ctx), slog.Default())
	}
	return nil
}

// WrapHandler implements master.MiddlewareModule.
func (r *Recover) WrapHandler(next master.Handler) master.Handler {
	if r.Logger == nil {
		_ = r.Provision(context.Background())
	}
	return func(op *master.IOOperator) (err error) {
		defer func() {
			if v := recover(); v != nil {
				r.Logger.Error("fastrpc: handler panicked", "method", op.Method(), "remote", addrString(op),
					"panic", fmt.Sprint(v), "stack", string(debug.Stack()))
				err = fmt.Errorf("%w in %s", master.ErrPanicked, op.Method())
			}
		}()
		return next(op)
	}
}
