package slave

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/AmanTrance/FastRpc/conn"
	"github.com/AmanTrance/FastRpc/module"
)

// JSONConfig is a slave's configuration in JSON. The dialer, the pool and
// middleware are modules named by their "module" field, from the "dialer",
// "pool" and "middleware" namespaces:
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
// Missing fields take Config's defaults.
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
}

// FromJSON builds a slave from a JSONConfig document, loading its modules
// (provisioned and validated). It does not connect; see Warm. Modules with
// a Cleanup are cleaned up when the slave is closed.
func FromJSON(ctx context.Context, data []byte) (*Slave, error) {
	var jc JSONConfig
	if err := module.DecodeStrict(data, &jc); err != nil {
		return nil, fmt.Errorf("fastrpc: slave config: %w", err)
	}
	var loaded module.Loaded
	fail := func(err error) (*Slave, error) {
		_ = loaded.Cleanup()
		return nil, err
	}
	cfg := Config{
		Network:              jc.Network,
		Address:              jc.Address,
		PoolSize:             jc.PoolSize,
		DialTimeout:          jc.DialTimeout.D(),
		MaxRequestSize:       jc.MaxRequestSize,
		MaxStreamRequestSize: jc.MaxStreamRequestSize,
		MaxResponseSize:      jc.MaxResponseSize,
		Conn:                 conn.Config{ReadBufferSize: jc.ReadBufferSize, WriteBufferSize: jc.WriteBufferSize},
	}
	if len(jc.Dialer) > 0 {
		d, err := module.LoadAs[conn.Dialer](ctx, "dialer", jc.Dialer)
		if err != nil {
			return fail(fmt.Errorf("fastrpc: slave config: dialer: %w", err))
		}
		loaded.Add(d)
		cfg.Dialer = d
	}
	if len(jc.Pool) > 0 {
		p, err := PoolFromConfig(ctx, jc.Pool)
		if err != nil {
			return fail(fmt.Errorf("fastrpc: slave config: %w", err))
		}
		cfg.Pool = p
	}
	for i, raw := range jc.Middleware {
		mw, err := module.LoadAs[CallMiddlewareModule](ctx, "middleware", raw)
		if err != nil {
			return fail(fmt.Errorf("fastrpc: slave config: middleware[%d]: %w", i, err))
		}
		loaded.Add(mw)
		cfg.Middleware = append(cfg.Middleware, mw.WrapCall)
	}
	s, err := New(cfg)
	if err != nil {
		return fail(fmt.Errorf("fastrpc: slave config: %w", err))
	}
	s.loaded = loaded
	return s, nil
}
