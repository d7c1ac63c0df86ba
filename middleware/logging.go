package middleware

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/AmanTrance/FastRpc/frame"
	"github.com/AmanTrance/FastRpc/master"
	"github.com/AmanTrance/FastRpc/module"
	"github.com/AmanTrance/FastRpc/slave"
)

func init() {
	module.Register(Logging{})
	module.Register(Recover{})
	module.Register(Authorize{})
	module.Register(Metrics{})
	module.Register(CallLogging{})
	module.Register(CallMetrics{})
	module.Register(TokenAuth{})
	module.Register(CallToken{})
}

// Each module serves one namespace, with that namespace's interface.
var (
	_ master.MiddlewareModule = (*Logging)(nil)
	_ master.MiddlewareModule = (*Recover)(nil)
	_ master.MiddlewareModule = (*Authorize)(nil)
	_ master.MiddlewareModule = (*Metrics)(nil)
	_ slave.MiddlewareModule  = (*CallLogging)(nil)
	_ slave.MiddlewareModule  = (*CallMetrics)(nil)
	_ master.MiddlewareModule = (*TokenAuth)(nil)
	_ slave.MiddlewareModule  = (*CallToken)(nil)
)

// masterID and slaveID are the IDs of the modules named name in the
// master's and the slave's middleware namespaces.
func masterID(name string) module.ID {
	return module.ID(module.NamespaceMasterMiddleware + "." + name)
}

func slaveID(name string) module.ID {
	return module.ID(module.NamespaceSlaveMiddleware + "." + name)
}

// Logging is the "master.middleware.logging" module: it writes one record
// per call the master serves. Successful calls log at Level (default
// info), failed ones at warn. CallLogging does the same for a slave.
type Logging struct {
	// Logger receives the records; nil means the logger of the context
	// the module is loaded with (module.ContextWithLogger), or slog.Default().
	Logger *slog.Logger `json:"-"`
	// Level is "debug", "info" (default), "warn" or "error".
	Level string `json:"level,omitempty"`

	level slog.Level
}

// FastRpcModule implements module.Module.
func (Logging) FastRpcModule() module.ModuleInfo {
	return module.ModuleInfo{ID: masterID("logging"), New: func() module.Module { return new(Logging) }}
}

// Provision fills the defaults and checks the level.
func (l *Logging) Provision(ctx context.Context) error {
	if l.Logger == nil {
		l.Logger = cmpLogger(module.LoggerFrom(ctx), slog.Default())
	}
	if err := l.level.UnmarshalText([]byte(cmpOr(l.Level, "info"))); err != nil {
		return fmt.Errorf("level %q: use debug, info, warn or error", l.Level)
	}
	return nil
}

// WrapHandler implements master.MiddlewareModule.
func (l *Logging) WrapHandler(next master.Handler) master.Handler {
	if l.Logger == nil {
		_ = l.Provision(context.Background())
	}
	return func(op *master.IOOperator) (err error) {
		start := time.Now()
		defer func() {
			v := recover()
			l.log(op, start, err, v)
			if v != nil {
				panic(v) // the master, or a Recover further out, handles it
			}
		}()
		return next(op)
	}
}

func (l *Logging) log(op *master.IOOperator, start time.Time, err error, panicked any) {
	status := master.StatusOf(op, err)
	if panicked != nil {
		status = frame.StatusHandlerPanic
	}
	level := l.level
	if status != frame.StatusOK {
		level = max(level, slog.LevelWarn)
	}
	attrs := []slog.Attr{
		slog.String("method", op.Method()),
		slog.String("remote", addrString(op)),
		slog.Duration("duration", time.Since(start)),
		slog.Uint64("request_bytes", op.RequestLength()),
		slog.Uint64("response_bytes", op.ResponseLength()),
		slog.String("status", status.String()),
	}
	if err != nil {
		attrs = append(attrs, slog.String("err", err.Error()))
	}
	l.Logger.LogAttrs(context.Background(), level, "fastrpc call", attrs...)
}

func addrString(op *master.IOOperator) string {
	if a := op.RemoteAddr(); a != nil {
		return a.String()
	}
	return ""
}

func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return strings.ToLower(s)
}

func cmpLogger(a, b *slog.Logger) *slog.Logger {
	if a != nil {
		return a
	}
	return b
}
