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

	"github.com/AmanTrance/FastRpc/internal/errtext"
	"github.com/AmanTrance/FastRpc/master"
	"github.com/AmanTrance/FastRpc/module"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
)

func init() {
	module.Register(new(Registry))
}

var _ master.Registry = (*Registry)(nil)

// Defaults and limits of Registry.
const (
	// DefaultTTL is the lease of a master's key: how long a master that
	// died without withdrawing stays listed. A cluster client ejects such
	// a master at its first failed dial anyway, so the TTL mostly bounds
	// how long other tools see it.
	DefaultTTL = 10 * time.Second
	// MaxWeight is the greatest weight a master may announce.
	MaxWeight = 1_000_000
	// maxTTL is etcd's own limit (MaxLeaseTTL).
	maxTTL = 9_000_000_000 * time.Second
)

// Tuning of Registry that its config does not expose.
const (
	// registryRetryBase is the wait after a failed grant or write, and
	// after a lost lease; it doubles with each in a row, up to
	// registryRetryMax, and starts again once a lease lived a TTL.
	registryRetryBase = 100 * time.Millisecond
	registryRetryMax  = 2 * time.Second
	// warnEvery: of a run of failed attempts, the first and every
	// warnEvery-th are logged as warnings, the others at debug level.
	warnEvery = 30
	// maxOldLeases bounds the leases an announcement lost but could not
	// revoke, which it revokes again when withdrawn: they may still hold
	// its key (etcd restores leases when it restarts).
	maxOldLeases = 16
)

// Registry is the "master.registry.etcd" module: a master.Registry that
// writes each listener of the master under <Prefix><Service>/<address>
// (see the package doc), on a lease of TTL that it keeps alive. Whenever
// the lease is lost it grants a new one and writes the key again, and it
// writes the key again if someone deletes it while the lease lives, until
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
// One Registry may serve several listeners and masters, each with an
// address of its own. Set Client to share a client of your own (it is not
// closed); otherwise Provision (when loaded from JSON) or the first
// Register makes one from Endpoints. Cleanup (or Close) withdraws what is
// still announced and closes that client.
type Registry struct {
	// Endpoints are etcd's client URLs.
	Endpoints []string `json:"endpoints,omitempty"`
	// Service is the name the master registers under, which slaves'
	// Resolver.Service names.
	Service string `json:"service"`
	// Prefix is where services are kept; "" means DefaultPrefix.
	Prefix string `json:"prefix,omitempty"`
	// TTL is the lease of the key, at least a second and rounded up to
	// whole seconds; 0 means DefaultTTL. etcd raises a TTL under its own
	// minimum (one and a half election timeouts: 2s by default) to it.
	TTL module.Duration `json:"ttl,omitempty"`
	// Address is the address slaves dial. "" means the listener's, which
	// must then name a host: a listener on every interface (":10000",
	// "0.0.0.0:10000") needs Address, since no slave can dial that.
	Address string `json:"address,omitempty"`
	// Zone is where the master runs, such as "eu-west-1a". Clients see it
	// in cluster.Endpoint.Zone, for a balancer of their own: the built-in
	// balancers do not use it.
	Zone string `json:"zone,omitempty"`
	// Weight is the master's share relative to the others, up to
	// MaxWeight; 0 means 1.
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
	// nil means the logger of the loader's context (module.LoggerFrom)
	// when loaded from JSON, else slog.Default().
	Logger *slog.Logger `json:"-"`

	mu    sync.Mutex
	owned bool                     // Client was made here
	anns  map[string]*announcement // by key, while announced
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
	r.mu.Lock()
	haveClient := r.Client != nil
	r.mu.Unlock()
	if err := r.shared().validate(haveClient); err != nil {
		return err
	}
	switch {
	case r.TTL < 0:
		return fmt.Errorf("ttl %v: negative; use 0 for the default (%v)", r.TTL.D(), DefaultTTL)
	case r.TTL > 0 && r.TTL.D() < time.Second:
		return fmt.Errorf("ttl %v: under a second; etcd leases are whole seconds", r.TTL.D())
	case r.TTL.D() > maxTTL:
		return fmt.Errorf("ttl %v: over etcd's limit of %v", r.TTL.D(), maxTTL)
	case r.Weight < 0 || r.Weight > MaxWeight:
		return fmt.Errorf("weight %d: out of range; use 0 to 1000000 (0 counts as 1)", r.Weight)
	case r.DrainDelay < 0:
		return fmt.Errorf("drain_delay %v: negative; use 0 not to wait", r.DrainDelay.D())
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
		return errors.New("no port; want host:port")
	}
	if host == "" {
		return errors.New("no host; set the registry's address to one slaves can dial")
	}
	if ip, err := netip.ParseAddr(host); err == nil && ip.IsUnspecified() {
		return errors.New("every interface, which no slave can dial; set the registry's address to one they can")
	}
	return nil
}

// Provision makes the client of Endpoints, which Cleanup closes, and takes
// the loader's logger if Logger is unset.
func (r *Registry) Provision(ctx context.Context) error {
	if r.Logger == nil {
		r.Logger = module.LoggerFrom(ctx)
	}
	if err := r.Validate(); err != nil {
		return err
	}
	_, err := r.client()
	return err
}

// Cleanup withdraws every announcement still alive, each within Timeout,
// and closes the client the Registry made.
func (r *Registry) Cleanup() error {
	r.mu.Lock()
	anns := make([]*announcement, 0, len(r.anns))
	for _, a := range r.anns {
		anns = append(anns, a)
	}
	r.mu.Unlock()
	var errs []error
	for _, a := range anns {
		ctx, cancel := context.WithTimeout(context.Background(), r.shared().timeout())
		errs = append(errs, a.withdraw(ctx))
		cancel()
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.owned && r.Client != nil {
		errs = append(errs, r.Client.Close())
		r.Client, r.owned = nil, false
	}
	return errors.Join(errs...)
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

func (r *Registry) ttl() time.Duration {
	if r.TTL == 0 {
		return DefaultTTL
	}
	return (r.TTL.D() + time.Second - 1).Truncate(time.Second)
}

// Register implements master.Registry.
func (r *Registry) Register(ctx context.Context, reg master.Registration) (func(context.Context) error, error) {
	if err := r.Validate(); err != nil {
		return nil, errtext.Errorf("master.registry.etcd: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return nil, errtext.Errorf("master.registry.etcd: register %s: %w; the master was not announced", reg.Address, err)
	}
	addr := r.Address
	if addr == "" {
		if err := dialable(reg.Address); err != nil {
			return nil, errtext.Errorf("master.registry.etcd: listener address %q: %w", reg.Address, err)
		}
		addr = reg.Address
	}
	c, err := r.client()
	if err != nil {
		return nil, errtext.Errorf("master.registry.etcd: %w", err)
	}
	a := &announcement{
		r:     r,
		c:     c,
		key:   servicePrefix(r.Prefix, r.Service) + addr,
		value: record{Address: addr, Zone: r.Zone, Weight: r.Weight, Methods: reg.Methods}.marshal(),
		done:  make(chan struct{}),
	}
	a.ctx, a.cancel = context.WithCancel(context.Background())
	r.mu.Lock()
	if _, dup := r.anns[a.key]; dup {
		r.mu.Unlock()
		return nil, errtext.Errorf("master.registry.etcd: %s is already announced by this registry, for another listener; leave address empty to announce each listener's own, or give each listener a registry", addr)
	}
	if r.anns == nil {
		r.anns = make(map[string]*announcement)
	}
	r.anns[a.key] = a
	r.mu.Unlock()

	// The first write is made here so that a master is findable once
	// Serve is under way; if etcd does not answer, keep goes on trying.
	first := a.grantAndPut(ctx)
	if first != nil && ctx.Err() != nil {
		close(a.done)                              // keep never runs
		_ = a.withdraw(context.WithoutCancel(ctx)) // revokes a lease whose write failed, within Timeout
		return nil, errtext.Errorf("master.registry.etcd: register %s: %w; the master was not announced", addr, ctx.Err())
	}
	if first != nil {
		r.logger().Warn("fastrpc: registering the master in etcd failed; the master serves, and registering is retried until etcd answers", "key", a.key, "err", first)
	}
	go a.keep(first == nil)
	return a.withdraw, nil
}

// announcement is one registered listener.
type announcement struct {
	r          *Registry
	c          *clientv3.Client
	key, value string

	ctx    context.Context // keep's; withdraw cancels it
	cancel context.CancelFunc
	done   chan struct{} // closed when keep returns (or by Register if it never ran)

	withdrawOnce sync.Once
	withdrawErr  error

	mu    sync.Mutex
	lease clientv3.LeaseID   // current lease, 0 when none
	old   []clientv3.LeaseID // lost leases not known to be gone
}

// grantAndPut grants a lease and writes the key on it.
func (a *announcement) grantAndPut(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, a.r.shared().timeout())
	defer cancel()
	lease, err := a.c.Grant(ctx, int64(a.r.ttl()/time.Second))
	if err != nil {
		return fmt.Errorf("grant a lease: %w", err)
	}
	if _, err := a.c.Put(ctx, a.key, a.value, clientv3.WithLease(lease.ID)); err != nil {
		// The Put may have landed although it failed here: the lease
		// must go, now or when withdrawn.
		a.retire(lease.ID)
		return fmt.Errorf("write %s: %w", a.key, err)
	}
	a.mu.Lock()
	a.lease = lease.ID
	a.mu.Unlock()
	return nil
}

// retire revokes a lease the announcement no longer keeps alive, or
// remembers it for withdraw if etcd does not answer.
func (a *announcement) retire(lease clientv3.LeaseID) {
	ctx, cancel := context.WithTimeout(context.Background(), a.r.shared().timeout())
	defer cancel()
	if err := revoke(ctx, a.c, lease); err == nil {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.old) == maxOldLeases {
		a.old = a.old[1:] // the oldest has long expired
	}
	a.old = append(a.old, lease)
}

// revoke revokes lease; a lease that is already gone is not an error.
func revoke(ctx context.Context, c *clientv3.Client, lease clientv3.LeaseID) error {
	_, err := c.Revoke(ctx, lease)
	if errors.Is(err, rpctypes.ErrLeaseNotFound) {
		return nil
	}
	return err
}

// keep keeps the lease alive, and grants another and writes the key again
// each time it is lost, until withdraw.
func (a *announcement) keep(registered bool) {
	defer close(a.done)
	ctx := a.ctx
	wait, failures, lost := registryRetryBase, 0, false
	for ctx.Err() == nil {
		if !registered {
			if err := a.grantAndPut(ctx); err != nil {
				if ctx.Err() != nil || a.clientClosed() {
					return
				}
				failures++
				level := slog.LevelDebug
				if failures%warnEvery == 1 {
					level = slog.LevelWarn
				}
				a.r.logger().Log(ctx, level, "fastrpc: registering the master in etcd failed; retrying", "key", a.key, "err", err, "attempts", failures, "in", wait)
				if !sleep(ctx, wait) {
					return
				}
				wait = min(2*wait, registryRetryMax)
				continue
			}
			if lost || failures > 0 {
				a.r.logger().Info("fastrpc: the master is registered in etcd again, on a new lease", "key", a.key, "attempts", failures+1)
			}
			registered, failures = true, 0
		}
		a.mu.Lock()
		lease := a.lease
		a.mu.Unlock()
		since := time.Now()
		err := a.hold(ctx, lease)
		if ctx.Err() != nil {
			return
		}
		if a.clientClosed() {
			a.r.logger().Warn("fastrpc: the etcd client of the registry was closed while the master serves; the master leaves the list when its lease expires", "key", a.key)
			return
		}
		a.r.logger().Warn("fastrpc: the master's etcd lease was lost; registering the master again on a new lease", "key", a.key, "err", err)
		a.mu.Lock()
		a.lease = 0
		a.mu.Unlock()
		a.retire(lease)
		registered, lost = false, true
		if time.Since(since) >= a.r.ttl() {
			wait = registryRetryBase // the lease lived: this is not a storm
		}
		if !sleep(ctx, wait) {
			return
		}
		wait = min(2*wait, registryRetryMax)
	}
}

func (a *announcement) clientClosed() bool { return a.c.Ctx().Err() != nil }

// hold keeps lease alive until it is lost (it expired while etcd was out
// of reach, or was revoked) or ctx ends, and once a TTL checks that the
// key is still there on it, writing it again if someone deleted it.
func (a *announcement) hold(ctx context.Context, lease clientv3.LeaseID) error {
	ch, err := a.c.KeepAlive(ctx, lease)
	if err != nil {
		return fmt.Errorf("keep the lease alive: %w", err)
	}
	check := time.NewTicker(a.r.ttl())
	defer check.Stop()
	for {
		select {
		case _, ok := <-ch:
			if !ok {
				return errors.New("etcd stopped answering the lease's keep-alives: the lease expired while etcd was out of reach, or was revoked")
			}
		case <-check.C:
			a.rewriteIfGone(ctx, lease)
		case <-a.c.Ctx().Done():
			// The client was closed. Its keep-alive channel may never
			// close: a KeepAlive that raced with Close is not told.
			return errors.New("the etcd client was closed")
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// rewriteIfGone writes the key again on lease if it is missing or on
// another lease; a request that fails is left to the next check.
func (a *announcement) rewriteIfGone(ctx context.Context, lease clientv3.LeaseID) {
	ctx, cancel := context.WithTimeout(ctx, a.r.shared().timeout())
	defer cancel()
	resp, err := a.c.Get(ctx, a.key)
	if err != nil || len(resp.Kvs) == 1 && clientv3.LeaseID(resp.Kvs[0].Lease) == lease {
		return
	}
	if _, err := a.c.Put(ctx, a.key, a.value, clientv3.WithLease(lease)); err == nil {
		a.r.logger().Warn("fastrpc: the master's key in etcd was deleted or overwritten while the master serves; it is written again", "key", a.key)
	}
}

// withdraw stops keeping the key and revokes its leases, which deletes
// it, then waits DrainDelay; all within ctx. Calls after the first return
// the first's result.
func (a *announcement) withdraw(ctx context.Context) error {
	a.withdrawOnce.Do(func() { a.withdrawErr = a.doWithdraw(ctx) })
	return a.withdrawErr
}

func (a *announcement) doWithdraw(ctx context.Context) error {
	defer func() {
		a.r.mu.Lock()
		if a.r.anns[a.key] == a {
			delete(a.r.anns, a.key)
		}
		a.r.mu.Unlock()
	}()
	a.cancel()
	select {
	case <-a.done:
	case <-ctx.Done():
		return errtext.Errorf("master.registry.etcd: withdraw %s: %w; the key goes when its lease expires, within %v", a.key, ctx.Err(), a.r.ttl())
	}
	a.mu.Lock()
	leases := append(a.old, a.lease)
	a.lease, a.old = 0, nil
	a.mu.Unlock()
	// etcd may be coming back (a client reconnects within a second or
	// two): try again, all within Timeout, so that a Shutdown whose ctx
	// has no deadline does not wait forever for an etcd that is gone.
	rctx, cancel := context.WithTimeout(ctx, a.r.shared().timeout())
	defer cancel()
	var errs []error
	for _, l := range leases {
		if l == 0 {
			continue
		}
		for {
			err := revoke(rctx, a.c, l)
			if err == nil {
				break
			}
			if a.clientClosed() || !sleep(rctx, registryRetryBase) {
				errs = append(errs, err)
				break
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return errtext.Errorf("master.registry.etcd: revoke the lease of %s: %w; the key goes when its lease expires, within %v", a.key, err, a.r.ttl())
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
