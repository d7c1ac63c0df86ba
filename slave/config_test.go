package slave_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/AmanTrance/FastRpc/master"
	"github.com/AmanTrance/FastRpc/middleware"
	"github.com/AmanTrance/FastRpc/slave"
	"github.com/AmanTrance/FastRpc/transport"
)

func TestFromJSON(t *testing.T) {
	// A master on a unix socket, and a slave configured from JSON with the
	// unix dialer, the puddle pool and the metrics middleware.
	sock := filepath.Join(t.TempDir(), "m.sock")
	ln, err := (&transport.UnixListener{Path: sock}).Listen(context.Background())
	require.NoError(t, err)
	m := master.New(master.Config{})
	require.NoError(t, m.Register("echo", master.Info{}, func(op *master.IOOperator) error {
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
	got, err := s.CallForBuffer("echo", []byte("over unix"))
	require.NoError(t, err)
	require.Equal(t, "over unix", string(got))
	_, err = s.CallForBuffer("echo", make([]byte, 2048))
	require.ErrorIs(t, err, slave.ErrResponseTooLarge, "max_response_size applies")
	require.Equal(t, before+2, callsOf("echo"), "the metrics middleware saw both calls")
	require.NoError(t, s.Close())
	require.NoError(t, s.Close(), "closing twice is fine")
}

func TestFromJSONErrors(t *testing.T) {
	for doc, want := range map[string]string{
		`{"address": "x", "dialer": {"module": "carrier_pigeon"}}`:                         "dialer.tcp",
		`{"address": "x", "dialer": {"module": "tcp", "timeout": "ish"}}`:                  `"timeout"`,
		`{"address": "x", "pool": {"module": "lake"}}`:                                     "pool.mutex",
		`{"address": "x", "middleware": [{"module": "authorize", "allow": {"*": ["a"]}}]}`: "does not implement",
		`{"address": "x", "pool_sise": 3}`:                                                 `"pool_sise"`,
		`{"pool_size": 3}`:                                                                 "Address is required",
	} {
		_, err := slave.FromJSON(context.Background(), []byte(doc))
		require.ErrorContains(t, err, want, doc)
	}
}

func callsOf(method string) uint64 {
	for _, s := range middleware.DefaultCounters.Snapshot() {
		if s.Method == method {
			return s.Calls
		}
	}
	return 0
}
