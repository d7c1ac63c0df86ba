package slave_test

import (
	"context"
	"net"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/AmanTrance/FastRpc/internal/testserve"
	"github.com/AmanTrance/FastRpc/master"
	"github.com/AmanTrance/FastRpc/middleware"
	"github.com/AmanTrance/FastRpc/module"
	"github.com/AmanTrance/FastRpc/poolimpl"
	"github.com/AmanTrance/FastRpc/slave"
	"github.com/AmanTrance/FastRpc/transport"
)

// cleanups counts the Cleanup calls of this file's test modules, by tag.
var cleanups testserve.Tally

// A third party's modules, one per namespace a slave loads from, each
// "<namespace>.test_counting" with a Cleanup that counts.
type (
	tallyDialer struct {
		Tag string `json:"tag"`
		net.Dialer
	}
	tallyPool struct {
		Tag string `json:"tag"`
	}
	tallyMiddleware struct {
		Tag string `json:"tag"`
	}
)

func (*tallyDialer) FastRpcModule() module.ModuleInfo {
	return module.ModuleInfo{ID: module.NamespaceDialer + ".test_counting", New: func() module.Module { return new(tallyDialer) }}
}

func (*tallyPool) FastRpcModule() module.ModuleInfo {
	return module.ModuleInfo{ID: module.NamespacePool + ".test_counting", New: func() module.Module { return new(tallyPool) }}
}

func (*tallyMiddleware) FastRpcModule() module.ModuleInfo {
	return module.ModuleInfo{ID: module.NamespaceSlaveMiddleware + ".test_counting", New: func() module.Module { return new(tallyMiddleware) }}
}

func (d *tallyDialer) Cleanup() error     { cleanups.Add(d.Tag); return nil }
func (p *tallyPool) Cleanup() error       { cleanups.Add(p.Tag); return nil }
func (m *tallyMiddleware) Cleanup() error { cleanups.Add(m.Tag); return nil }

func (*tallyPool) NewPool(dial poolimpl.DialFunc, size int) (poolimpl.Pool, error) {
	return poolimpl.Mutex(poolimpl.Options{})(dial, size)
}

func (*tallyMiddleware) WrapCall(next slave.Invoker) slave.Invoker { return next }

func init() {
	module.Register(new(tallyDialer))
	module.Register(new(tallyPool))
	module.Register(new(tallyMiddleware))
}

// tallyConfig is a slave config with the counting modules, tagged tag.
func tallyConfig(address, tag string) []byte {
	return []byte(`{
		"address": "` + address + `",
		"dialer": {"module": "test_counting", "tag": "` + tag + `.dialer"},
		"pool": {"module": "test_counting", "tag": "` + tag + `.pool"},
		"middleware": [{"module": "test_counting", "tag": "` + tag + `.mw"}, {"module": "metrics"}]
	}`)
}

func TestFromJSONConfig(t *testing.T) {
	// A master on a unix socket, and a slave configured from JSON with the
	// unix dialer, the puddle pool and the metrics middleware.
	sock := filepath.Join(t.TempDir(), "m.sock")
	ln, err := (&transport.UnixListener{Path: sock}).Listen(context.Background())
	require.NoError(t, err)
	m := master.New(master.Config{})
	require.NoError(t, m.Register("echo", master.MethodInfo{}, func(op *master.IOOperator) error {
		b, err := op.ReadAll()
		if err != nil {
			return err
		}
		return op.WriteIOFromBuffer(b)
	}))
	go func() { _ = m.Serve(context.Background(), ln) }()
	t.Cleanup(func() { _ = m.Close() })

	before := callsOf("echo")
	s, err := slave.FromJSON(context.Background(), []byte(`{
		"address": "`+sock+`",
		"dialer": {"module": "unix", "timeout": "2s"},
		"pool": {"module": "puddle", "min_idle": 1},
		"pool_size": 2,
		"max_response_size": 1024,
		"middleware": [{"module": "metrics"}]
	}`))
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	got, err := s.Call(context.Background(), "echo", []byte("over unix"))
	require.NoError(t, err)
	require.Equal(t, "over unix", string(got))
	_, err = s.Call(context.Background(), "echo", make([]byte, 2048))
	require.ErrorIs(t, err, slave.ErrResponseTooLarge, "max_response_size applies")
	require.Equal(t, before+2, callsOf("echo"), "the metrics middleware saw both calls")
	require.NoError(t, s.Close())
	require.NoError(t, s.Close(), "closing twice is fine")
}

func TestFromJSONConfigErrors(t *testing.T) {
	for doc, want := range map[string]string{
		`{"address": "x", "dialer": {"module": "carrier_pigeon"}}`:        `fastrpc: slave config: dialer: module "dialer.carrier_pigeon" not registered; known in namespace "dialer": dialer.tcp`,
		`{"address": "x", "dialer": {"module": "tcp", "timeout": "ish"}}`: `fastrpc: slave config: dialer: module "dialer.tcp": config field "timeout"`,
		`{"address": "x", "pool": {"module": "lake"}}`:                    `fastrpc: slave config: pool: module "pool.lake" not registered; known in namespace "pool": pool.mutex`,
		`{"address": "x", "pool": {"min_idel": 1}}`:                       `fastrpc: slave config: pool: module "pool.mutex": config field "min_idel"`,
		`{"address": "x", "middleware": [{"module": "logging"}, {"module": "nope"}]}`: `fastrpc: slave config: middleware[1]: module "slave.middleware.nope" not registered; ` +
			`known in namespace "slave.middleware": slave.middleware.logging, slave.middleware.metrics`,
		`{"address": "x", "pool_sise": 3}`: `fastrpc: slave config: json: unknown field "pool_sise"`,
		`{"pool_size": 3}`:                 "Address is required",
	} {
		_, err := slave.FromJSON(context.Background(), []byte(doc))
		require.ErrorContains(t, err, want, doc)
		require.NotContains(t, err.Error()[len("fastrpc: "):], "fastrpc: ", "one prefix: %s", doc)
	}
}

// A master's middleware in a slave's config is not found: the slave loads
// from its own namespace, and the error says which, and where the module
// of that name is.
func TestFromJSONConfigMasterMiddleware(t *testing.T) {
	_, err := slave.FromJSON(context.Background(), []byte(`{"address": "x", "middleware": [{"module": "authorize", "allow": {"*": ["a"]}}]}`))
	require.ErrorIs(t, err, module.ErrNotFound)
	require.ErrorContains(t, err, `fastrpc: slave config: middleware[0]: module "slave.middleware.authorize" not registered; `+
		`known in namespace "slave.middleware": slave.middleware.logging, slave.middleware.metrics`)
	require.ErrorContains(t, err, "(in other namespaces: master.middleware.authorize)")
}

// A config that fails cleans up the modules loaded before the failure:
// its dialer, pool and middleware.
func TestFromJSONConfigFailureCleansUp(t *testing.T) {
	cleanups.Reset()
	doc := `{
		"address": "x",
		"dialer": {"module": "test_counting", "tag": "fail.dialer"},
		"pool": {"module": "test_counting", "tag": "fail.pool"},
		"middleware": [{"module": "test_counting", "tag": "fail.mw"}, {"module": "authorize"}]
	}`
	_, err := slave.FromJSON(context.Background(), []byte(doc))
	require.ErrorContains(t, err, "middleware[1]")
	for _, tag := range []string{"fail.dialer", "fail.pool", "fail.mw"} {
		require.Equal(t, 1, cleanups.Count(tag), tag)
	}

	// Every module loads, and then the slave cannot be made.
	_, err = slave.FromJSON(context.Background(), tallyConfig("", "new"))
	require.ErrorContains(t, err, "fastrpc: slave config: ")
	require.ErrorContains(t, err, "Address is required")
	for _, tag := range []string{"new.dialer", "new.pool", "new.mw"} {
		require.Equal(t, 1, cleanups.Count(tag), tag)
	}
}

// Closing a slave built by FromJSON runs the Cleanup of its dialer, pool
// and middleware modules, once.
func TestFromJSONConfigCloseCleansUp(t *testing.T) {
	cleanups.Reset()
	sock := filepath.Join(t.TempDir(), "m.sock")
	s, err := slave.FromJSON(context.Background(), tallyConfig(sock, "close"))
	require.NoError(t, err)
	for _, tag := range []string{"close.dialer", "close.pool", "close.mw"} {
		require.Zero(t, cleanups.Count(tag), "%s: nothing is cleaned up while the slave is open", tag)
	}
	require.NoError(t, s.Close())
	require.NoError(t, s.Close())
	for _, tag := range []string{"close.dialer", "close.pool", "close.mw"} {
		require.Equal(t, 1, cleanups.Count(tag), "%s: cleaned up once", tag)
	}
}

func callsOf(method string) uint64 {
	for _, s := range middleware.NamedCounters("").Snapshot() {
		if s.Method == method {
			return s.Calls
		}
	}
	return 0
}
