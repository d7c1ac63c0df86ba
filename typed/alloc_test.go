package typed_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/AmanTrance/FastRpc/codec"
	"github.com/AmanTrance/FastRpc/master"
	"github.com/AmanTrance/FastRpc/typed"
)

// TestAllocations pins the typed layer's cost: over a loopback round trip
// (master and slave in this process), a Small costs what decoding it
// needs (its one string, once on each side) and the handler's own context
// (one small allocation on the master: each call's context is its own, so
// a handler may keep it). The raw path costs nothing.
func TestAllocations(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	addr := newMaster(t, func(m *master.Master) {
		for _, c := range []codec.Codec{codec.Msgpack, codec.CBOR} {
			require.NoError(t, typed.Register(m, c.Name(), c, echo[Small]))
		}
		require.NoError(t, m.Register("raw", master.MethodInfo{}, rawEcho))
	})
	s := dial(t, addr)
	ctx := context.Background()
	req := smallValue()
	for _, c := range []codec.Codec{codec.Msgpack, codec.CBOR} {
		_, err := typed.Call[Small, Small](ctx, s, c.Name(), req) // fills the caches
		require.NoError(t, err)
		n := testing.AllocsPerRun(200, func() {
			got, err := typed.Call[Small, Small](ctx, s, c.Name(), req)
			if err != nil || got != req {
				t.Fatalf("%v %v", got, err)
			}
		})
		require.LessOrEqual(t, n, 3.0, "%s: typed.Call", c.Name())
		stub := typed.NewMethod[Small, Small](s, c.Name(), c)
		n = testing.AllocsPerRun(200, func() { _, _ = stub.Call(ctx, req) })
		require.LessOrEqual(t, n, 3.0, "%s: Method.Call", c.Name())
	}
	payload, err := codec.Msgpack.Append(nil, req)
	require.NoError(t, err)
	dst := make([]byte, 0, 1024)
	n := testing.AllocsPerRun(200, func() { dst, _ = s.CallAppend(ctx, "raw", payload, dst[:0]) })
	require.Zero(t, n, "raw path")
}
