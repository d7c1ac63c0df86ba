package master_test

import (
	"context"
	"errors"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/AmanTrance/FastRpc/master"
	"github.com/AmanTrance/FastRpc/module"
	"github.com/AmanTrance/FastRpc/slave"
)

// fakeRegistry records announcements; its withdraw runs check (if set)
// before recording, while the master must still be serving.
type fakeRegistry struct {
	Tag string `json:"tag"`

	mu        sync.Mutex
	announced []master.Registration
	withdrawn []string
	refuse    error
	check     func(reg master.Registration)
	withdrawC chan string
}

func (*fakeRegistry) FastRpcModule() module.ModuleInfo {
	return module.ModuleInfo{ID: module.NamespaceMasterRegistry + ".test_fake", New: func() module.Module { return &fakeRegistry{withdrawC: make(chan string, 8)} }}
}

func (r *fakeRegistry) Cleanup() error { cleanups.Add(r.Tag); return nil }

func (r *fakeRegistry) Register(_ context.Context, reg master.Registration) (func(context.Context) error, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.refuse != nil {
		return nil, r.refuse
	}
	r.announced = append(r.announced, reg)
	var once sync.Once
	return func(context.Context) error {
		once.Do(func() {
			if r.check != nil {
				r.check(reg)
			}
			r.mu.Lock()
			r.withdrawn = append(r.withdrawn, reg.Address)
			r.mu.Unlock()
			r.withdrawC <- reg.Address
		})
		return nil
	}, nil
}

func (r *fakeRegistry) state() ([]master.Registration, []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]master.Registration(nil), r.announced...), append([]string(nil), r.withdrawn...)
}

func init() { module.Register(&fakeRegistry{}) }

func newFakeRegistry() *fakeRegistry { return &fakeRegistry{withdrawC: make(chan string, 8)} }

// waitWithdrawn waits for r to be withdrawn from addr.
func (r *fakeRegistry) waitWithdrawn(t *testing.T, addr string) {
	t.Helper()
	select {
	case got := <-r.withdrawC:
		require.Equal(t, addr, got)
	case <-time.After(hangGuard):
		t.Fatalf("the master was never withdrawn from %s", addr)
	}
}

func TestRegistryAnnouncesAndShutdownWithdrawsFirst(t *testing.T) {
	reg := newFakeRegistry()
	m := master.New(master.Config{Registry: reg})
	register(t, m, map[string]master.Handler{"echo": echo, "ping": echo})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	done := make(chan error, 1)
	go func() { done <- m.Serve(context.Background(), ln) }()
	t.Cleanup(func() { _ = m.Close() })

	require.Eventually(t, func() bool { a, _ := reg.state(); return len(a) == 1 }, hangGuard, time.Millisecond)
	announced, _ := reg.state()
	require.Equal(t, "tcp", announced[0].Network)
	require.Equal(t, addr, announced[0].Address)
	require.ElementsMatch(t, []string{"echo", "ping"}, announced[0].Methods, "the built-in capabilities are not listed")

	// While it is being withdrawn the master still accepts new slaves.
	var servedDuringWithdraw error
	reg.check = func(master.Registration) {
		cfg := slave.Config{Address: addr, PoolSize: 1}
		ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
		defer cancel()
		s, err := slave.Dial(ctx, cfg)
		if err == nil {
			_, err = s.Call(ctx, "echo", []byte("still here"))
			_ = s.Close()
		}
		servedDuringWithdraw = err
	}
	ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
	defer cancel()
	require.NoError(t, m.Shutdown(ctx))
	reg.waitWithdrawn(t, addr)
	require.NoError(t, servedDuringWithdraw, "a new slave is served while the master is withdrawn")
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(hangGuard):
		t.Fatal("Serve did not return after Shutdown")
	}
	_, withdrawn := reg.state()
	require.Equal(t, []string{addr}, withdrawn, "withdrawn once")
	require.NoError(t, m.Close())
	_, withdrawn = reg.state()
	require.Len(t, withdrawn, 1, "Close after Shutdown does not withdraw again")
}

func TestRegistryWithdrawnOnClose(t *testing.T) {
	reg := newFakeRegistry()
	m := master.New(master.Config{Registry: reg})
	addr, _ := serveOn(t, m, "127.0.0.1:0")
	require.Eventually(t, func() bool { a, _ := reg.state(); return len(a) == 1 }, hangGuard, time.Millisecond)
	require.NoError(t, m.Close())
	reg.waitWithdrawn(t, addr)
}

// brokenListener accepts nothing, and fails once its fail channel closes.
type brokenListener struct {
	net.Listener
	fail chan struct{}
}

func (l brokenListener) Accept() (net.Conn, error) {
	<-l.fail
	return nil, errors.New("listener broke")
}

func TestRegistryWithdrawnWhenListenerFails(t *testing.T) {
	reg := newFakeRegistry()
	m := master.New(master.Config{Registry: reg})
	t.Cleanup(func() { _ = m.Close() })
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ln := brokenListener{Listener: inner, fail: make(chan struct{})}
	done := make(chan error, 1)
	go func() { done <- m.Serve(context.Background(), ln) }()
	require.Eventually(t, func() bool { a, _ := reg.state(); return len(a) == 1 }, hangGuard, time.Millisecond)
	close(ln.fail)
	select {
	case err := <-done:
		require.ErrorContains(t, err, "listener broke")
	case <-time.After(hangGuard):
		t.Fatal("Serve did not return after its listener failed")
	}
	reg.waitWithdrawn(t, inner.Addr().String())
}

func TestRegistryRefusalFailsServe(t *testing.T) {
	reg := newFakeRegistry()
	reg.refuse = errors.New(`listens on all interfaces; set "address"`)
	m := master.New(master.Config{Registry: reg})
	t.Cleanup(func() { _ = m.Close() })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	err = m.Serve(context.Background(), ln)
	require.ErrorContains(t, err, "fastrpc: announce 127.0.0.1:")
	require.ErrorContains(t, err, `set "address"`)
	_, err = net.DialTimeout("tcp", ln.Addr().String(), hangGuard)
	require.Error(t, err, "the listener is closed when Serve cannot announce it")
	require.Empty(t, m.Addrs())
}

func TestRegistryFromJSON(t *testing.T) {
	cleanups.Reset()
	m, err := master.FromJSON(context.Background(), []byte(`{
		"listeners": [{"module": "test_loopback"}],
		"registry": {"module": "test_fake", "tag": "reg"}
	}`))
	require.NoError(t, err)
	register(t, m, map[string]master.Handler{"echo": echo})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	var l *testListener
	select {
	case l = <-opened:
	case <-time.After(hangGuard):
		t.Fatal("listener did not open")
	}
	requireServes(t, l.addr.String())
	cancel()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(hangGuard):
		t.Fatal("Run did not return")
	}
	require.Equal(t, 1, cleanups.Count("reg"), "the registry module is cleaned up when the master stops")

	_, err = master.FromJSON(context.Background(), []byte(`{"registry": {"module": "nope"}}`))
	require.ErrorContains(t, err, "master config: registry:")
}
