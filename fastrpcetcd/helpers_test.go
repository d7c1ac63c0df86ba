package fastrpcetcd_test

import (
	"context"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/AmanTrance/FastRpc/cluster"
	"github.com/AmanTrance/FastRpc/fastrpcetcd/etcdtest"
	"github.com/AmanTrance/FastRpc/master"
	"github.com/AmanTrance/FastRpc/slave"
)

// hangGuard bounds every wait of these tests; it is far above what each
// takes, so it only ends a test that hangs.
const hangGuard = 30 * time.Second

func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func client(t testing.TB, s *etcdtest.Server) *clientv3.Client {
	t.Helper()
	c, err := s.NewClient()
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// echoMaster starts a master answering "echo" with name|request, with
// cfg's registry, on a loopback port, and returns it and its address.
func echoMaster(t testing.TB, name string, cfg master.Config) (*master.Master, string) {
	t.Helper()
	m := master.New(cfg)
	require.NoError(t, m.Register("echo", master.MethodInfo{Idempotent: true}, func(op *master.IOOperator) error {
		b, err := op.ReadAll()
		if err != nil {
			return err
		}
		return op.WriteIOFromBuffer(append([]byte(name+"|"), b...))
	}))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	go func() { _ = m.Serve(context.Background(), ln) }()
	t.Cleanup(func() { _ = m.Close() })
	return m, ln.Addr().String()
}

// watch runs r.Watch until the test ends and keeps the last list.
type watch struct {
	mu      sync.Mutex
	last    []cluster.Endpoint
	updates int
	done    chan error
	cancel  context.CancelFunc
}

func startWatch(t testing.TB, r cluster.Resolver) *watch {
	ctx, cancel := context.WithCancel(context.Background())
	w := &watch{done: make(chan error, 1), cancel: cancel}
	go func() {
		w.done <- r.Watch(ctx, func(eps []cluster.Endpoint) {
			w.mu.Lock()
			w.last, w.updates = eps, w.updates+1
			w.mu.Unlock()
		})
	}()
	t.Cleanup(func() { w.stop(t) })
	return w
}

// stop ends the watch and checks that it returned its context's error.
func (w *watch) stop(t testing.TB) {
	w.cancel()
	select {
	case err := <-w.done:
		require.ErrorIs(t, err, context.Canceled)
		w.done <- err // stop may run again at cleanup
	case <-time.After(hangGuard):
		t.Fatal("Watch did not return after its context ended")
	}
}

func (w *watch) addrs() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []string
	for _, ep := range w.last {
		out = append(out, ep.Address)
	}
	return out
}

func (w *watch) endpoints() []cluster.Endpoint {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.last)
}

// waitAddrs waits until the watch's list is want.
func (w *watch) waitAddrs(t testing.TB, want ...string) {
	t.Helper()
	slices.Sort(want)
	require.Eventually(t, func() bool { return slices.Equal(w.addrs(), want) }, hangGuard, 5*time.Millisecond,
		"want %v", want)
}

// keyLease returns the lease of key, 0 if key is absent.
func keyLease(t testing.TB, c *clientv3.Client, key string) clientv3.LeaseID {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
	defer cancel()
	resp, err := c.Get(ctx, key)
	require.NoError(t, err)
	if len(resp.Kvs) == 0 {
		return 0
	}
	return clientv3.LeaseID(resp.Kvs[0].Lease)
}

// requireServes checks that a slave gets answers from the echo master at
// addr.
func requireServes(t testing.TB, addr string) {
	t.Helper()
	s, err := slave.Dial(testCtx(t), slave.Config{Address: addr, PoolSize: 1})
	require.NoError(t, err)
	defer func() { _ = s.Close() }()
	got, err := s.Call(testCtx(t), "echo", []byte("honest"))
	require.NoError(t, err)
	require.True(t, strings.HasSuffix(string(got), "|honest"), "got %q", got)
}
