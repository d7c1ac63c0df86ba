package fastrpcetcd_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/AmanTrance/FastRpc/cluster"
	"github.com/AmanTrance/FastRpc/fastrpcetcd"
	"github.com/AmanTrance/FastRpc/fastrpcetcd/etcdtest"
	"github.com/AmanTrance/FastRpc/master"
	"github.com/AmanTrance/FastRpc/module"
	_ "github.com/AmanTrance/FastRpc/transport" // listener.tcp
)

func TestMasterFoundWhileServingAndWithdrawnOnShutdown(t *testing.T) {
	etcd := etcdtest.Start(t)
	reg := &fastrpcetcd.Registry{Endpoints: []string{etcd.URL()}, Service: "orders", Zone: "eu-1a", Weight: 3, TTL: module.Duration(2 * time.Second)}
	t.Cleanup(func() { _ = reg.Close() })
	m, addr := echoMaster(t, "a", master.Config{Registry: reg})

	res := &fastrpcetcd.Resolver{Endpoints: []string{etcd.URL()}, Service: "orders"}
	w := startWatch(t, res)
	w.waitAddrs(t, addr)
	require.Equal(t, []cluster.Endpoint{{Address: addr, Zone: "eu-1a", Weight: 3}}, w.endpoints())

	c := client(t, etcd)
	key := fastrpcetcd.DefaultPrefix + "orders/" + addr
	resp, err := c.Get(testCtx(t), key)
	require.NoError(t, err)
	require.Len(t, resp.Kvs, 1, "the master is under <prefix><service>/<address>")
	var rec map[string]any
	require.NoError(t, json.Unmarshal(resp.Kvs[0].Value, &rec))
	require.Equal(t, map[string]any{"address": addr, "zone": "eu-1a", "weight": 3.0, "methods": []any{"echo"}}, rec)
	require.NotZero(t, resp.Kvs[0].Lease, "the key is bound to a lease")

	cl, err := cluster.New(cluster.Config{Resolver: res})
	require.NoError(t, err)
	t.Cleanup(func() { _ = cl.Close() })
	got, err := cl.Call(testCtx(t), "echo", []byte("hi"))
	require.NoError(t, err)
	require.Equal(t, "a|hi", string(got))

	require.NoError(t, m.Shutdown(testCtx(t)))
	require.Zero(t, keyLease(t, c, key), "Shutdown deletes the key")
	w.waitAddrs(t)
}

func TestRevokedLeaseIsRegisteredAgain(t *testing.T) {
	etcd := etcdtest.Start(t)
	reg := &fastrpcetcd.Registry{Endpoints: []string{etcd.URL()}, Service: "orders", TTL: module.Duration(2 * time.Second)}
	t.Cleanup(func() { _ = reg.Close() })
	_, addr := echoMaster(t, "a", master.Config{Registry: reg})
	c := client(t, etcd)
	key := fastrpcetcd.DefaultPrefix + "orders/" + addr
	require.Eventually(t, func() bool { return keyLease(t, c, key) != 0 }, hangGuard, 10*time.Millisecond)
	first := keyLease(t, c, key)

	// An operator (or etcd, after an outage) ends the lease: the key goes,
	// and comes back on a new lease while the master serves.
	_, err := c.Revoke(testCtx(t), first)
	require.NoError(t, err)
	require.Eventually(t, func() bool { l := keyLease(t, c, key); return l != 0 && l != first }, hangGuard, 10*time.Millisecond,
		"the master registers again on a new lease")
	second := keyLease(t, c, key)
	// And the new lease is kept alive: the key outlives its TTL.
	time.Sleep(3 * time.Second)
	require.Equal(t, second, keyLease(t, c, key))
}

func TestOutageLongerThanTheTTLIsRegisteredAgain(t *testing.T) {
	etcd := etcdtest.Start(t)
	reg := &fastrpcetcd.Registry{Endpoints: []string{etcd.URL()}, Service: "orders", TTL: module.Duration(2 * time.Second), Timeout: module.Duration(time.Second)}
	t.Cleanup(func() { _ = reg.Close() })
	_, addr := echoMaster(t, "a", master.Config{Registry: reg})
	key := fastrpcetcd.DefaultPrefix + "orders/" + addr
	c := client(t, etcd)
	require.Eventually(t, func() bool { return keyLease(t, c, key) != 0 }, hangGuard, 10*time.Millisecond)
	first := keyLease(t, c, key)

	// etcd is away for more than twice the TTL: the master's keep-alives
	// go unanswered, it loses the lease, and it must not give up.
	etcd.Stop()
	time.Sleep(5 * time.Second)
	require.NoError(t, etcd.Start())

	require.Eventually(t, func() bool { l := keyLease(t, c, key); return l != 0 && l != first }, hangGuard, 20*time.Millisecond,
		"after the outage the master is registered on a new lease")
	// The old lease, which etcd extended when it came back, expires; the
	// key stays on the new one.
	time.Sleep(5 * time.Second)
	require.NotZero(t, keyLease(t, c, key), "the master is still registered once the old lease expired")
}

func TestRegisterWhileEtcdIsDownServesAndRegistersLater(t *testing.T) {
	etcd := etcdtest.Start(t)
	etcd.Stop()
	reg := &fastrpcetcd.Registry{Endpoints: []string{etcd.URL()}, Service: "orders", TTL: module.Duration(2 * time.Second), Timeout: module.Duration(300 * time.Millisecond)}
	t.Cleanup(func() { _ = reg.Close() })
	_, addr := echoMaster(t, "a", master.Config{Registry: reg})
	requireServes(t, addr)

	require.NoError(t, etcd.Start())
	c := client(t, etcd)
	key := fastrpcetcd.DefaultPrefix + "orders/" + addr
	require.Eventually(t, func() bool { return keyLease(t, c, key) != 0 }, hangGuard, 20*time.Millisecond,
		"the master registers once etcd answers")
}

func TestRegistryValidation(t *testing.T) {
	ok := func() fastrpcetcd.Registry {
		return fastrpcetcd.Registry{Endpoints: []string{"http://127.0.0.1:1"}, Service: "orders"}
	}
	for name, tc := range map[string]struct {
		mod  func(*fastrpcetcd.Registry)
		want string
	}{
		"no service":     {func(r *fastrpcetcd.Registry) { r.Service = "" }, "service: empty"},
		"slash":          {func(r *fastrpcetcd.Registry) { r.Service = "a/b" }, "contains a slash"},
		"no endpoints":   {func(r *fastrpcetcd.Registry) { r.Endpoints = nil }, "endpoints: empty"},
		"short ttl":      {func(r *fastrpcetcd.Registry) { r.TTL = module.Duration(time.Millisecond) }, "under a second"},
		"negative ttl":   {func(r *fastrpcetcd.Registry) { r.TTL = -1 }, "ttl"},
		"weight":         {func(r *fastrpcetcd.Registry) { r.Weight = -2 }, "weight -2"},
		"all interfaces": {func(r *fastrpcetcd.Registry) { r.Address = "0.0.0.0:10000" }, "every interface"},
		"no host":        {func(r *fastrpcetcd.Registry) { r.Address = ":10000" }, "no host"},
		"no port":        {func(r *fastrpcetcd.Registry) { r.Address = "10.0.0.5" }, "want host:port"},
		"drain":          {func(r *fastrpcetcd.Registry) { r.DrainDelay = -1 }, "drain_delay"},
	} {
		t.Run(name, func(t *testing.T) {
			r := ok()
			tc.mod(&r)
			require.ErrorContains(t, r.Validate(), tc.want)
		})
	}
	r := ok()
	require.NoError(t, r.Validate())

	// A listener on every interface, with no address to announce instead,
	// fails Serve with an error that says what to set.
	reg := &fastrpcetcd.Registry{Endpoints: []string{"http://127.0.0.1:1"}, Service: "orders"}
	t.Cleanup(func() { _ = reg.Close() })
	m := master.New(master.Config{Registry: reg})
	err := m.ListenAndServe(testCtx(t), ":0")
	require.ErrorContains(t, err, "every interface")
	require.ErrorContains(t, err, "fastrpc: announce")
}

func TestWithdrawIsBoundedWhenEtcdIsDown(t *testing.T) {
	etcd := etcdtest.Start(t)
	reg := &fastrpcetcd.Registry{Endpoints: []string{etcd.URL()}, Service: "orders", TTL: module.Duration(2 * time.Second)}
	t.Cleanup(func() { _ = reg.Close() })
	m, addr := echoMaster(t, "a", master.Config{Registry: reg})
	c := client(t, etcd)
	require.Eventually(t, func() bool { return keyLease(t, c, fastrpcetcd.DefaultPrefix+"orders/"+addr) != 0 }, hangGuard, 10*time.Millisecond)
	etcd.Stop()

	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- m.Shutdown(ctx) }()
	select {
	case <-done: // the withdrawal failed within ctx; the lease expires by itself
	case <-time.After(hangGuard):
		t.Fatal("Shutdown hung on an etcd that is down")
	}
}

func TestFromJSON(t *testing.T) {
	etcd := etcdtest.Start(t)
	ctx := testCtx(t)
	m, err := master.FromJSON(ctx, []byte(`{
		"listeners": [{"module": "tcp", "address": "127.0.0.1:0"}],
		"registry": {"module": "etcd", "endpoints": ["`+etcd.URL()+`"], "service": "orders", "ttl": "2s", "zone": "z"}
	}`))
	require.NoError(t, err)
	require.NoError(t, m.Register("echo", master.MethodInfo{}, func(op *master.IOOperator) error {
		b, err := op.ReadAll()
		if err != nil {
			return err
		}
		return op.WriteIOFromBuffer(b)
	}))
	go func() { _ = m.Run(context.Background()) }()
	t.Cleanup(func() { _ = m.Close() })
	c := client(t, etcd)
	require.Eventually(t, func() bool {
		resp, err := c.Get(ctx, fastrpcetcd.DefaultPrefix+"orders/", clientv3.WithPrefix())
		return err == nil && len(resp.Kvs) == 1
	}, hangGuard, 10*time.Millisecond, "the master registers once Run is under way")

	cl, err := cluster.FromJSON(ctx, []byte(`{
		"resolver": {"module": "etcd", "endpoints": ["`+etcd.URL()+`"], "service": "orders"}
	}`))
	require.NoError(t, err)
	t.Cleanup(func() { _ = cl.Close() })
	got, err := cl.Call(ctx, "echo", []byte("from json"))
	require.NoError(t, err)
	require.Equal(t, "from json", string(got))
	members := cl.Members()
	require.Len(t, members, 1)

	_, err = master.FromJSON(ctx, []byte(`{"listeners": [{"module": "tcp", "address": "127.0.0.1:0"}], "registry": {"module": "etcd", "service": "orders"}}`))
	require.ErrorContains(t, err, "endpoints: empty")
	_, err = cluster.FromJSON(ctx, []byte(`{"resolver": {"module": "etcd", "endpoints": ["`+etcd.URL()+`"]}}`))
	require.ErrorContains(t, err, "service: empty")
}
