package slave

import (
	"bytes"
	"context"
	"encoding/json"

	"github.com/AmanTrance/FastRpc/conn"
	"github.com/AmanTrance/FastRpc/internal/errtext"
	"github.com/AmanTrance/FastRpc/module"
	"github.com/AmanTrance/FastRpc/poolimpl"
)

// JSONConfig is a slave's configuration in JSON. The dialer, the pool and
// middleware are modules named by their "module" field, from the
// "dialer", "pool" and "slave.middleware" namespaces
// (module.NamespaceDialer, module.NamespacePool and
// module.NamespaceSlaveMiddleware):
//
//	{
//	  "address": "127.0.0.1:10443",
//	  "dialer": {"module": "tls", "ca_file": "ca.pem"},
//	  "pool": {"module": "puddle", "min_idle": 2},
//	  "pool_size": 8,
//	  "middleware": [{"module": "logging"}],
//	  "dial_timeout": "3s"
//	}
//
// Missing fields take Config's defaults; a pool without "module" is
// poolimpl.DefaultModule.
type JSONConfig struct {
	Network              string            `json:"network,omitempty"`
	Address              string            `json:"address"`
	Dialer               json.RawMessage   `json:"dialer,omitempty"`
	Pool                 json.RawMessage   `json:"pool,omitempty"`
	PoolSize             int               `json:"pool_size,omitempty"`
	DialTimeout          module.Duration   `json:"dial_timeout,omitempty"`
	MaxRequestSize       int64             `json:"max_request_size,omitempty"`
	MaxResponseSize      int64             `json:"max_response_size,omitempty"`
	MaxStreamRequestSize int64             `json:"max_stream_request_size,omitempty"`
	Middleware           []json.RawMessage `json:"middleware,omitempty"`
	ReadBufferSize       int               `json:"read_buffer_size,omitempty"`
	WriteBufferSize      int               `json:"write_buffer_size,omitempty"`
	MaxProtocolVersion   uint16            `json:"max_protocol_version,omitempty"`
}

// FromJSON builds a slave from a JSONConfig document, loading its modules
// (provisioned and validated). It does not connect; see Warm. The modules
// are cleaned up when the slave is closed, or at once if FromJSON fails.
func FromJSON(ctx context.Context, data []byte) (*Slave, error) {
	var jc JSONConfig
	if err := module.DecodeStrict(data, &jc); err != nil {
		return nil, errtext.Errorf("slave config: %w", err)
	}
	loader := module.NewLoader(ctx)
	fail := func(err error) (*Slave, error) {
		if cerr := loader.Cleanup(); cerr != nil {
			err = errtext.Errorf("%w; then %w", err, cerr)
		}
		return nil, err
	}
	cfg, err := LoadConfig(loader, jc)
	if err != nil {
		return fail(err)
	}
	s, err := New(cfg)
	if err != nil {
		return fail(errtext.Errorf("slave config: %w", err))
	}
	s.loader = loader
	return s, nil
}

// LoadConfig turns jc into a Config, loading its modules through l (which
// records them for cleanup): for a package that builds slaves from its own
// JSON, as package cluster does for each master. FromJSON is LoadConfig
// and New.
func LoadConfig(l *module.Loader, jc JSONConfig) (Config, error) {
	loader := l
	fail := func(err error) (Config, error) { return Config{}, err }
	cfg := Config{
		Network:              jc.Network,
		Address:              jc.Address,
		PoolSize:             jc.PoolSize,
		DialTimeout:          jc.DialTimeout.D(),
		MaxRequestSize:       jc.MaxRequestSize,
		MaxStreamRequestSize: jc.MaxStreamRequestSize,
		MaxResponseSize:      jc.MaxResponseSize,
		Conn:                 conn.Config{ReadBufferSize: jc.ReadBufferSize, WriteBufferSize: jc.WriteBufferSize},
		MaxProtocolVersion:   jc.MaxProtocolVersion,
	}
	if len(jc.Dialer) > 0 {
		d, err := module.LoadAs[conn.Dialer](loader, module.NamespaceDialer, jc.Dialer)
		if err != nil {
			return fail(errtext.Errorf("slave config: dialer: %w", err))
		}
		cfg.Dialer = d
	}
	if len(jc.Pool) > 0 {
		p, err := loadPool(loader, jc.Pool)
		if err != nil {
			return fail(errtext.Errorf("slave config: pool: %w", err))
		}
		cfg.Pool = p.NewPool
	}
	for i, raw := range jc.Middleware {
		mw, err := module.LoadAs[MiddlewareModule](loader, module.NamespaceSlaveMiddleware, raw)
		if err != nil {
			return fail(errtext.Errorf("slave config: middleware[%d]: %w", i, err))
		}
		cfg.Middleware = append(cfg.Middleware, mw.WrapCall)
	}
	return cfg, nil
}

// loadPool loads, through l, the pool module a JSON object describes:
// "module" names it (poolimpl.DefaultModule when absent) and the other
// fields are its options. Empty input or null means the default pool.
func loadPool(l *module.Loader, raw json.RawMessage) (poolimpl.Module, error) {
	if t := bytes.TrimSpace(raw); len(t) == 0 || bytes.Equal(t, []byte("null")) {
		raw = json.RawMessage(`{}`)
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil {
		return nil, errtext.Errorf("want a JSON object: %w", err)
	}
	if _, ok := fields["module"]; !ok {
		if fields == nil {
			fields = map[string]json.RawMessage{}
		}
		fields["module"] = json.RawMessage(`"` + poolimpl.DefaultModule + `"`)
		var err error
		if raw, err = json.Marshal(fields); err != nil {
			return nil, errtext.Errorf("%w", err)
		}
	}
	return module.LoadAs[poolimpl.Module](l, module.NamespacePool, raw)
}
