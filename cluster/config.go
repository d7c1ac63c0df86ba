package cluster

import (
	"context"
	"encoding/json"
	"errors"

	"github.com/AmanTrance/FastRpc/internal/errtext"
	"github.com/AmanTrance/FastRpc/module"
	"github.com/AmanTrance/FastRpc/slave"
)

// JSONConfig is a cluster client's configuration in JSON. The resolver
// and the balancer are modules of the "resolver" and "balancer"
// namespaces; "slave" is the JSON of slave.FromJSON without an address,
// used for the slave of every master:
//
//	{
//	  "resolver": {"module": "static", "addresses": ["10.0.0.5:10000", "10.0.0.6:10000"]},
//	  "balancer": {"module": "least_loaded"},
//	  "slave": {"pool_size": 8, "dialer": {"module": "tls", "ca_file": "ca.pem"}},
//	  "idempotent": ["get"],
//	  "eject_backoff": "1s"
//	}
//
// Missing fields take Config's defaults.
type JSONConfig struct {
	Resolver        json.RawMessage  `json:"resolver"`
	Balancer        json.RawMessage  `json:"balancer,omitempty"`
	Slave           slave.JSONConfig `json:"slave,omitempty"`
	EjectBackoff    module.Duration  `json:"eject_backoff,omitempty"`
	MaxEjectBackoff module.Duration  `json:"max_eject_backoff,omitempty"`
	MaxAttempts     int              `json:"max_attempts,omitempty"`
	Idempotent      []string         `json:"idempotent,omitempty"`
	RetryTokens     int              `json:"retry_tokens,omitempty"`
	RetryRatio      float64          `json:"retry_ratio,omitempty"`
}

// FromJSON builds a client from a JSONConfig document, loading its
// modules (provisioned and validated); they are cleaned up when the
// client is closed, or at once if FromJSON fails.
func FromJSON(ctx context.Context, data []byte) (*Client, error) {
	var jc JSONConfig
	if err := module.DecodeStrict(data, &jc); err != nil {
		return nil, errtext.Errorf("cluster config: %w", err)
	}
	l := module.NewLoader(ctx)
	fail := func(err error) (*Client, error) {
		if cerr := l.Cleanup(); cerr != nil {
			err = errtext.Errorf("%w; then %w", err, cerr)
		}
		return nil, err
	}
	if len(jc.Resolver) == 0 {
		return fail(errtext.Errorf("cluster config: %w", errors.New(`"resolver" is required, such as {"module": "static", "addresses": ["host:port"]}`)))
	}
	if jc.Slave.Address != "" {
		return fail(errtext.Errorf("cluster config: %w", errors.New(`"slave" has an "address": the resolver gives each master's`)))
	}
	r, err := module.LoadAs[ResolverModule](l, module.NamespaceResolver, jc.Resolver)
	if err != nil {
		return fail(errtext.Errorf("cluster config: resolver: %w", err))
	}
	cfg := Config{
		Resolver:        r,
		EjectBackoff:    jc.EjectBackoff.D(),
		MaxEjectBackoff: jc.MaxEjectBackoff.D(),
		MaxAttempts:     jc.MaxAttempts,
		Idempotent:      jc.Idempotent,
		RetryTokens:     jc.RetryTokens,
		RetryRatio:      jc.RetryRatio,
	}
	if len(jc.Balancer) > 0 {
		b, err := module.LoadAs[BalancerModule](l, module.NamespaceBalancer, jc.Balancer)
		if err != nil {
			return fail(errtext.Errorf("cluster config: balancer: %w", err))
		}
		cfg.Balancer = b
	}
	if cfg.Slave, err = slave.LoadConfig(l, jc.Slave); err != nil {
		return fail(errtext.Errorf("cluster config: slave: %w", err))
	}
	c, err := New(cfg)
	if err != nil {
		return fail(err)
	}
	c.loader = l
	return c, nil
}
