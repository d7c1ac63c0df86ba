package fastrpcetcd

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/AmanTrance/FastRpc/cluster"
	"github.com/AmanTrance/FastRpc/internal/errtext"
	"github.com/AmanTrance/FastRpc/module"
	clientv3 "go.etcd.io/etcd/client/v3"
)

func init() {
	module.Register(new(Resolver))
}

var _ cluster.ResolverModule = (*Resolver)(nil)

// Backoff of Resolver after a failed list or an ended watch.
const (
	resolverRetryBase = 100 * time.Millisecond
	resolverRetryMax  = 2 * time.Second
)

// Resolver is the "resolver.etcd" module: the masters are the keys under
// <Prefix><Service>/ (see the package doc), watched so that a master that
// registers or whose lease ends is seen within moments.
//
//	{"module": "etcd", "endpoints": ["http://10.0.0.2:2379"], "service": "orders"}
//
// Endpoints are reported sorted by address, a record that does not decode
// is left out (and logged), and update is called when the list changes.
// An empty list is reported: in etcd it is the truth, every master's lease
// having ended.
//
// Set Client to share a client of your own (it is not closed); otherwise
// Provision (when loaded from JSON) or each Watch makes one from
// Endpoints and closes it when done.
type Resolver struct {
	// Endpoints are etcd's client URLs.
	Endpoints []string `json:"endpoints,omitempty"`
	// Service is the name the masters register under (Registry.Service).
	Service string `json:"service"`
	// Prefix is where services are kept; "" means DefaultPrefix.
	Prefix string `json:"prefix,omitempty"`
	// Timeout bounds each list; 0 means DefaultTimeout.
	Timeout module.Duration `json:"timeout,omitempty"`

	// Client, if set, is used instead of a client of Endpoints.
	Client *clientv3.Client `json:"-"`
	// Logger receives records that do not decode and watches that end;
	// nil means slog.Default().
	Logger *slog.Logger `json:"-"`

	mu    sync.Mutex
	owned bool // Client was made by Provision
}

// FastRpcModule implements module.Module.
func (*Resolver) FastRpcModule() module.ModuleInfo {
	return module.ModuleInfo{ID: module.ID(module.NamespaceResolver + ".etcd"), New: func() module.Module { return new(Resolver) }}
}

func (r *Resolver) shared() endpoints {
	return endpoints{Endpoints: r.Endpoints, Service: r.Service, Timeout: r.Timeout}
}

// Validate checks the service, the endpoints and the timeout.
func (r *Resolver) Validate() error {
	return r.shared().validate(r.client() != nil)
}

func (r *Resolver) client() *clientv3.Client {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.Client
}

// Provision makes the client of Endpoints, which Cleanup closes, and takes
// the loader's logger if Logger is unset.
func (r *Resolver) Provision(ctx context.Context) error {
	if r.Logger == nil {
		r.Logger = module.LoggerFrom(ctx)
	}
	if err := r.Validate(); err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.Client != nil {
		return nil
	}
	c, err := r.shared().newClient()
	if err != nil {
		return err
	}
	r.Client, r.owned = c, true
	return nil
}

// Cleanup closes the client Provision made; a Watch still running on it
// then returns an error.
func (r *Resolver) Cleanup() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.owned || r.Client == nil {
		return nil
	}
	c := r.Client
	r.Client, r.owned = nil, false
	return c.Close()
}

func (r *Resolver) logger() *slog.Logger {
	if r.Logger != nil {
		return r.Logger
	}
	return slog.Default()
}

// Watch implements cluster.Resolver. It returns ctx's error when ctx
// ends, and another error only when it cannot go on: a config that cannot
// work, or its etcd client closed under it.
func (r *Resolver) Watch(ctx context.Context, update func([]cluster.Endpoint)) error {
	if err := r.Validate(); err != nil {
		return errtext.Errorf("resolver.etcd: %w", err)
	}
	c := r.client()
	if c == nil {
		var err error
		if c, err = r.shared().newClient(); err != nil {
			return errtext.Errorf("resolver.etcd: %w", err)
		}
		defer c.Close()
	}
	w := watcher{r: r, c: c, prefix: servicePrefix(r.Prefix, r.Service), update: update}
	return w.run(ctx)
}

// watcher is one Watch's state.
type watcher struct {
	r      *Resolver
	c      *clientv3.Client
	prefix string
	update func([]cluster.Endpoint)

	keys     map[string]cluster.Endpoint // by key
	last     []cluster.Endpoint
	reported bool
}

func (w *watcher) run(ctx context.Context) error {
	wait, failures := resolverRetryBase, 0
	for {
		rev, err := w.list(ctx)
		if err == nil {
			failures = 0
			since := time.Now()
			err = w.watch(ctx, rev)
			if time.Since(since) >= resolverRetryMax {
				wait = resolverRetryBase // the watch lasted: not a storm
			}
		} else {
			failures++
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if w.c.Ctx().Err() != nil {
			return errtext.Errorf("resolver.etcd: the etcd client was closed under the watch of %s; the list is no longer followed, so make the cluster client again", w.prefix)
		}
		level := slog.LevelDebug
		if failures%warnEvery == 1 {
			level = slog.LevelWarn
		}
		w.r.logger().Log(ctx, level, "fastrpc: resolver.etcd lists again; the last list stays meanwhile", "service", w.r.Service, "err", err, "failed lists", failures, "in", wait)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
		wait = min(2*wait, resolverRetryMax)
	}
}

// list reads every key of the service, reports the list, and returns the
// revision it was read at.
func (w *watcher) list(ctx context.Context) (int64, error) {
	lctx, cancel := context.WithTimeout(ctx, w.r.shared().timeout())
	defer cancel()
	resp, err := w.c.Get(lctx, w.prefix, clientv3.WithPrefix())
	if err != nil {
		return 0, fmt.Errorf("list %s: %w", w.prefix, err)
	}
	w.keys = make(map[string]cluster.Endpoint, len(resp.Kvs))
	for _, kv := range resp.Kvs {
		w.put(string(kv.Key), kv.Value)
	}
	w.report()
	return resp.Header.Revision, nil
}

// watch applies the changes after rev until the watch ends, and says why
// it ended.
func (w *watcher) watch(ctx context.Context, rev int64) error {
	// WithRequireLeader ends the watch when the member it is on loses its
	// leader, instead of leaving it silent on a partitioned member.
	wctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
	defer cancel()
	for resp := range w.c.Watch(wctx, w.prefix, clientv3.WithPrefix(), clientv3.WithRev(rev+1)) {
		if resp.CompactRevision != 0 {
			return fmt.Errorf("watch of %s fell behind compaction at revision %d", w.prefix, resp.CompactRevision)
		}
		if err := resp.Err(); err != nil {
			return fmt.Errorf("watch of %s: %w", w.prefix, err)
		}
		for _, ev := range resp.Events {
			switch ev.Type {
			case clientv3.EventTypePut:
				w.put(string(ev.Kv.Key), ev.Kv.Value)
			case clientv3.EventTypeDelete:
				delete(w.keys, string(ev.Kv.Key))
			}
		}
		w.report()
	}
	// The channel closes when wctx ends or the client closes; the client's
	// own retries end with it.
	return errors.New("watch of " + w.prefix + " closed")
}

// put records the master of key, or drops the key if its record is bad.
func (w *watcher) put(key string, value []byte) {
	var rec record
	err := json.Unmarshal(value, &rec)
	if err == nil && rec.Address == "" {
		rec.Address = strings.TrimPrefix(key, w.prefix)
	}
	if err == nil {
		if err = dialable(rec.Address); err != nil {
			err = fmt.Errorf("address %q: %w", rec.Address, err)
		}
	}
	if err == nil && (rec.Weight < 0 || rec.Weight > MaxWeight) {
		err = fmt.Errorf("weight %d: out of range (0 to %d)", rec.Weight, MaxWeight)
	}
	if err != nil {
		delete(w.keys, key)
		w.r.logger().Warn("fastrpc: resolver.etcd leaves out a record it cannot read; write it as the package doc says", "key", key, "err", err)
		return
	}
	w.keys[key] = cluster.Endpoint{Address: rec.Address, Zone: rec.Zone, Weight: rec.Weight}
}

// report calls update with the current list if it changed.
func (w *watcher) report() {
	eps := make([]cluster.Endpoint, 0, len(w.keys))
	for _, ep := range w.keys {
		eps = append(eps, ep)
	}
	// Sorted by address, and one endpoint per address (two keys can name
	// the same master: the greater weight wins).
	slices.SortFunc(eps, func(a, b cluster.Endpoint) int {
		return cmp.Or(strings.Compare(a.Address, b.Address), cmp.Compare(b.Weight, a.Weight))
	})
	eps = slices.CompactFunc(eps, func(a, b cluster.Endpoint) bool { return a.Address == b.Address })
	if w.reported && slices.Equal(eps, w.last) {
		return
	}
	w.last, w.reported = eps, true
	w.update(slices.Clone(eps))
}
