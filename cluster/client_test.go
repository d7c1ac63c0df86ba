package cluster_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/AmanTrance/FastRpc/cluster"
	"github.com/AmanTrance/FastRpc/codec"
	"github.com/AmanTrance/FastRpc/frame"
	"github.com/AmanTrance/FastRpc/internal/testserve"
	"github.com/AmanTrance/FastRpc/master"
	"github.com/AmanTrance/FastRpc/slave"
	"github.com/AmanTrance/FastRpc/typed"
)

// node is a master on loopback that answers "who" with its name and
// counts the calls it ran.
type node struct {
	name string
	m    *master.Master
	addr string
	ran  atomic.Int64
}

func startNode(t *testing.T, name string, extra map[string]master.Handler) *node {
	t.Helper()
	n := &node{name: name, m: master.New(master.Config{})}
	require.NoError(t, n.m.Register("who", master.MethodInfo{}, func(op *master.IOOperator) error {
		n.ran.Add(1)
		return op.WriteIOFromBuffer([]byte(n.name))
	}))
	for method, h := range extra {
		require.NoError(t, n.m.Register(method, master.MethodInfo{}, h))
	}
	addr, _ := testserve.Start(t, n.m, "127.0.0.1:0")
	n.addr = addr.String()
	return n
}

func callCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), testserve.HangGuard)
	t.Cleanup(cancel)
	return ctx
}

// pushResolver reports whatever the test pushes; push returns once the
// client has applied it.
type pushResolver struct {
	lists chan []cluster.Endpoint
	done  chan struct{}
}

func newPushResolver() *pushResolver {
	return &pushResolver{lists: make(chan []cluster.Endpoint), done: make(chan struct{})}
}

func (r *pushResolver) push(eps []cluster.Endpoint) {
	r.lists <- eps
	<-r.done
}

func (r *pushResolver) Watch(ctx context.Context, update func([]cluster.Endpoint)) error {
	for {
		select {
		case eps := <-r.lists:
			update(eps)
			r.done <- struct{}{}
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func endpoints(nodes ...*node) []cluster.Endpoint {
	var eps []cluster.Endpoint
	for _, n := range nodes {
		eps = append(eps, cluster.Endpoint{Address: n.addr})
	}
	return eps
}

func newClient(t *testing.T, cfg cluster.Config) *cluster.Client {
	t.Helper()
	if cfg.Slave.PoolSize == 0 {
		cfg.Slave.PoolSize = 2
	}
	c, err := cluster.New(cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// shares calls "who" n times and counts the answers by master name.
func shares(t *testing.T, c *cluster.Client, n int) map[string]int {
	t.Helper()
	got := map[string]int{}
	for range n {
		out, err := c.Call(callCtx(t), "who", nil)
		require.NoError(t, err)
		got[string(out)]++
	}
	return got
}

func TestSpreadsOverStaticMasters(t *testing.T) {
	a, b, cc := startNode(t, "a", nil), startNode(t, "b", nil), startNode(t, "c", nil)
	c := newClient(t, cluster.Config{Resolver: &cluster.Static{Addresses: []string{a.addr, b.addr, cc.addr}}})
	got := shares(t, c, 300)
	t.Logf("shares: %v", got)
	for _, name := range []string{"a", "b", "c"} {
		assert.InDelta(t, 100, got[name], 2, "round robin gives each master a third")
	}
	assert.Len(t, c.Members(), 3)
}

// A master that dies is left out: calls that had not reached it go to the
// others, idempotent calls see no error at all, and its share moves to
// the others.
func TestFailoverWhenAMasterDies(t *testing.T) {
	a, b, cc := startNode(t, "a", nil), startNode(t, "b", nil), startNode(t, "c", nil)
	c := newClient(t, cluster.Config{
		Resolver:   &cluster.Static{Addresses: []string{a.addr, b.addr, cc.addr}},
		Idempotent: []string{"who"},
	})
	_ = shares(t, c, 30) // every master has warm connections
	require.NoError(t, b.m.Close())
	got := shares(t, c, 200)
	t.Logf("shares after b died: %v, members %+v", got, c.Members())
	assert.Zero(t, got["b"])
	assert.InDelta(t, 100, got["a"], 10)
	assert.InDelta(t, 100, got["c"], 10)
	for _, m := range c.Members() {
		if m.Address == b.addr {
			assert.True(t, m.Ejected, "the dead master is ejected")
		}
	}
}

// A call that is not idempotent and was lost mid-call is not sent again:
// its error says it may have run.
func TestNonIdempotentCallIsNotResent(t *testing.T) {
	var started atomic.Int64
	die := func(op *master.IOOperator) error {
		started.Add(1)
		op.NetConn().Close() // the connection dies under the call
		return nil
	}
	a := startNode(t, "a", map[string]master.Handler{"once": die})
	b := startNode(t, "b", map[string]master.Handler{"once": die})
	c := newClient(t, cluster.Config{Resolver: &cluster.Static{Addresses: []string{a.addr, b.addr}}})
	_, err := c.Call(callCtx(t), "once", []byte("x"))
	require.ErrorIs(t, err, slave.ErrConnection)
	assert.Contains(t, err.Error(), "may have run")
	assert.EqualValues(t, 1, started.Load(), "ran once, never re-sent")

	started.Store(0)
	_, err = c.Call(cluster.Idempotent(callCtx(t)), "once", []byte("x"))
	require.Error(t, err)
	assert.EqualValues(t, 2, started.Load(), "an idempotent call tries the other master too")
}

// A method a master registers as idempotent is re-sent after a lost
// connection without the caller saying so, once the client has the
// master's capabilities.
func TestIdempotentFromCapabilities(t *testing.T) {
	var started atomic.Int64
	die := func(op *master.IOOperator) error {
		started.Add(1)
		op.NetConn().Close()
		return nil
	}
	a, b := startNode(t, "a", nil), startNode(t, "b", nil)
	for _, n := range []*node{a, b} {
		require.NoError(t, n.m.Register("safe", master.MethodInfo{Idempotent: true}, die))
		require.NoError(t, n.m.Register("unsafe", master.MethodInfo{}, die))
	}
	c := newClient(t, cluster.Config{Resolver: &cluster.Static{Addresses: []string{a.addr, b.addr}}})
	require.Eventually(t, func() bool {
		started.Store(0)
		_, err := c.Call(callCtx(t), "safe", nil)
		return errors.Is(err, slave.ErrConnection) && started.Load() == 2
	}, testserve.HangGuard, 10*time.Millisecond, "a call the masters declare idempotent is tried on both")
	started.Store(0)
	_, err := c.Call(callCtx(t), "unsafe", nil)
	require.ErrorIs(t, err, slave.ErrConnection)
	assert.Contains(t, err.Error(), "may have run")
	assert.EqualValues(t, 1, started.Load(), "another method of the same masters is not")
}

// A draining master (Shutdown) sends its calls elsewhere without an error.
func TestDrainingMasterLosesNoCalls(t *testing.T) {
	a, b := startNode(t, "a", nil), startNode(t, "b", nil)
	c := newClient(t, cluster.Config{Resolver: &cluster.Static{Addresses: []string{a.addr, b.addr}}})
	_ = shares(t, c, 20)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(t, a.m.Shutdown(ctx))
	got := shares(t, c, 50)
	assert.Equal(t, 50, got["b"], "every call went to the master still serving")
}

// A method only some masters have goes only to them (a rolling deploy),
// also while the client has not yet learnt what each serves: the old
// master's capabilities answer slowly here, so every other call meets its
// "unknown method" first, and is tried on the other master, outside the
// retry budget.
func TestMethodsRoutedToMastersThatHaveThem(t *testing.T) {
	slowCaps := func(next master.Handler) master.Handler {
		return func(op *master.IOOperator) error {
			if op.Method() == frame.CapabilitiesName {
				time.Sleep(300 * time.Millisecond)
			}
			return next(op)
		}
	}
	am := master.New(master.Config{Middleware: []master.Middleware{slowCaps}})
	require.NoError(t, am.Register("who", master.MethodInfo{}, func(op *master.IOOperator) error {
		return op.WriteIOFromBuffer([]byte("a"))
	}))
	addr, _ := testserve.Start(t, am, "127.0.0.1:0")
	a := &node{name: "a", m: am, addr: addr.String()}
	b := startNode(t, "b", map[string]master.Handler{"new": func(op *master.IOOperator) error {
		return op.WriteIOFromBuffer([]byte("b"))
	}})
	c := newClient(t, cluster.Config{Resolver: &cluster.Static{Addresses: []string{a.addr, b.addr}}})
	for range 20 {
		out, err := c.Call(callCtx(t), "new", nil)
		require.NoError(t, err, "an unknown method is tried on the other master")
		require.Equal(t, "b", string(out))
	}
}

// The resolver's changes: a master added gets calls, one removed gets no
// more.
func TestResolverChanges(t *testing.T) {
	a, b := startNode(t, "a", nil), startNode(t, "b", nil)
	r := newPushResolver()
	c := newClient(t, cluster.Config{Resolver: r})
	r.push(endpoints(a))
	assert.Equal(t, map[string]int{"a": 20}, shares(t, c, 20))
	r.push(endpoints(a, b))
	got := shares(t, c, 20)
	assert.Equal(t, 10, got["b"], "the master added takes its share at once")
	r.push(endpoints(b))
	assert.Equal(t, map[string]int{"b": 20}, shares(t, c, 20))
	r.push(nil)
	_, err := c.Call(callCtx(t), "who", nil)
	require.ErrorIs(t, err, cluster.ErrNoMasters)
	require.ErrorIs(t, err, slave.ErrUnavailable)
}

// With every master gone, the retry budget keeps a dying cluster from
// being hammered: retries stop once half the tokens are spent.
func TestRetryBudget(t *testing.T) {
	var addrs []string
	for range 3 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		addrs = append(addrs, ln.Addr().String())
		require.NoError(t, ln.Close()) // nothing listens there
	}
	c := newClient(t, cluster.Config{Resolver: &cluster.Static{Addresses: addrs}, EjectBackoff: time.Hour, Slave: slave.Config{FailFast: true}})
	for range 20 {
		_, err := c.Call(callCtx(t), "who", nil)
		require.ErrorIs(t, err, slave.ErrUnavailable)
	}
	var attempts int64
	for _, m := range c.Members() {
		attempts += m.Calls
	}
	t.Logf("20 calls, %d attempts", attempts)
	// The first call tries all three for free (none was ejected yet);
	// then every master is ejected, and retries spend the budget: 5
	// (half of 10 tokens), over the next three calls, then one attempt
	// per call.
	assert.EqualValues(t, 3+3+3+2+16, attempts)
}

type Greeting struct {
	Text string `msgpack:"text"`
}

func TestTypedCallsThroughTheClient(t *testing.T) {
	var nodes []*node
	for _, name := range []string{"a", "b"} {
		n := startNode(t, name, nil)
		require.NoError(t, typed.Register(n.m, "greet", codec.Msgpack, func(_ context.Context, who string) (Greeting, error) {
			return Greeting{Text: "hello " + who + " from " + name}, nil
		}))
		nodes = append(nodes, n)
	}
	c := newClient(t, cluster.Config{Resolver: &cluster.Static{Addresses: []string{nodes[0].addr, nodes[1].addr}}})
	seen := map[string]bool{}
	for range 4 {
		g, err := typed.Call[string, Greeting](callCtx(t), c, "greet", "ada")
		require.NoError(t, err)
		seen[g.Text] = true
	}
	assert.Len(t, seen, 2, "typed calls spread too")
}

// Many callers while a master dies and another joins: every call gets its
// own correct answer or an error; idempotent ones never fail.
func TestConcurrentChurn(t *testing.T) {
	a, b, cc := startNode(t, "a", nil), startNode(t, "b", nil), startNode(t, "c", nil)
	r := newPushResolver()
	c := newClient(t, cluster.Config{Resolver: r, Idempotent: []string{"who"}})
	r.push(endpoints(a, b))
	var wg sync.WaitGroup
	var calls, fails atomic.Int64
	stop := make(chan struct{})
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				out, err := c.Call(callCtx(t), "who", nil)
				calls.Add(1)
				if err != nil {
					fails.Add(1)
					t.Errorf("idempotent call failed: %v", err)
					return
				}
				if s := string(out); s != "a" && s != "b" && s != "c" {
					t.Errorf("answer %q", s)
				}
			}
		}()
	}
	time.Sleep(50 * time.Millisecond)
	require.NoError(t, a.m.Close())
	time.Sleep(50 * time.Millisecond)
	r.push(endpoints(a, b, cc))
	time.Sleep(50 * time.Millisecond)
	close(stop)
	wg.Wait()
	t.Logf("%d calls, %d failed; members %s", calls.Load(), fails.Load(), fmt.Sprint(c.Members()))
	assert.Positive(t, cc.ran.Load(), "the master that joined took calls")
}

func TestFromJSON(t *testing.T) {
	a, b := startNode(t, "a", nil), startNode(t, "b", nil)
	c, err := cluster.FromJSON(context.Background(), []byte(`{
		"resolver": {"module": "static", "addresses": ["`+a.addr+`", "`+b.addr+`"]},
		"balancer": {"module": "consistent_hash", "replicas": 50},
		"slave": {"pool_size": 2},
		"idempotent": ["who"],
		"eject_backoff": "200ms"
	}`))
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	first, err := c.Call(cluster.WithKey(callCtx(t), "user-7"), "who", nil)
	require.NoError(t, err)
	for range 10 {
		out, err := c.Call(cluster.WithKey(callCtx(t), "user-7"), "who", nil)
		require.NoError(t, err)
		require.Equal(t, string(first), string(out), "one key, one master")
	}
	for name, doc := range map[string]string{
		"no resolver":    `{}`,
		"bad resolver":   `{"resolver": {"module": "static"}}`,
		"slave address":  `{"resolver": {"module": "static", "addresses": ["127.0.0.1:1"]}, "slave": {"address": "x:1"}}`,
		"unknown field":  `{"resolver": {"module": "static", "addresses": ["127.0.0.1:1"]}, "nope": 1}`,
		"bad balancer":   `{"resolver": {"module": "static", "addresses": ["127.0.0.1:1"]}, "balancer": {"module": "random"}}`,
		"bad slave pool": `{"resolver": {"module": "static", "addresses": ["127.0.0.1:1"]}, "slave": {"pool": {"module": "nope"}}}`,
	} {
		_, err := cluster.FromJSON(context.Background(), []byte(doc))
		require.Error(t, err, name)
		assert.Equal(t, 1, strings.Count(err.Error(), "fastrpc:"), "%s: %v", name, err)
	}
}

// refreshingResolver is a Static that counts Refresh calls.
type refreshingResolver struct {
	cluster.Static
	refreshes atomic.Int64
}

func (r *refreshingResolver) Refresh() { r.refreshes.Add(1) }

// A master whose connections fail makes the client ask the resolver to
// look again: the masters may have moved.
func TestEjectionAsksTheResolverToLookAgain(t *testing.T) {
	a, b := startNode(t, "a", nil), startNode(t, "b", nil)
	r := &refreshingResolver{Static: cluster.Static{Addresses: []string{a.addr, b.addr}}}
	c := newClient(t, cluster.Config{Resolver: r})
	_ = shares(t, c, 10)
	require.Zero(t, r.refreshes.Load(), "healthy masters cause no lookups")
	require.NoError(t, b.m.Close())
	got := shares(t, c, 20)
	assert.Zero(t, got["b"])
	assert.Positive(t, r.refreshes.Load(), "ejecting the dead master asked for a fresh list")
}
