package cluster

import (
	"context"
	"errors"
	"fmt"
	"net"

	"github.com/AmanTrance/FastRpc/module"
)

func init() {
	module.Register(Static{})
}

var _ ResolverModule = (*Static)(nil)

// Static is the "resolver.static" module: a fixed list of masters.
//
//	{"module": "static", "addresses": ["10.0.0.5:10000", "10.0.0.6:10000"]}
type Static struct {
	// Addresses are the masters' addresses (host:port).
	Addresses []string `json:"addresses"`
}

// FastRpcModule implements module.Module.
func (Static) FastRpcModule() module.ModuleInfo {
	return module.ModuleInfo{ID: module.ID(module.NamespaceResolver + ".static"), New: func() module.Module { return new(Static) }}
}

// Validate checks the addresses.
func (s *Static) Validate() error {
	if len(s.Addresses) == 0 {
		return errors.New("addresses: empty; list the masters' host:port addresses")
	}
	seen := map[string]bool{}
	for i, a := range s.Addresses {
		if _, _, err := net.SplitHostPort(a); err != nil {
			return fmt.Errorf("addresses[%d] %q: %v; want host:port", i, a, err)
		}
		if seen[a] {
			return fmt.Errorf("addresses[%d] %q: listed twice", i, a)
		}
		seen[a] = true
	}
	return nil
}

// Watch implements Resolver: it reports the list once and waits for ctx.
func (s *Static) Watch(ctx context.Context, update func([]Endpoint)) error {
	if err := s.Validate(); err != nil {
		return fmt.Errorf("fastrpc: resolver.static: %w", err)
	}
	eps := make([]Endpoint, len(s.Addresses))
	for i, a := range s.Addresses {
		eps[i] = Endpoint{Address: a}
	}
	update(eps)
	<-ctx.Done()
	return ctx.Err()
}
