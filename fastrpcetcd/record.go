package fastrpcetcd

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/AmanTrance/FastRpc/module"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

// Defaults shared by Registry and Resolver.
const (
	// DefaultPrefix is where services are kept when no Prefix is set.
	DefaultPrefix = "/fastrpc/services/"
	// DefaultTimeout bounds each request to etcd when no Timeout is set.
	DefaultTimeout = 5 * time.Second
)

// record is the value of a master's key.
type record struct {
	Address string   `json:"address"`
	Zone    string   `json:"zone,omitempty"`
	Weight  int      `json:"weight,omitempty"`
	Methods []string `json:"methods,omitempty"`
}

// servicePrefix returns the prefix of every key of service: the Prefix,
// with a "/" added if it lacks one, the service and "/".
func servicePrefix(prefix, service string) string {
	if prefix == "" {
		prefix = DefaultPrefix
	}
	if !strings.HasSuffix(prefix, "/") {
		prefix += "/"
	}
	return prefix + service + "/"
}

// endpoints are the etcd settings Registry and Resolver share.
type endpoints struct {
	Endpoints []string
	Service   string
	Timeout   module.Duration
}

func (e endpoints) validate(haveClient bool) error {
	switch {
	case e.Service == "":
		return errors.New(`service: empty; name the service the masters serve, such as "orders"`)
	case strings.Contains(e.Service, "/"):
		return fmt.Errorf("service %q: contains a slash; use one path segment", e.Service)
	case len(e.Endpoints) == 0 && !haveClient:
		return errors.New(`endpoints: empty; list etcd's client URLs, such as ["http://127.0.0.1:2379"]`)
	case e.Timeout < 0:
		return fmt.Errorf("timeout %v: negative", e.Timeout.D())
	}
	return nil
}

func (e endpoints) timeout() time.Duration {
	if e.Timeout > 0 {
		return e.Timeout.D()
	}
	return DefaultTimeout
}

// newClient returns a client of Endpoints. Dialling is lazy, so a client
// is returned even while etcd is down: requests then fail within their
// timeouts and are retried. The client's own logging is off; what matters
// is reported by the caller.
func (e endpoints) newClient() (*clientv3.Client, error) {
	c, err := clientv3.New(clientv3.Config{
		Endpoints:   e.Endpoints,
		DialTimeout: e.timeout(),
		Logger:      zap.NewNop(),
	})
	if err != nil {
		return nil, fmt.Errorf("etcd client of %v: %w", e.Endpoints, err)
	}
	return c, nil
}

// marshal encodes r; it cannot fail for a record.
func (r record) marshal() string {
	b, _ := json.Marshal(r)
	return string(b)
}
