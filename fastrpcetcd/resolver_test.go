package fastrpcetcd_test

import (
	"context"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/AmanTrance/FastRpc/cluster"
	"github.com/AmanTrance/FastRpc/fastrpcetcd"
	"github.com/AmanTrance/FastRpc/fastrpcetcd/etcdtest"
	"github.com/AmanTrance/FastRpc/master"
	"github.com/AmanTrance/FastRpc/module"
)

const svc = fastrpcetcd.DefaultPrefix + "orders/"

func put(t testing.TB, c *clientv3.Client, key, value string, opts ...clientv3.OpOption) {
	t.Helper()
	_, err := c.Put(testCtx(t), key, value, opts...)
	require.NoError(t, err)
}

func del(t testing.TB, c *clientv3.Client, key string) {
	t.Helper()
	_, err := c.Delete(testCtx(t), key)
	require.NoError(t, err)
}

func TestResolverSeesMastersComeAndGo(t *testing.T) {
	etcd := etcdtest.Start(t)
	c := client(t, etcd)
	put(t, c, svc+"10.0.0.1:1", `{"address": "10.0.0.1:1", "zone": "a", "weight": 2}`)
	put(t, c, "/fastrpc/services/ordersx/10.0.0.9:1", `{"address": "10.0.0.9:1"}`) // another service
	w := startWatch(t, &fastrpcetcd.Resolver{Client: c, Service: "orders"})
	w.waitAddrs(t, "10.0.0.1:1")
	require.Equal(t, []cluster.Endpoint{{Address: "10.0.0.1:1", Zone: "a", Weight: 2}}, w.endpoints())

	put(t, c, svc+"10.0.0.2:1", `{}`) // the address is the key's
	w.waitAddrs(t, "10.0.0.1:1", "10.0.0.2:1")
	put(t, c, svc+"bad", `{"address": "no port"}`)
	put(t, c, svc+"worse", `not json`)
	put(t, c, svc+"10.0.0.3:1", `{"address": "10.0.0.3:1"}`)
	w.waitAddrs(t, "10.0.0.1:1", "10.0.0.2:1", "10.0.0.3:1")

	// A record that changes replaces the old one.
	put(t, c, svc+"10.0.0.1:1", `{"address": "10.0.0.1:1", "zone": "b"}`)
	require.Eventually(t, func() bool { eps := w.endpoints(); return len(eps) == 3 && eps[0].Zone == "b" }, hangGuard, 5*time.Millisecond)

	del(t, c, svc+"10.0.0.2:1")
	w.waitAddrs(t, "10.0.0.1:1", "10.0.0.3:1")
	// A key bound to a lease goes when the lease does.
	lease, err := c.Grant(testCtx(t), 5)
	require.NoError(t, err)
	put(t, c, svc+"10.0.0.4:1", `{}`, clientv3.WithLease(lease.ID))
	w.waitAddrs(t, "10.0.0.1:1", "10.0.0.3:1", "10.0.0.4:1")
	_, err = c.Revoke(testCtx(t), lease.ID)
	require.NoError(t, err)
	w.waitAddrs(t, "10.0.0.1:1", "10.0.0.3:1")

	// The last master going is reported: in etcd an empty list is true.
	del(t, c, svc+"10.0.0.1:1")
	del(t, c, svc+"10.0.0.3:1")
	w.waitAddrs(t)
}

// closingWatcher ends every watch after its first response, as a watch
// channel that closes under the client does.
type closingWatcher struct {
	clientv3.Watcher
	watches atomic.Int32
	// before, if set, runs before the first watch starts.
	before func()
}

func (w *closingWatcher) Watch(ctx context.Context, key string, opts ...clientv3.OpOption) clientv3.WatchChan {
	if w.watches.Add(1) == 1 && w.before != nil {
		w.before()
	}
	ctx, cancel := context.WithCancel(ctx)
	in := w.Watcher.Watch(ctx, key, opts...)
	out := make(chan clientv3.WatchResponse)
	go func() {
		defer close(out)
		defer cancel()
		select {
		case resp, ok := <-in:
			if ok {
				select {
				case out <- resp:
				case <-ctx.Done():
				}
			}
		case <-ctx.Done():
		}
	}()
	return out
}

func TestResolverWatchesAgainWhenTheWatchCloses(t *testing.T) {
	etcd := etcdtest.Start(t)
	c := client(t, etcd)
	cw := &closingWatcher{Watcher: c.Watcher}
	c.Watcher = cw
	w := startWatch(t, &fastrpcetcd.Resolver{Client: c, Service: "orders"})
	w.waitAddrs(t)
	// Each change is seen although every watch ends after one response.
	for _, a := range []string{"10.0.0.1:1", "10.0.0.2:1", "10.0.0.3:1"} {
		put(t, c, svc+a, `{}`)
		require.Eventually(t, func() bool {
			for _, got := range w.addrs() {
				if got == a {
					return true
				}
			}
			return false
		}, hangGuard, 5*time.Millisecond, "a master registered after the watch closed is seen")
	}
	require.Eventually(t, func() bool { return cw.watches.Load() >= 3 }, hangGuard, 5*time.Millisecond, "each closed watch is started again")
}

func TestResolverListsAfterACompactionGap(t *testing.T) {
	etcd := etcdtest.Start(t)
	c := client(t, etcd)
	put(t, c, svc+"10.0.0.1:1", `{}`)
	// Between the list and the watch, a master comes, another goes, and
	// etcd compacts those changes away: the watch from the list's revision
	// cannot resume, and only a fresh list shows the masters as they are.
	cw := &closingWatcher{Watcher: c.Watcher}
	cw.before = func() {
		put(t, c, svc+"10.0.0.2:1", `{}`)
		del(t, c, svc+"10.0.0.1:1")
		resp, err := c.Get(testCtx(t), "any")
		require.NoError(t, err)
		_, err = c.Compact(testCtx(t), resp.Header.Revision)
		require.NoError(t, err)
	}
	c.Watcher = cw
	w := startWatch(t, &fastrpcetcd.Resolver{Client: c, Service: "orders"})
	w.waitAddrs(t, "10.0.0.2:1")
}

func TestResolverKeepsTheListWhileEtcdIsDown(t *testing.T) {
	etcd := etcdtest.Start(t)
	c := client(t, etcd)
	put(t, c, svc+"10.0.0.1:1", `{}`)
	w := startWatch(t, &fastrpcetcd.Resolver{Endpoints: []string{etcd.URL()}, Service: "orders", Timeout: module.Duration(300 * time.Millisecond)})
	w.waitAddrs(t, "10.0.0.1:1")
	w.mu.Lock()
	updates := w.updates
	w.mu.Unlock()

	etcd.Stop()
	time.Sleep(2 * time.Second)
	require.Equal(t, []string{"10.0.0.1:1"}, w.addrs(), "the last list stays while etcd is away")
	w.mu.Lock()
	require.Equal(t, updates, w.updates, "nothing is reported while etcd is away")
	w.mu.Unlock()

	require.NoError(t, etcd.Start())
	put(t, c, svc+"10.0.0.2:1", `{}`)
	w.waitAddrs(t, "10.0.0.1:1", "10.0.0.2:1")
}

func TestResolverValidation(t *testing.T) {
	for name, r := range map[string]*fastrpcetcd.Resolver{
		"service: empty":   {Endpoints: []string{"http://127.0.0.1:1"}},
		"endpoints: empty": {Service: "orders"},
		"contains a slash": {Endpoints: []string{"http://127.0.0.1:1"}, Service: "a/b"},
		"timeout":          {Endpoints: []string{"http://127.0.0.1:1"}, Service: "orders", Timeout: -1},
	} {
		t.Run(name, func(t *testing.T) {
			require.ErrorContains(t, r.Validate(), name)
			err := r.Watch(testCtx(t), func([]cluster.Endpoint) { t.Error("update called") })
			require.ErrorContains(t, err, "fastrpc: resolver.etcd: ")
			require.ErrorContains(t, err, name)
		})
	}
}

// clientGoroutines returns the stacks of the goroutines of FastRpc and of
// etcd's client (and the gRPC client under it) running now; etcd's server
// runs in this process too, and its goroutines come and go by themselves.
func clientGoroutines() []string {
	buf := make([]byte, 4<<20)
	var out []string
	for _, g := range strings.Split(string(buf[:runtime.Stack(buf, true)]), "\n\n") {
		if strings.Contains(g, "testing.tRunner") || strings.Contains(g, "testing.(*T).Run") {
			continue
		}
		for _, mark := range []string{"AmanTrance/FastRpc", "etcd/client/v3", "grpc.(*ClientConn)", "grpc.(*addrConn)", "grpc.newClientStream", "grpc/internal/transport.(*http2Client)"} {
			if strings.Contains(g, mark) {
				out = append(out, g)
				break
			}
		}
	}
	return out
}

// TestNoGoroutinesLeft checks that a master's registration, a resolver's
// watch and a cluster client over it leave nothing running once closed.
func TestNoGoroutinesLeft(t *testing.T) {
	etcd := etcdtest.Start(t)
	require.Empty(t, clientGoroutines())

	reg := &fastrpcetcd.Registry{Endpoints: []string{etcd.URL()}, Service: "orders", TTL: module.Duration(2 * time.Second)}
	m, addr := echoMaster(t, "a", master.Config{Registry: reg})
	res := &fastrpcetcd.Resolver{Endpoints: []string{etcd.URL()}, Service: "orders"}
	w := startWatch(t, res)
	w.waitAddrs(t, addr)
	cl, err := cluster.New(cluster.Config{Resolver: res})
	require.NoError(t, err)
	_, err = cl.Call(testCtx(t), "echo", []byte("x"))
	require.NoError(t, err)
	require.NotEmpty(t, clientGoroutines(), "the check sees the clients' goroutines")

	require.NoError(t, cl.Close())
	w.stop(t)
	require.NoError(t, m.Shutdown(testCtx(t)))
	require.NoError(t, reg.Close())
	deadline := time.Now().Add(10 * time.Second)
	left := clientGoroutines()
	for len(left) > 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
		left = clientGoroutines()
	}
	require.Empty(t, left, "goroutines left running")
}
