package fastrpcetcd

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/AmanTrance/FastRpc/master"
	"github.com/AmanTrance/FastRpc/module"
	clientv3 "go.etcd.io/etcd/client/v3"
)

func init() {
	module.Register(new(Registry))
}

var _ master.Registry = (*Registry)(nil)

// Defaults of Registry.
const (
	// DefaultTTL is the lease of a master's key: how long a master that
	// died without withdrawing stays listed. A cluster client ejects such
	// a master at its first failed dial anyway, so the TTL mostly bounds
	// how long other tools see it.
	DefaultTTL = 10 * time.Second
)

// Backoff of Registry after a failed grant or write.
const (
	registryRetryBase = 100 * time.Millisecond
	registryRetryMax  = 2 * time.Second
)

// Registry is the "master.registry.etcd" module: a master.Registry that
// writes each listener of the master under <Prefix><Service>/<address>
// (see the package doc), on a lease of TTL that it keeps alive, granting a
// new lease and writing the key again whenever the lease is lost, until
// the master stops.
//
//	"registry": {"module": "etcd", "endpoints": ["http://10.0.0.2:2379"], "service": "orders", "address": "10.0.0.5:10000"}
//
// Register writes the key before it returns when etcd answers within
// Timeout; when etcd does not, the master serves anyway and the key is
// written as soon as etcd answers. Withdrawing (the master's Shutdown or
// Close) revokes the lease, which deletes the key at once, and then waits
// DrainDelay before the master stops accepting.
//
// Set Client to share a client of your own (it is not closed); otherwise
// Provision (when loaded from JSON) or the first Register makes one from
// Endpoints, closed by Cleanup or Close.
type Registry struct {
	// Endpoints are etcd's client URLs.
	Endpoints []string `json:"endpoints,omitempty"`
	// Service is the name the master registers under, which slaves'
	// Resolver.Service names.
	Service string `json:"service"`
	// Prefix is where services are kept; "" means DefaultPrefix.
	Prefix string `json:"prefix,omitempty"`
	// TTL is the lease of the key, at least a second and rounded up to
	// whole seconds; 0 means DefaultTTL.
	TTL module.Duration `json:"ttl,omitempty"`
	// Address is the address slaves dial. "" means the listener's, which
	// must then name a host: a listener on every interface (":10000",
	// "0.0.0.0:10000") needs Address, since no slave can dial that.
	Address string `json:"address,omitempty"`
	// Zone is where the master runs, such as "eu-west-1a". Clients see it
	// in cluster.Endpoint.Zone, for a balancer of their own: the built-in
	// balancers do not use it.
	Zone string `json:"zone,omitempty"`
	// Weight is the master's share relative to the others; 0 means 1.
	Weight int `json:"weight,omitempty"`
	// Timeout bounds each request to etcd; 0 means DefaultTimeout.
	Timeout module.Duration `json:"timeout,omitempty"`
	// DrainDelay is how long withdrawing waits after the key is gone, so
	// that slaves stop sending before the master stops accepting. It is
	// bounded by the context of Shutdown (by a second for Close). 0 does
	// not wait: the cluster client retries calls a stopping master did not
	// take.
	DrainDelay module.Duration `json:"drain_delay,omitempty"`

	// Client, if set, is used instead of a client of Endpoints.
	Client *clientv3.Client `json:"-"`
	// Logger receives lost leases, re-registrations and failed writes;
	// nil means slog.Default().
	Logger *slog.Logger `json:"-"`

	mu    sync.Mutex
	owned bool // Client was made here
}

// FastRpcModule implements module.Module.
func (*Registry) FastRpcModule() module.ModuleInfo {
	return module.ModuleInfo{ID: module.ID(module.NamespaceMasterRegistry + ".etcd"), New: func() module.Module { return new(Registry) }}
}

func (r *Registry) shared() endpoints {
	return endpoints{Endpoints: r.Endpoints, Service: r.Service, Timeout: r.Timeout}
}

// Validate checks the fields.
func (r *Registry) Validate() error {
	if err := r.shared().validate(r.Client != nil); err != nil {
		return err
	}
	switch {
	case r.TTL < 0:
		return fmt.Errorf("ttl %v: negative", r.TTL.D())
	case r.TTL > 0 && r.TTL.D() < time.Second:
		return fmt.Errorf("ttl %v: under a second, the least lease etcd grants", r.TTL.D())
	case r.Weight < 0:
		return fmt.Errorf("weight %d: negative", r.Weight)
	case r.DrainDelay < 0:
		return fmt.Errorf("drain_delay %v: negative", r.DrainDelay.D())
	}
	if r.Address != "" {
		if err := dialable(r.Address); err != nil {
			return fmt.Errorf("address %q: %w", r.Address, err)
		}
	}
	return nil
}

// dialable checks that addr is host:port with a host slaves can dial.
func dialable(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%v; want host:port", err)
	}
	if port == "" || port == "0" {
		return errors.New("no port")
	}
	if host == "" {
		return errors.New("no host; set the registry's address to one slaves can dial")
	}
	if ip, err := netip.ParseAddr(host); err == nil && ip.IsUnspecified() {
		return errors.New("every interface, which no slave can dial; set the registry's address to one they can")
	}
	return nil
}

// Provision makes the client of Endpoints, which Cleanup closes.
func (r *Registry) Provision(context.Context) error {
	if err := r.Validate(); err != nil {
		return err
	}
	_, err := r.client()
	return err
}

// Cleanup closes the client the Registry made; announcements still alive
// end with it, their keys going when their leases expire.
func (r *Registry) Cleanup() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.owned || r.Client == nil {
		return nil
	}
	c := r.Client
	r.Client, r.owned = nil, false
	return c.Close()
}

// Close is Cleanup, for a Registry built in Go.
func (r *Registry) Close() error { return r.Cleanup() }

func (r *Registry) client() (*clientv3.Client, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.Client != nil {
		return r.Client, nil
	}
	c, err := r.shared().newClient()
	if err != nil {
		return nil, err
	}
	r.Client, r.owned = c, true
	return c, nil
}

func (r *Registry) logger() *slog.Logger {
	if r.Logger != nil {
		return r.Logger
	}
	return slog.Default()
}

func (r *Registry) ttlSeconds() int64 {
	if r.TTL == 0 {
		return int64(DefaultTTL / time.Second)
	}
	return int64((r.TTL.D() + time.Second - 1) / time.Second)
}

// Register implements master.Registry.
func (r *Registry) Register(ctx context.Context, reg master.Registration) (func(context.Context) error, error) {
	if err := r.Validate(); err != nil {
		return nil, fmt.Errorf("master.registry.etcd: %w", err)
	}
	addr := r.Address
	if addr == "" {
		if err := dialable(reg.Address); err != nil {
			return nil, fmt.Errorf("master.registry.etcd: listener address %q: %w", reg.Address, err)
		}
		addr = reg.Address
	}
	c, err := r.client()
	if err != nil {
		return nil, fmt.Errorf("master.registry.etcd: %w", err)
	}
	a := &announcement{
		r:     r,
		c:     c,
		key:   servicePrefix(r.Prefix, r.Service) + addr,
		value: record{Address: addr, Zone: r.Zone, Weight: r.Weight, Methods: reg.Methods}.marshal(),
		stop:  make(chan struct{}),
		done:  make(chan struct{}),
	}
	// The first write is made here so that a master is findable once
	// Serve is under way; if etcd does not answer, keep goes on trying.
	first := a.grantAndPut(ctx)
	if first != nil {
		r.logger().Warn("fastrpc: registering the master in etcd failed; the master serves and registering is retried", "key", a.key, "err", first)
	}
	go a.keep(first == nil)
	return a.withdraw, nil
}

// announcement is one registered listener.
type announcement struct {
	r          *Registry
	c          *clientv3.Client
	key, value string

	stop chan struct{} // closed by withdraw
	done chan struct{} // closed when keep returns
	once sync.Once

	mu    sync.Mutex
	lease clientv3.LeaseID // current lease, 0 when none
}

// grantAndPut grants a lease and writes the key on it.
func (a *announcement) grantAndPut(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, a.r.shared().timeout())
	defer cancel()
	lease, err := a.c.Grant(ctx, a.r.ttlSeconds())
	if err != nil {
		return fmt.Errorf("grant a lease: %w", err)
	}
	if _, err := a.c.Put(ctx, a.key, a.value, clientv3.WithLease(lease.ID)); err != nil {
		// The lease would keep nothing alive: let it go now rather than
		// at its TTL.
		rctx, rcancel := context.WithTimeout(context.Background(), a.r.shared().timeout())
		_, _ = a.c.Revoke(rctx, lease.ID)
		rcancel()
		return fmt.Errorf("write %s: %w", a.key, err)
	}
	a.mu.Lock()
	a.lease = lease.ID
	a.mu.Unlock()
	return nil
}

// keep keeps the lease alive, and grants another and writes the key again
// each time it is lost, until withdraw.
func (a *announcement) keep(registered bool) {
	defer close(a.done)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-a.stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	wait := registryRetryBase
	lost := false
	for ctx.Err() == nil {
		if !registered {
			if err := a.grantAndPut(ctx); err != nil {
				if ctx.Err() != nil {
					return
				}
				a.r.logger().Debug("fastrpc: registering the master in etcd failed; retrying", "key", a.key, "err", err, "in", wait)
				if !sleep(ctx, wait) {
					return
				}
				wait = min(2*wait, registryRetryMax)
				continue
			}
			if lost {
				a.r.logger().Info("fastrpc: the master is registered in etcd again, on a new lease", "key", a.key)
			}
			wait, registered = registryRetryBase, true
		}
		a.mu.Lock()
		lease := a.lease
		a.mu.Unlock()
		ch, err := a.c.KeepAlive(ctx, lease)
		if err == nil {
			// The channel closes when the lease is gone (expired while
			// etcd was out of reach, or revoked) or when ctx ends; the
			// responses only need draining.
			for range ch {
			}
		}
		if ctx.Err() != nil {
			return
		}
		if err == nil {
			err = errors.New("etcd stopped answering its keep-alives: it expired while etcd was out of reach, or was revoked")
		}
		a.r.logger().Warn("fastrpc: the master's etcd lease was lost; registering it again on a new lease", "key", a.key, "err", err)
		a.mu.Lock()
		a.lease = 0
		a.mu.Unlock()
		registered, lost = false, true
		if !sleep(ctx, wait) {
			return
		}
	}
}

// withdraw stops keeping the key and revokes its lease, which deletes it,
// then waits DrainDelay; all within ctx.
func (a *announcement) withdraw(ctx context.Context) error {
	a.once.Do(func() { close(a.stop) })
	select {
	case <-a.done:
	case <-ctx.Done():
		return fmt.Errorf("master.registry.etcd: withdraw %s: %w", a.key, ctx.Err())
	}
	a.mu.Lock()
	lease := a.lease
	a.lease = 0
	a.mu.Unlock()
	if lease != 0 {
		rctx, cancel := context.WithTimeout(ctx, a.r.shared().timeout())
		_, err := a.c.Revoke(rctx, lease)
		cancel()
		if err != nil {
			return fmt.Errorf("master.registry.etcd: revoke the lease of %s: %w", a.key, err)
		}
	}
	if d := a.r.DrainDelay.D(); d > 0 {
		sleep(ctx, d)
	}
	return nil
}

// sleep waits d or until ctx ends, and reports whether it waited d.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
