package master

import (
	"context"
	"encoding/json"

	"github.com/AmanTrance/FastRpc/conn"
	"github.com/AmanTrance/FastRpc/internal/errtext"
	"github.com/AmanTrance/FastRpc/module"
)

// JSONConfig is a master's configuration in JSON. Listeners, middleware
// and the registry are modules named by their "module" field, from the
// "listener", "master.middleware" and "master.registry" namespaces
// (module.NamespaceListener, module.NamespaceMasterMiddleware and
// module.NamespaceMasterRegistry; "etcd" is in module fastrpcetcd):
//
//	{
//	  "listeners": [{"module": "tcp", "address": "127.0.0.1:10000"},
//	                {"module": "unix", "path": "/run/app.sock"}],
//	  "middleware": [{"module": "logging"}, {"module": "recover"}],
//	  "registry": {"module": "etcd", "endpoints": ["10.0.0.9:2379"], "service": "orders"},
//	  "max_request_size": 16777216,
//	  "idle_timeout": "2m"
//	}
//
// Zero or missing limits take Config's defaults.
type JSONConfig struct {
	Listeners       []json.RawMessage `json:"listeners"`
	Middleware      []json.RawMessage `json:"middleware,omitempty"`
	Registry        json.RawMessage   `json:"registry,omitempty"`
	MaxRequestSize  int64             `json:"max_request_size,omitempty"`
	HeaderTimeout   module.Duration   `json:"header_timeout,omitempty"`
	BodyTimeout     module.Duration   `json:"body_timeout,omitempty"`
	WriteTimeout    module.Duration   `json:"write_timeout,omitempty"`
	IdleTimeout     module.Duration   `json:"idle_timeout,omitempty"`
	MaxConnections  int               `json:"max_connections,omitempty"`
	ShutdownTimeout module.Duration   `json:"shutdown_timeout,omitempty"`
	ReadBufferSize  int               `json:"read_buffer_size,omitempty"`
	WriteBufferSize int               `json:"write_buffer_size,omitempty"`
}

// MiddlewareModule is what a "master.middleware.*" module
// (module.NamespaceMasterMiddleware) provides to a master.
type MiddlewareModule interface {
	WrapHandler(next Handler) Handler
}

// FromJSON builds a master from a JSONConfig document: its listeners (for
// Run) and middleware are loaded as modules, provisioned and validated.
// The modules are cleaned up when the master is closed or shut down, or at
// once if FromJSON fails. The master, and modules that log, use the logger
// ctx carries (see module.ContextWithLogger). Register methods on the
// result, then call Run.
func FromJSON(ctx context.Context, data []byte) (*Master, error) {
	var jc JSONConfig
	if err := module.DecodeStrict(data, &jc); err != nil {
		return nil, errtext.Errorf("master config: %w", err)
	}
	loader := module.NewLoader(ctx)
	fail := func(err error) (*Master, error) {
		if cerr := loader.Cleanup(); cerr != nil {
			err = errtext.Errorf("%w; then %w", err, cerr)
		}
		return nil, err
	}
	cfg := Config{
		MaxRequestSize:  jc.MaxRequestSize,
		HeaderTimeout:   jc.HeaderTimeout.D(),
		BodyTimeout:     jc.BodyTimeout.D(),
		WriteTimeout:    jc.WriteTimeout.D(),
		IdleTimeout:     jc.IdleTimeout.D(),
		MaxConnections:  jc.MaxConnections,
		ShutdownTimeout: jc.ShutdownTimeout.D(),
		Logger:          module.LoggerFrom(ctx),
		Conn:            conn.Config{ReadBufferSize: jc.ReadBufferSize, WriteBufferSize: jc.WriteBufferSize},
	}
	for i, raw := range jc.Listeners {
		l, err := module.LoadAs[conn.Listener](loader, module.NamespaceListener, raw)
		if err != nil {
			return fail(errtext.Errorf("master config: listeners[%d]: %w", i, err))
		}
		cfg.Listeners = append(cfg.Listeners, l)
	}
	for i, raw := range jc.Middleware {
		mw, err := module.LoadAs[MiddlewareModule](loader, module.NamespaceMasterMiddleware, raw)
		if err != nil {
			return fail(errtext.Errorf("master config: middleware[%d]: %w", i, err))
		}
		cfg.Middleware = append(cfg.Middleware, mw.WrapHandler)
	}
	if len(jc.Registry) > 0 {
		r, err := module.LoadAs[Registry](loader, module.NamespaceMasterRegistry, jc.Registry)
		if err != nil {
			return fail(errtext.Errorf("master config: registry: %w", err))
		}
		cfg.Registry = r
	}
	m := New(cfg)
	m.loader = loader
	return m, nil
}

// cleanup runs the loaded modules' Cleanup once, for Close and Shutdown.
func (m *Master) cleanup() error {
	var err error
	m.cleanupOnce.Do(func() { err = m.loader.Cleanup() })
	return err
}
