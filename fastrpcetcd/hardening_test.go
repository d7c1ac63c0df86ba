package fastrpcetcd_test

import (
	"bytes"
	"context"
	"log/slog"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/AmanTrance/FastRpc/cluster"
	"github.com/AmanTrance/FastRpc/fastrpcetcd"
	"github.com/AmanTrance/FastRpc/fastrpcetcd/etcdtest"
	"github.com/AmanTrance/FastRpc/master"
	"github.com/AmanTrance/FastRpc/module"
)

// These tests are the cases an adversarial review of the first version
// found; each failed on it.

func register(t *testing.T, reg *fastrpcetcd.Registry, addr string) func(context.Context) error {
	t.Helper()
	w, err := reg.Register(testCtx(t), master.Registration{Network: "tcp", Address: addr})
	require.NoError(t, err)
	return w
}

// A lease the registry gave up during an outage is restored by etcd when
// it comes back, key and all: withdrawing revokes it too.
func TestWithdrawRevokesALeaseLostInAnOutage(t *testing.T) {
	etcd := etcdtest.Start(t)
	c := client(t, etcd)
	reg := &fastrpcetcd.Registry{Client: c, Service: "orders", TTL: module.Duration(2 * time.Second), Timeout: module.Duration(300 * time.Millisecond)}
	w := register(t, reg, "127.0.0.1:1")
	etcd.Stop()
	time.Sleep(5 * time.Second) // past the TTL: the registry counts the lease lost
	require.NoError(t, etcd.Start())
	// Once the client is back (its reconnection backoff can take seconds
	// after an outage), withdraw at once: before the registry's next try
	// writes the key on a new lease, the key is on the restored old one.
	require.Eventually(t, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		_, err := c.Get(ctx, "any")
		return err == nil
	}, hangGuard, 10*time.Millisecond, "the client reconnects")
	require.NoError(t, w(testCtx(t)))
	require.Zero(t, keyLease(t, c, svc+"127.0.0.1:1"), "withdraw removed the key")
}

// A key deleted while its lease lives is written again.
func TestDeletedKeyIsWrittenAgain(t *testing.T) {
	etcd := etcdtest.Start(t)
	c := client(t, etcd)
	reg := &fastrpcetcd.Registry{Client: c, Service: "orders", TTL: module.Duration(2 * time.Second)}
	w := register(t, reg, "127.0.0.1:1")
	t.Cleanup(func() { _ = w(context.Background()) })
	del(t, c, svc+"127.0.0.1:1")
	require.Eventually(t, func() bool { return keyLease(t, c, svc+"127.0.0.1:1") != 0 }, hangGuard, 20*time.Millisecond,
		"the key of a serving master is written again")
}

// Two listeners announced under one address would share a key, and the
// first withdrawn would delete the other's: the second is refused.
func TestOneAddressTwiceIsRefused(t *testing.T) {
	etcd := etcdtest.Start(t)
	reg := &fastrpcetcd.Registry{Client: client(t, etcd), Service: "orders", Address: "10.0.0.9:1"}
	w := register(t, reg, "127.0.0.1:1")
	_, err := reg.Register(testCtx(t), master.Registration{Network: "tcp", Address: "127.0.0.1:2"})
	require.ErrorContains(t, err, "fastrpc: master.registry.etcd: 10.0.0.9:1 is already announced by this registry")
	require.NoError(t, w(testCtx(t)))
	// Once withdrawn, the address is free again.
	require.NoError(t, register(t, reg, "127.0.0.1:2")(testCtx(t)))
}

// A master with several listeners registers them at once.
func TestConcurrentRegisterAndCleanup(t *testing.T) {
	etcd := etcdtest.Start(t)
	reg := &fastrpcetcd.Registry{Endpoints: []string{etcd.URL()}, Service: "orders"}
	var wg sync.WaitGroup
	for _, a := range []string{"127.0.0.1:1", "127.0.0.1:2", "127.0.0.1:3"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w, err := reg.Register(context.Background(), master.Registration{Network: "tcp", Address: a})
			if err == nil && a == "127.0.0.1:1" {
				err = w(context.Background())
			}
			require.NoError(t, err)
		}()
	}
	wg.Wait()
	c := client(t, etcd)
	require.NotZero(t, keyLease(t, c, svc+"127.0.0.1:2"))
	// Cleanup withdraws what is still announced, and returns.
	require.NoError(t, reg.Cleanup())
	for _, a := range []string{"127.0.0.1:1", "127.0.0.1:2", "127.0.0.1:3"} {
		require.Zero(t, keyLease(t, c, svc+a), "%s withdrawn", a)
	}
	require.Zero(t, keepers(), "Cleanup stopped every keeper")
}

// Register with a context that ended announces nothing.
func TestRegisterWithAnEndedContext(t *testing.T) {
	etcd := etcdtest.Start(t)
	c := client(t, etcd)
	reg := &fastrpcetcd.Registry{Client: c, Service: "orders"}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := reg.Register(ctx, master.Registration{Network: "tcp", Address: "127.0.0.1:1"})
	require.ErrorIs(t, err, context.Canceled)
	require.ErrorContains(t, err, "the master was not announced")
	time.Sleep(300 * time.Millisecond)
	require.Zero(t, keyLease(t, c, svc+"127.0.0.1:1"))
}

// Two withdrawals at once both return once the key is gone.
func TestConcurrentWithdrawals(t *testing.T) {
	etcd := etcdtest.Start(t)
	c := client(t, etcd)
	reg := &fastrpcetcd.Registry{Client: c, Service: "orders"}
	for range 10 {
		w := register(t, reg, "127.0.0.1:1")
		var wg sync.WaitGroup
		for range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				require.NoError(t, w(testCtx(t)))
				require.Zero(t, keyLease(t, c, svc+"127.0.0.1:1"), "a withdrawal returned before the key was gone")
			}()
		}
		wg.Wait()
	}
}

// A registry whose shared client is closed under it stops, saying so.
func TestClosedClientStopsTheKeeper(t *testing.T) {
	etcd := etcdtest.Start(t)
	c, err := etcd.NewClient()
	require.NoError(t, err)
	var logs syncBuffer
	reg := &fastrpcetcd.Registry{Client: c, Service: "orders", TTL: module.Duration(2 * time.Second), Logger: slog.New(slog.NewTextHandler(&logs, nil))}
	w := register(t, reg, "127.0.0.1:1")
	require.NoError(t, c.Close())
	if !assert.Eventually(t, func() bool { return keepers() == 0 }, hangGuard, 20*time.Millisecond, "the keeper stops") {
		t.Fatalf("keepers: %s", strings.Join(keeperStacks(), "\n\n"))
	}
	require.Contains(t, logs.String(), "the etcd client of the registry was closed")
	done := make(chan error, 1)
	go func() { done <- w(testCtx(t)) }()
	select {
	case <-done: // it cannot revoke on a closed client; the lease expires
	case <-time.After(hangGuard):
		t.Fatal("withdraw hung on a closed client")
	}
}

// A resolver whose client is closed under it returns an error instead of
// retrying forever, and Cleanup during a Watch is safe.
func TestResolverReturnsWhenItsClientCloses(t *testing.T) {
	etcd := etcdtest.Start(t)
	r := &fastrpcetcd.Resolver{Endpoints: []string{etcd.URL()}, Service: "orders"}
	require.NoError(t, r.Provision(context.Background()))
	done := make(chan error, 1)
	listed := make(chan struct{}, 1)
	go func() {
		done <- r.Watch(testCtx(t), func([]cluster.Endpoint) {
			select {
			case listed <- struct{}{}:
			default:
			}
		})
	}()
	<-listed
	require.NoError(t, r.Cleanup())
	select {
	case err := <-done:
		require.ErrorContains(t, err, "fastrpc: resolver.etcd: the etcd client was closed")
	case <-time.After(hangGuard):
		t.Fatal("Watch did not return after its client closed")
	}
}

// Records no slave could dial are left out.
func TestResolverLeavesOutUndialableRecords(t *testing.T) {
	etcd := etcdtest.Start(t)
	c := client(t, etcd)
	for k, v := range map[string]string{
		"a": `{"address": ":1"}`, "b": `{"address": "0.0.0.0:2"}`, "c": `{"address": "h:"}`, "d": `null`,
		"10.0.0.1:5": `{"weight": 9223372036854775807}`, "e": `{"address": 7}`,
	} {
		put(t, c, svc+k, v)
	}
	put(t, c, svc+"10.0.0.2:1", `{}`)
	w := startWatch(t, &fastrpcetcd.Resolver{Client: c, Service: "orders", Logger: slog.New(slog.DiscardHandler)})
	w.waitAddrs(t, "10.0.0.2:1")
	time.Sleep(200 * time.Millisecond)
	require.Equal(t, []string{"10.0.0.2:1"}, w.addrs())
}

// keepers counts the goroutines keeping announcements alive.
func keepers() int {
	return len(keeperStacks())
}

func keeperStacks() []string {
	buf := make([]byte, 4<<20)
	var out []string
	for _, g := range strings.Split(string(buf[:runtime.Stack(buf, true)]), "\n\n") {
		if strings.Contains(g, "fastrpcetcd.(*announcement).keep(") {
			out = append(out, g)
		}
	}
	return out
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
