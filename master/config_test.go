package master_test

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/AmanTrance/FastRpc/internal/testserve"
	"github.com/AmanTrance/FastRpc/master"
	"github.com/AmanTrance/FastRpc/middleware"
	"github.com/AmanTrance/FastRpc/module"
	"github.com/AmanTrance/FastRpc/slave"
)

// cleanups counts the Cleanup calls of this file's test modules, by tag.
var cleanups testserve.Tally

// testListener is a "listener.test_loopback" module: TCP on a loopback
// port, recording what happens to it.
type testListener struct {
	Port int    `json:"port"`
	Tag  string `json:"tag"`

	provisioned, cleaned bool
	addr                 net.Addr
}

// opened receives every test listener that opened.
var opened = make(chan *testListener, 16)

func (*testListener) FastRpcModule() module.ModuleInfo {
	return module.ModuleInfo{ID: module.NamespaceListener + ".test_loopback", New: func() module.Module { return new(testListener) }}
}

func (l *testListener) Provision(context.Context) error { l.provisioned = true; return nil }

func (l *testListener) Validate() error {
	if l.Port < 0 || l.Port > 65535 {
		return errors.New("port: must be 0 to 65535")
	}
	return nil
}

func (l *testListener) Cleanup() error { l.cleaned = true; cleanups.Add(l.Tag); return nil }

func (l *testListener) Listen(context.Context) (net.Listener, error) {
	ln, err := net.Listen("tcp", loopback(l.Port))
	if err == nil {
		l.addr = ln.Addr()
		opened <- l
	}
	return ln, err
}

// countingMiddleware is a "master.middleware.test_counting" module, a
// third party's, whose Cleanup counts.
type countingMiddleware struct {
	Tag string `json:"tag"`
}

func (*countingMiddleware) FastRpcModule() module.ModuleInfo {
	return module.ModuleInfo{ID: module.NamespaceMasterMiddleware + ".test_counting", New: func() module.Module { return new(countingMiddleware) }}
}

func (*countingMiddleware) WrapHandler(next master.Handler) master.Handler { return next }

func (c *countingMiddleware) Cleanup() error { cleanups.Add(c.Tag); return nil }

func init() {
	module.Register(&testListener{})
	module.Register(&countingMiddleware{})
}

func TestFromJSONConfig(t *testing.T) {
	before := snapshotCalls("echo")
	m, err := master.FromJSON(context.Background(), []byte(`{
		"listeners": [{"module": "test_loopback"}, {"module": "test_loopback", "port": 0}],
		"middleware": [{"module": "metrics"}, {"module": "recover"}, {"module": "logging", "level": "debug"}],
		"max_request_size": 1024,
		"idle_timeout": "1m",
		"header_timeout": "2s",
		"body_timeout": "20s",
		"write_timeout": "20s"
	}`))
	require.NoError(t, err)
	register(t, m, map[string]master.Handler{"echo": echo})
	done := make(chan error, 1)
	ctx, cancel := context.WithCancel(context.Background())
	go func() { done <- m.Run(ctx) }()

	// Both listeners serve, with the configured limit and middleware.
	var listeners []*testListener
	for range 2 {
		var l *testListener
		select {
		case l = <-opened:
		case <-time.After(hangGuard):
			t.Fatal("listener did not open")
		}
		listeners = append(listeners, l)
		s := dialSlave(t, l.addr.String(), slave.Config{PoolSize: 1})
		got, err := s.Call(callCtx(t), "echo", []byte("configured"))
		require.NoError(t, err)
		require.Equal(t, "configured", string(got))
		_, err = s.Call(callCtx(t), "echo", make([]byte, 2048))
		require.Error(t, err, "max_request_size from the config applies")
	}
	require.Equal(t, before+2, snapshotCalls("echo"), "the metrics middleware counted the calls")

	cancel()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(hangGuard):
		t.Fatal("Run did not return after its context was cancelled")
	}
	for _, l := range listeners {
		require.True(t, l.provisioned)
		require.True(t, l.cleaned, "modules are cleaned up when the master stops")
	}
}

func TestFromJSONConfigErrors(t *testing.T) {
	for doc, want := range map[string]string{
		`{"listeners": [{"module": "nope"}]}`:                                          `fastrpc: master config: listeners[0]: module "listener.nope" not registered; known in namespace "listener": listener.tcp, listener.test_loopback`,
		`{"listeners": [], "middleware": [{"module": "logging"}, {"module": "nope"}]}`: `fastrpc: master config: middleware[1]: module "master.middleware.nope" not registered; known in namespace "master.middleware": `,
		`{"listeners": [{"module": "test_loopback", "port": 99999}]}`:                  `fastrpc: master config: listeners[0]: module "listener.test_loopback": invalid config: port: must be`,
		`{"listeners": [{"module": "test_loopback", "prot": 1}]}`:                      `"prot"`,
		`{"listeners": [], "middleware": [{"module": "logging", "level": "loud"}]}`:    `level "loud"`,
		`{"listeners": [], "max_conections": 3}`:                                       `"max_conections"`,
		`{"listeners": [], "idle_timeout": "forever"}`:                                 `"forever"`,
		`{"listeners": [{"port": 1}]}`:                                                 `"module" field`,
	} {
		_, err := master.FromJSON(context.Background(), []byte(doc))
		require.ErrorContains(t, err, want, doc)
		require.NotContains(t, err.Error()[len("fastrpc: "):], "fastrpc: ", "one prefix: %s", doc)
	}
	m := master.New(master.Config{})
	require.ErrorContains(t, m.Run(context.Background()), "Listeners is empty")
}

// A config that fails cleans up the modules loaded before the failure.
func TestFromJSONConfigFailureCleansUp(t *testing.T) {
	cleanups.Reset()
	_, err := master.FromJSON(context.Background(), []byte(`{
		"listeners": [{"module": "test_loopback", "tag": "fail.l"}],
		"middleware": [{"module": "test_counting", "tag": "fail.m"}, {"module": "test_counting", "tag": "fail.bad", "extra": 1}]
	}`))
	require.ErrorContains(t, err, `middleware[1]: module "master.middleware.test_counting": config field "extra"`)
	require.Equal(t, 1, cleanups.Count("fail.l"), "the listener loaded before the failure")
	require.Equal(t, 1, cleanups.Count("fail.m"), "the middleware loaded before the failure")
	require.Zero(t, cleanups.Count("fail.bad"), "a module whose config did not decode was never set up")

	_, err = master.FromJSON(context.Background(), []byte(`{
		"listeners": [{"module": "test_loopback", "tag": "fail2.l"}, {"module": "test_loopback", "tag": "fail2.bad", "port": -1}]
	}`))
	require.ErrorContains(t, err, "listeners[1]")
	require.Equal(t, 1, cleanups.Count("fail2.l"))
	require.Equal(t, 1, cleanups.Count("fail2.bad"), "the module that failed Validate is cleaned up too")
}

// Closing or shutting down a master built by FromJSON runs the Cleanup of
// its listener and middleware modules, once.
func TestFromJSONConfigCloseCleansUp(t *testing.T) {
	cleanups.Reset()
	config := func(tag string) []byte {
		return []byte(`{"listeners": [{"module": "test_loopback", "tag": "` + tag + `.l"}],
			"middleware": [{"module": "test_counting", "tag": "` + tag + `.m"}, {"module": "logging"}]}`)
	}
	m, err := master.FromJSON(context.Background(), config("close"))
	require.NoError(t, err)
	require.Zero(t, cleanups.Count("close.l"), "nothing is cleaned up while the master is open")
	require.NoError(t, m.Close())
	require.Equal(t, 1, cleanups.Count("close.l"))
	require.Equal(t, 1, cleanups.Count("close.m"))
	require.NoError(t, m.Close())
	require.Equal(t, 1, cleanups.Count("close.m"), "once")

	m, err = master.FromJSON(context.Background(), config("shutdown"))
	require.NoError(t, err)
	require.NoError(t, m.Shutdown(callCtx(t)))
	require.Equal(t, 1, cleanups.Count("shutdown.l"))
	require.Equal(t, 1, cleanups.Count("shutdown.m"))
	require.NoError(t, m.Close())
	require.Equal(t, 1, cleanups.Count("shutdown.m"), "once")
}

// A slave's middleware in a master's config is not found: the master
// loads from its own namespace, and says which.
func TestFromJSONConfigSlaveMiddleware(t *testing.T) {
	_, err := master.FromJSON(context.Background(), []byte(`{"listeners": [], "middleware": [{"module": "test_slave_only"}]}`))
	require.ErrorIs(t, err, module.ErrNotFound)
	require.ErrorContains(t, err, `middleware[0]: module "master.middleware.test_slave_only" not registered; known in namespace "master.middleware"`)
	require.ErrorContains(t, err, "(in other namespaces: slave.middleware.test_slave_only)")
}

// slaveOnly is a "slave.middleware.test_slave_only" module.
type slaveOnly struct{}

func (slaveOnly) FastRpcModule() module.ModuleInfo {
	return module.ModuleInfo{ID: module.NamespaceSlaveMiddleware + ".test_slave_only", New: func() module.Module { return slaveOnly{} }}
}

func init() { module.Register(slaveOnly{}) }

func snapshotCalls(method string) uint64 {
	for _, s := range middleware.NamedCounters("").Snapshot() {
		if s.Method == method {
			return s.Calls
		}
	}
	return 0
}
