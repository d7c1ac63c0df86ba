package master_test

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/AmanTrance/FastRpc/master"
	"github.com/AmanTrance/FastRpc/middleware"
	"github.com/AmanTrance/FastRpc/module"
	"github.com/AmanTrance/FastRpc/slave"
)

// testListener is a "listener.test_loopback" module: TCP on a loopback
// port, recording what happens to it.
type testListener struct {
	Port int `json:"port"`

	provisioned, cleaned bool
	addr                 net.Addr
}

// opened receives every test listener that opened.
var opened = make(chan *testListener, 16)

func (*testListener) FastRpcModule() module.Info {
	return module.Info{ID: "listener.test_loopback", New: func() module.Module { return new(testListener) }}
}

func (l *testListener) Provision(context.Context) error { l.provisioned = true; return nil }

func (l *testListener) Validate() error {
	if l.Port < 0 || l.Port > 65535 {
		return errors.New("port: must be 0 to 65535")
	}
	return nil
}

func (l *testListener) Cleanup() error { l.cleaned = true; return nil }

func (l *testListener) Listen(context.Context) (net.Listener, error) {
	ln, err := net.Listen("tcp", loopback(l.Port))
	if err == nil {
		l.addr = ln.Addr()
		opened <- l
	}
	return ln, err
}

func init() { module.Register(&testListener{}) }

func TestFromJSON(t *testing.T) {
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
	register(t, m, map[string]master.HandlerFunc{"echo": echo})
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

func TestFromJSONErrors(t *testing.T) {
	for doc, want := range map[string]string{
		`{"listeners": [{"module": "nope"}]}`:                                       `listener.test_loopback`,
		`{"listeners": [{"module": "test_loopback", "prot": 1}]}`:                   `"prot"`,
		`{"listeners": [{"module": "test_loopback", "port": 99999}]}`:               `port: must be`,
		`{"listeners": [], "middleware": [{"module": "logging", "level": "loud"}]}`: `level "loud"`,
		`{"listeners": [], "max_conections": 3}`:                                    `"max_conections"`,
		`{"listeners": [], "idle_timeout": "forever"}`:                              `"forever"`,
		`{"listeners": [{"port": 1}]}`:                                              `"module" field`,
	} {
		_, err := master.FromJSON(context.Background(), []byte(doc))
		require.ErrorContains(t, err, want, doc)
	}
	m := master.New(master.Config{})
	require.ErrorContains(t, m.Run(context.Background()), "Listeners is empty")
}

func snapshotCalls(method string) uint64 {
	for _, s := range middleware.DefaultCounters.Snapshot() {
		if s.Method == method {
			return s.Calls
		}
	}
	return 0
}
